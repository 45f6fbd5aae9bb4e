// The bad inputs and leftovers around a run folder that used to slip through (issue 13, item 7):
// --out equal to --data, overrides on resume (the divergence message's advice), a re-prepared
// tokenizer of the same size, a corrupt or missing config.json, a full disk, leftovers of killed
// sessions, a kill while pruning, samples of abandoned steps, and --steps below the steps done.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints, pruneCheckpoints, readCheckpoint } from '../../model/checkpoint.ts';
import { CliError } from '../../train/cli-error.ts';
import { readMetrics } from '../../train/metrics.ts';
import { pretrain, type PretrainOptions } from '../../train/pretrain.ts';
import { loadTokenizer } from '../../train/tokenizers/index.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-resume-edges-'));
const quiet = { log: () => {} };
let data = '';
beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A run of `steps` stopped after 2 of them. */
async function stoppedRun(name: string, over = {}): Promise<string> {
  const out = join(work, name);
  await pretrain(tinyConfig(data, out, { steps: 6, evalEvery: 0, sampleTokens: 0, ...over }), {
    ...quiet,
    stopAfterSteps: 2,
  });
  return out;
}

/** Resumes `out` with the given command-line keys. */
function resume(out: string, over: Record<string, unknown> = {}, opts: PretrainOptions = quiet) {
  const sources = Object.fromEntries(Object.keys(over).map((k) => [k, 'cli' as const]));
  return pretrain(
    { ...tinyConfig(data, null as unknown as string), out: null, resume: out, ...over },
    { ...opts, sources },
  );
}

async function cliError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CliError);
  return (e as Error).message;
}

describe('run folder edges', () => {
  it('refuses --out equal to --data', async () => {
    expect(await cliError(pretrain(tinyConfig(data, data), quiet))).toMatch(/is the data folder/);
  });

  it('after a divergence, --resume with the suggested lower --lr works and is recorded', async () => {
    const out = join(work, 'diverged');
    const nan: PretrainOptions = {
      afterBackward: (step, model) => {
        if (step >= 3) model.params.rt.write(model.params.grad.buffer, 0, new Float32Array([NaN, NaN, NaN, NaN]));
      },
    };
    const cfg = tinyConfig(data, out, { steps: 6, evalEvery: 2, sampleTokens: 0, maxBadSteps: 2 });
    const msg = await cliError(pretrain(cfg, { ...quiet, ...nan }));
    expect(msg).toContain(`--resume ${out} --lr ${cfg.lr / 4}`);
    const lines: string[] = [];
    const s = await resume(out, { lr: cfg.lr / 4 }, { log: (l) => lines.push(l) });
    expect(s.status).toBe('finished');
    expect(lines.join('\n')).toContain(`changed on resume: --lr ${cfg.lr} -> ${cfg.lr / 4}`);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved.train.lr).toBe(cfg.lr / 4);
    expect(saved.resumes).toEqual([{ step: 2, changed: { lr: [cfg.lr, cfg.lr / 4] } }]);
    expect(readMetrics(join(out, 'metrics.jsonl')).at(-1)!.lr).toBeLessThanOrEqual(cfg.lr / 4);
  });

  it('refuses to resume on data re-prepared with another tokenizer of the same size', async () => {
    const out = await stoppedRun('retokenized');
    const other = join(work, 'other-data');
    cpSync(data, other, { recursive: true });
    const tok = JSON.parse(readFileSync(join(other, 'tokenizer.json'), 'utf8'));
    const [a, b] = [tok.chars.indexOf('a'), tok.chars.indexOf('b')];
    [tok.chars[a], tok.chars[b]] = [tok.chars[b], tok.chars[a]];
    writeFileSync(join(other, 'tokenizer.json'), JSON.stringify(tok));
    // The shards' headers name the new tokenizer, as `prepare` would have written them.
    const [oldId, newId] = [loadTokenizer(data).id, loadTokenizer(other).id];
    expect(newId.length).toBe(oldId.length);
    for (const f of ['train.bin', 'val.bin']) {
      const buf = readFileSync(join(other, f));
      const at = buf.indexOf(oldId);
      expect(at).toBeGreaterThanOrEqual(0);
      buf.write(newId, at);
      writeFileSync(join(other, f), buf);
    }
    expect(await cliError(resume(out, { data: other }))).toMatch(
      /trained with tokenizer char-333-\w+, but .* is tokenized with char-333-/,
    );
  });

  it('a corrupt config.json is one line naming it; a missing one is rebuilt from the checkpoint', async () => {
    const out = await stoppedRun('config');
    const good = readFileSync(join(out, 'config.json'), 'utf8');
    writeFileSync(join(out, 'config.json'), good.slice(0, 40));
    expect(await cliError(resume(out))).toContain(`${join(out, 'config.json')} is corrupt`);
    rmSync(join(out, 'config.json'));
    expect((await resume(out)).steps).toBe(6);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.steps).toBe(6);
  });

  it('a full disk is one line naming the file', async () => {
    const out = join(work, 'full');
    mkdirSync(out, { recursive: true });
    symlinkSync('/dev/full', join(out, 'samples.txt')); // every write there fails with ENOSPC
    const cfg = tinyConfig(data, out, { steps: 2, evalEvery: 1, sampleTokens: 4 });
    const msg = await cliError(pretrain(cfg, quiet));
    expect(msg).toMatch(
      new RegExp(`^cannot write ${join(out, 'samples.txt')}: no space left on the device \\(ENOSPC\\)`),
    );
  });

  it("cleans killed sessions' leftovers on start", async () => {
    const out = await stoppedRun('leftovers');
    writeFileSync(join(out, 'config.json.tmp-999999'), '{');
    mkdirSync(join(out, 'checkpoints', '.tmp-ckpt-00000004-999999-1'));
    await resume(out, { steps: 3 });
    expect(existsSync(join(out, 'config.json.tmp-999999'))).toBe(false);
    expect(existsSync(join(out, 'checkpoints', '.tmp-ckpt-00000004-999999-1'))).toBe(false);
  });

  it('a kill while pruning never leaves a half-deleted checkpoint under a checkpoint name', async () => {
    const out = join(work, 'prune');
    await pretrain(tinyConfig(data, out, { steps: 3, evalEvery: 1, sampleTokens: 0, keepCheckpoints: 5 }), quiet);
    const dir = join(out, 'checkpoints');
    // A "kill" mid-delete: rmSync removes one file of the directory, then the process is gone.
    const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
    const real = fs.rmSync;
    fs.rmSync = ((p: string) => {
      real(join(p, 'model.safetensors'));
      throw new Error('killed');
    }) as typeof fs.rmSync;
    syncBuiltinESMExports();
    try {
      expect(() => pruneCheckpoints(dir, 2)).toThrow('killed');
    } finally {
      fs.rmSync = real;
      syncBuiltinESMExports();
    }
    for (const c of listCheckpoints(dir)) expect(() => readCheckpoint(c.path)).not.toThrow();
    pruneCheckpoints(dir, 2);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3, 2]);
  });

  it('samples.txt drops the entries of steps abandoned by a resume', async () => {
    const out = join(work, 'samples');
    await pretrain(tinyConfig(data, out, { steps: 4, evalEvery: 1, sampleTokens: 4 }), quiet);
    rmSync(join(out, 'checkpoints', 'ckpt-00000004'), { recursive: true }); // as if killed before it
    await resume(out);
    const steps = [...readFileSync(join(out, 'samples.txt'), 'utf8').matchAll(/^--- step (\d+),/gm)].map((m) => m[1]);
    expect(steps).toEqual(['1', '2', '3', '4']);
  });

  it('a finished run resumed for more steps and stopped is no longer marked finished', async () => {
    const out = join(work, 'extended');
    await pretrain(tinyConfig(data, out, { steps: 2, evalEvery: 0, sampleTokens: 0 }), quiet);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
    const s = await resume(out, { steps: 6 }, { ...quiet, stopAfterSteps: 1 });
    expect(s.status).toBe('stopped');
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
  });

  it('--steps on a resume must exceed the steps already taken', async () => {
    const out = await stoppedRun('fewer-steps');
    expect(await cliError(resume(out, { steps: 2 }))).toMatch(/--steps 2: the run has already taken 2 steps/);
  });
});
