// bin/webgpu-gpt.mjs: the stderr filter (Dawn's two harmless lavapipe warnings go, everything else
// passes unchanged, however the text is split into chunks) and a quiet start of a real command.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filterStderr } from '../../bin/stderr-filter.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const W1 =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
const W2 =
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';

/** Runs `text` through the filter in chunks cut at `cuts`; returns what came out and when. */
async function through(text: string, cuts: number[]): Promise<{ out: string; afterFirst: string }> {
  const src = new PassThrough();
  let out = '';
  filterStderr(src, { write: (s: string) => (out += s) });
  const bounds = [0, ...cuts, text.length];
  let afterFirst = '';
  for (let i = 0; i + 1 < bounds.length; i++) {
    src.write(text.slice(bounds[i], bounds[i + 1]));
    await new Promise((r) => setImmediate(r));
    if (i === 0) afterFirst = out;
  }
  src.end();
  await new Promise((r) => setImmediate(r));
  return { out, afterFirst };
}

describe('bin: stderr filter', () => {
  const text = `error: real driver trouble\n${W1}step 1 | loss 5.1\r${W2}Warning: something else\nlast`;
  const kept = 'error: real driver trouble\nstep 1 | loss 5.1\rWarning: something else\nlast';

  it('drops exactly the two Dawn warnings, for every way of cutting the text into two chunks', async () => {
    // The warning after "\r" is not at the start of a line, so it stays: only whole lines go.
    const expected = kept.replace('\rWarning: something', `\r${W2}Warning: something`);
    for (let cut = 1; cut < text.length; cut++) expect((await through(text, [cut])).out).toBe(expected);
  });

  it('passes a partial progress line on at once, and holds back only what may be a warning', async () => {
    expect((await through('step 1 | loss 5.1\rstep 2', [17])).afterFirst).toBe('step 1 | loss 5.1');
    expect((await through(W1, [12])).afterFirst).toBe('');
    expect((await through(W1 + 'x', [12])).out).toBe('x');
  });
});

describe('bin: a quiet start', () => {
  it('prints no Dawn warning for a command that opens the GPU', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'webgpu-gpt.mjs'), 'doctor', '--quick'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adapter: /m);
    expect(r.stderr).not.toMatch(/artificially reduced/);
    expect(r.stdout).not.toMatch(/artificially reduced/);
  });
});
