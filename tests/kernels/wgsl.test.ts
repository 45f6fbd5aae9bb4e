// The WGSL linker (kernels/gpu/wgsl.ts): include lines expanded once each, nested includes,
// directives hoisted, clear errors. Pure text, no GPU.
import { describe, expect, it } from 'vitest';
import { linkWGSL, loadWGSL } from '../../kernels/gpu/wgsl.ts';
import { chunkAccessors, rowPass } from '../../kernels/rowreduce.ts';

function reader(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
}

/** The lines that are not the linker's begin/end markers. */
const code = (wgsl: string) => wgsl.split('\n').filter((l) => !l.startsWith('// ----'));

describe('linkWGSL', () => {
  it('replaces an include line with the file, and links a file included twice only once', () => {
    const files = { 'lib/a.wgsl': 'fn a() {}' };
    const out = linkWGSL('k.wgsl', '//! include lib/a.wgsl\nfn k() {}\n//! include lib/a.wgsl', reader(files));
    expect(code(out)).toEqual(['fn a() {}', 'fn k() {}']);
  });

  it('expands nested includes, each file once across the whole module', () => {
    const files = {
      'lib/a.wgsl': '//! include lib/c.wgsl\nfn a() {}',
      'lib/b.wgsl': '//! include lib/c.wgsl\nfn b() {}',
      'lib/c.wgsl': 'fn c() {}',
    };
    const out = linkWGSL('k.wgsl', '//! include lib/a.wgsl\n//! include lib/b.wgsl\nfn k() {}', reader(files));
    expect(code(out)).toEqual(['fn c() {}', 'fn a() {}', 'fn b() {}', 'fn k() {}']);
  });

  it('hoists enable/requires directives from any file to the top, once each', () => {
    const files = {
      'lib/sg.wgsl': 'enable subgroups;\nfn s() {}',
      'lib/sg2.wgsl': 'enable subgroups;\nrequires unrestricted_pointer_parameters;\nfn t() {}',
    };
    const out = linkWGSL('k.wgsl', 'fn k() {}\n//! include lib/sg.wgsl\n//! include lib/sg2.wgsl', reader(files));
    expect(code(out)).toEqual([
      'enable subgroups;',
      'requires unrestricted_pointer_parameters;',
      'fn k() {}',
      'fn s() {}',
      'fn t() {}',
    ]);
  });

  it('reads a swapped file in place of an include', () => {
    const files = { 'lib/r.wgsl': 'fn portable() {}', 'lib/r-subgroup.wgsl': 'fn fast() {}' };
    const out = linkWGSL('k.wgsl', '//! include lib/r.wgsl', reader(files), {
      swap: { 'lib/r.wgsl': 'lib/r-subgroup.wgsl' },
    });
    expect(code(out)).toEqual(['fn fast() {}']);
  });

  it('takes a generated include from the launcher instead of a file', () => {
    const out = linkWGSL('k.wgsl', 'fn main() {}\n//! include gen/acc.wgsl', reader({}), {
      generated: { 'gen/acc.wgsl': 'fn load_chunk_inp() {}' },
    });
    expect(code(out)).toEqual(['fn main() {}', 'fn load_chunk_inp() {}']);
  });

  it('names the including file when an included file is missing', () => {
    const files = { 'lib/a.wgsl': '//! include lib/missing.wgsl' };
    expect(() => linkWGSL('k.wgsl', '//! include lib/a.wgsl', reader(files))).toThrow(
      /lib\/a\.wgsl includes lib\/missing\.wgsl/,
    );
  });

  it('rejects an include cycle', () => {
    const files = { 'lib/a.wgsl': '//! include lib/b.wgsl', 'lib/b.wgsl': '//! include lib/a.wgsl' };
    expect(() => linkWGSL('k.wgsl', '//! include lib/a.wgsl', reader(files))).toThrow(/cycle/);
  });

  it('leaves ordinary comments that mention include alone', () => {
    const src = '// this file would include lib/a.wgsl\nfn k() {}';
    expect(linkWGSL('k.wgsl', src, reader({}))).toBe(src);
  });
});

describe('loadWGSL', () => {
  it('reads includes relative to the calling module (kernels/)', () => {
    const generated = { 'gen/row-pass.wgsl': rowPass(['scalar', 'vec4']) };
    const wgsl = loadWGSL(new URL('../../kernels/x.ts', import.meta.url).href, 'softmax.wgsl', { generated });
    expect(wgsl).not.toMatch(/^\s*\/\/!\s*include/m);
    expect(wgsl).toContain('fn softmax_forward');
  });

  it('throws naming the file for a missing kernel file', () => {
    expect(() => loadWGSL(import.meta.url, 'nope.wgsl')).toThrow(/nope\.wgsl/);
  });
});

describe('chunkAccessors', () => {
  it('writes one bounded accessor per buffer, row buffers offset by base', () => {
    const text = chunkAccessors([{ name: 'w', shape: 'vector' }], [{ name: 'out', shape: 'row' }]);
    expect(text).toContain('fn load_chunk_w(c: u32) -> vec4f {');
    expect(text).toContain('x[i] = w[4u * c + i];');
    expect(text).toContain('fn store_chunk_out(base: u32, c: u32, y: vec4f) {');
    expect(text).toContain('out[base + 4u * c + i] = y[i];');
    expect(text.match(/if \(4u \* c \+ i < p\.C\)/g)).toHaveLength(2);
  });
});

describe('rowPass', () => {
  it('instantiates lib/row-pass.wgsl once per variant, each calling its own loader', () => {
    const text = rowPass(['scalar', 'vec4']);
    expect(text.match(/^fn row_pass_\w+/gm)).toEqual(['fn row_pass_scalar', 'fn row_pass_vec4']);
    expect(text.match(/load_row_chunk_scalar\(/g)).toHaveLength(2);
    expect(text.match(/load_row_chunk_vec4\(/g)).toHaveLength(2);
    expect(text).not.toMatch(/\b(row_pass|load_row_chunk)\b/);
  });
});
