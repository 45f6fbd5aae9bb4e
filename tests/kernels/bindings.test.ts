// Every KernelSpec against its linked WGSL, as text (no GPU): the storage buffers its entry point
// uses (directly or through the functions it calls) are @binding(1..n) in the spec's order, with
// the spec's access and name, and the uniform Params sits at @binding(0) when the spec has params.
// A WGSL name may be the spec's name with a `4` for a vec4 view; other spellings (WGSL wants one
// name per declaration, and entry points of one file may bind the same number to different
// buffers) are listed in ALIASES.
import { describe, expect, it } from 'vitest';
import type { KernelSpec } from '../../kernels/gpu/runtime.ts';
import { allSpecs } from './all-specs.ts';

/** WGSL name -> spec name, where the WGSL name is not the spec's name (or its name + '4'). */
const ALIASES: Record<string, string> = {
  outb: 'out', // softmax backward: the forward's output, read-only
  stats_out: 'stats',
  count_targets: 'targets',
  mean_losses: 'losses',
  mean_targets: 'targets',
  saved_mean: 'mean',
  saved_rstd: 'rstd',
  mean_in: 'mean',
  rstd_in: 'rstd',
  partial_in: 'partial',
  lse_in: 'lse',
  o: 'out',
  dvec: 'D',
  dvec_in: 'D',
  inp_b: 'inp',
  links_b: 'links',
  grads_n: 'grads',
  partials_in: 'partials',
  norm_out: 'norm',
  ba: 'a', // elementwise: each entry point's bindings have their own names
  bb: 'b',
  bout: 'out',
  asrc: 'src',
  fout: 'out',
};

interface Binding {
  index: number;
  kind: 'uniform' | 'read' | 'rw';
  name: string;
}

const stripComments = (src: string) => src.replace(/\/\/[^\n]*/g, '');

function moduleBindings(src: string): Binding[] {
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var<(uniform|storage,\s*read_write|storage,\s*read|storage)>\s*(\w+)/g;
  return [...src.matchAll(re)].map((m) => ({
    index: Number(m[1]),
    kind: m[2] === 'uniform' ? 'uniform' : m[2]!.includes('read_write') ? 'rw' : 'read',
    name: m[3]!,
  }));
}

/** Function name -> body text, by brace matching. */
function functions(src: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of src.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    let i = src.indexOf('{', m.index);
    const start = i;
    let depth = 0;
    for (; i < src.length; i++) {
      if (src[i] === '{') depth++;
      else if (src[i] === '}' && --depth === 0) break;
    }
    out.set(m[1]!, src.slice(start, i + 1));
  }
  return out;
}

/** The identifiers an entry point reaches, through the functions it calls. */
function reached(fns: Map<string, string>, entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const id of fns.get(f)?.match(/\b[A-Za-z_]\w*\b/g) ?? []) {
      if (fns.has(id)) todo.push(id);
      else seen.add(id);
    }
  }
  return seen;
}

function specName(wgslName: string, specNames: readonly string[]): string {
  if (specNames.includes(wgslName)) return wgslName;
  const scalar = wgslName.endsWith('4') ? wgslName.slice(0, -1) : wgslName;
  if (specNames.includes(scalar)) return scalar;
  return ALIASES[wgslName] ?? ALIASES[scalar] ?? wgslName;
}

function check(spec: KernelSpec): string[] {
  const src = stripComments(spec.wgsl);
  const fns = functions(src);
  if (!fns.has(spec.entryPoint)) return [`entry point ${spec.entryPoint} not found`];
  const ids = reached(fns, spec.entryPoint);
  const used = moduleBindings(src)
    .filter((b) => ids.has(b.name))
    .sort((a, b) => a.index - b.index);
  const problems: string[] = [];
  const uniform = used.filter((b) => b.kind === 'uniform');
  if (spec.params.length > 0 && !uniform.some((b) => b.index === 0))
    problems.push('has params but uses no uniform at @binding(0)');
  const storage = used.filter((b) => b.kind !== 'uniform');
  const names = spec.bindings.map(([n]) => n);
  const seen = new Map<number, Binding>();
  for (const b of storage) {
    const prev = seen.get(b.index);
    if (prev && specName(prev.name, names) !== specName(b.name, names))
      problems.push(`@binding(${b.index}) used as both ${prev.name} and ${b.name}`);
    seen.set(b.index, b);
  }
  const got = [...seen.values()].map((b) => `${b.index} ${specName(b.name, names)} ${b.kind}`);
  const want = spec.bindings.map(([n, a], i) => `${i + 1} ${n} ${a}`);
  // An entry point may leave a spec binding unused (the host binds it anyway): compare the used ones.
  const unused = want.filter((w) => !got.includes(w));
  const extra = got.filter((g) => !want.includes(g));
  if (extra.length > 0) problems.push(`WGSL bindings not in the spec: ${extra.join(', ')} (spec: ${want.join(', ')})`);
  if (got.length === 0 && want.length > 0) problems.push(`uses none of ${unused.join(', ')}`);
  return problems;
}

describe('KernelSpec bindings match the WGSL', async () => {
  const specs = await allSpecs();

  it('collects the specs of every kernel module', () => {
    const kernels = new Set(specs.map((s) => s.name.split('.')[0]));
    for (const k of ['adamw', 'attention', 'copy', 'crossentropy', 'dropout', 'elementwise', 'embedding', 'gelu'])
      expect(kernels).toContain(k);
    for (const k of ['layernorm', 'matmul', 'reduce', 'residual', 'softmax']) expect(kernels).toContain(k);
  });

  it.each(specs.map((s) => [s.name, s] as const))('%s', (_name, spec) => {
    expect(check(spec)).toEqual([]);
  });

  it('catches a binding out of order, a wrong access and a wrong name', () => {
    const spec: KernelSpec = {
      name: 'fake',
      entryPoint: 'main',
      params: [['n', 'u32']],
      bindings: [
        ['out', 'rw'],
        ['inp', 'read'],
      ],
      wgsl: `
        struct Params { n: u32 }
        @group(0) @binding(0) var<uniform> p: Params;
        @group(0) @binding(1) var<storage, read_write> out: array<f32>;
        @group(0) @binding(2) var<storage, read> inp: array<f32>;
        fn helper(i: u32) -> f32 { return inp[i]; }
        @compute @workgroup_size(1) fn main() { out[0] = helper(p.n); }`,
    };
    expect(check(spec)).toEqual([]);
    const swapped = { ...spec, bindings: [spec.bindings[1]!, spec.bindings[0]!] };
    expect(check(swapped)).not.toEqual([]);
    const access = { ...spec, bindings: [['out', 'rw'] as const, ['inp', 'rw'] as const] };
    expect(check(access)).not.toEqual([]);
    const renamed = { ...spec, bindings: [['out', 'rw'] as const, ['x', 'read'] as const] };
    expect(check(renamed)).not.toEqual([]);
    const noUniform = { ...spec, wgsl: spec.wgsl.replace('helper(p.n)', 'helper(0u)') };
    expect(check(noUniform)).not.toEqual([]);
  });
});
