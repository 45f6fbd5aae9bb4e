// A step that records far more GPU work than usual: 500 micro-batches of a one-layer model is
// about 35,000 commands, past the point (between ~27,000 and ~34,000 in one command buffer) where
// lavapipe (Mesa 25.0.7) crashed the process with SIGSEGV at step 2, with no message and no
// checkpoint. The runtime now submits in bounded chunks; the run must finish and checkpoint.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tinyData } from './fixture.ts';

describe('a very large optimizer step', () => {
  it('trains 2 steps of 500 micro-batches each without crashing', async () => {
    const data = await tinyData();
    const out = join(mkdtempSync(join(tmpdir(), 'wgpt-large-step-')), 'run');
    const args = ['pretrain', '--data', data, '--out', out, '--nLayer', '1', '--nEmbd', '32', '--nHead', '2'];
    args.push('--blockSize', '16', '--batchSize', '1', '--tokensPerStep', String(500 * 16), '--steps', '2');
    args.push('--evalEvery', '0', '--evalBatches', '2', '--sampleTokens', '0', '--progress', 'off');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'webgpu-gpt.mjs'), ...args], { encoding: 'utf8' });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { steps?: number };
    expect(summary.steps ?? JSON.stringify(summary)).toBe(2);
    expect(existsSync(join(out, 'checkpoints'))).toBe(true);
  });
});
