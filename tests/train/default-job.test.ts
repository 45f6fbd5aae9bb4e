// `webgpu-gpt train-default` (npm run train) in-process: a prepared --data folder is used as it is
// (not replaced by Moby-Dick), a folder that is neither prepared nor empty is refused, and a
// finished run is kept when the job runs again (--fresh replaces it).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listCheckpoints } from '../../model/checkpoint.ts';
import { defaultJobMain } from '../../train/cli/default-job.ts';
import { tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-default-job-'));
let data = '';
const TINY = ['--model', 'tiny', '--nLayer', '1', '--nHead', '2', '--nEmbd', '16', '--blockSize', '16'];
const QUICK = [...TINY, '--batchSize', '4', '--steps', '2', '--maxMinutes', '0', '--evalEvery', '0'];
const SHORT = [...QUICK, '--sampleTokens', '0', '--evalBatches', '2', '--progress', 'off'];

beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Runs the job; returns its status and what it printed on stdout. */
async function job(...args: string[]): Promise<{ rc: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    const rc = await defaultJobMain(args);
    return { rc, out };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('train-default', () => {
  it('trains on the prepared folder given with --data, untouched', async () => {
    const before = readFileSync(join(data, 'report.json'), 'utf8');
    const out = join(work, 'given');
    const r = await job('--data', data, '--out', out, ...SHORT);
    expect(r.rc).toBe(0);
    expect(r.out).toContain(`data: using ${data} (prepared folder given with --data)`);
    expect(readFileSync(join(data, 'report.json'), 'utf8')).toBe(before);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.train.data).toBe(data);
    expect(cfg.derived.tokenizer).toMatch(/^char-/);
  });

  it('refuses a --data folder that is neither prepared nor empty', async () => {
    const notData = join(work, 'not-data');
    mkdirSync(notData, { recursive: true });
    writeFileSync(join(notData, 'notes.txt'), 'mine');
    await expect(job('--data', notData, '--out', join(work, 'x'), ...SHORT)).rejects.toThrow(
      /not a prepared data folder/,
    );
    expect(readFileSync(join(notData, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('keeps a finished run when run again; --fresh replaces it', async () => {
    const out = join(work, 'again');
    expect((await job('--data', data, '--out', out, ...SHORT)).rc).toBe(0);
    const ckpts = listCheckpoints(join(out, 'checkpoints')).map((c) => c.path);
    expect(ckpts.length).toBeGreaterThan(0);
    const second = await job('--data', data, '--out', out, ...SHORT);
    expect(second.rc).toBe(0);
    expect(second.out).toContain(`${out} already holds a finished run (2 steps`);
    expect(listCheckpoints(join(out, 'checkpoints')).map((c) => c.path)).toEqual(ckpts);
    const fresh = await job('--data', data, '--out', out, ...SHORT, '--fresh');
    expect(fresh.out).toContain('replacing the finished run (--fresh)');
  });
});
