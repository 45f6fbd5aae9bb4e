// Fault injection: kill -9 the trainer of a short run at seeded random moments (mid-step, and
// while a checkpoint is being written or pruned), resume each time, and compare the whole metrics
// trajectory bit for bit with an uninterrupted run. The kills go to the real CLI's trainer
// process (its pid from the run's lock file); what survives is only what is on disk.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../model/checkpoint.ts';
import { readMetrics } from '../../train/metrics.ts';
import { LOCK_FILE, readLock } from '../../train/run-lock.ts';
import { gone, startCli, TINY_FLAGS, waitFor } from './cli-process.ts';
import { tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-faults-'));
let data = '';
beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const STEPS = 14;
const RUN = [...TINY_FLAGS, '--steps', String(STEPS), '--evalEvery', '2', '--evalBatches', '2'];
const OPTS = [...RUN, '--sampleTokens', '4', '--keepCheckpoints', '2'];

/** mulberry32: a small seeded generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What must not depend on interruptions: every metric but the wall-clock ones. */
function trajectory(out: string): unknown[] {
  return readMetrics(join(out, 'metrics.jsonl')).map(({ elapsed: _e, tokensPerSec: _t, ...m }) => m);
}

/** Starts (or resumes) the run in `out`; resolves with the session and the trainer's pid. */
async function session(out: string) {
  const resume = listCheckpoints(join(out, 'checkpoints')).length > 0;
  const cli = startCli(resume ? ['pretrain', '--resume', out] : ['pretrain', '--data', data, '--out', out, ...OPTS]);
  let trainer = 0;
  await waitFor(
    () => {
      const l = readLock(join(out, LOCK_FILE));
      if (l && !gone(l.pid)) trainer = l.pid;
      return trainer > 0 || gone(cli.pid);
    },
    () => `no trainer started: ${cli.stderr()}`,
  );
  return { cli, trainer };
}

/** Kills the trainer at a random moment: after some steps, or as a checkpoint is being written. */
async function killSomewhere(out: string, trainer: number, rand: () => number): Promise<string> {
  const metrics = join(out, 'metrics.jsonl');
  const ckpts = join(out, 'checkpoints');
  const done = (): number => (existsSync(metrics) ? readMetrics(metrics).length : 0);
  const writing = (): boolean => existsSync(ckpts) && readdirSync(ckpts).some((d) => d.startsWith('.tmp-ckpt-'));
  const mode = rand() < 0.5 ? 'checkpoint' : 'step';
  const target = done() + 1 + Math.floor(rand() * 3);
  // Past start-up first (a killed session's .tmp-ckpt-* is still there until the trainer starts).
  if (mode === 'checkpoint')
    await waitFor(
      () => gone(trainer) || done() >= target,
      () => 'no step',
    );
  await waitFor(
    () => gone(trainer) || (mode === 'checkpoint' ? writing() : done() >= target),
    () => `never reached the kill point (${mode})`,
    120_000,
    mode === 'checkpoint' ? 2 : 50, // a checkpoint of the tiny model takes milliseconds
  );
  await new Promise((r) => setTimeout(r, Math.floor(rand() * (mode === 'checkpoint' ? 15 : 300))));
  if (gone(trainer)) return 'finished first';
  process.kill(trainer, 'SIGKILL');
  await waitFor(
    () => gone(trainer),
    () => `trainer ${trainer} survived kill -9`,
  );
  return `${mode} (${done()} metric lines)`;
}

describe('fault injection', () => {
  it('kill -9 at random moments, resumed each time: the metrics trajectory is bit-identical', async () => {
    const straight = join(work, 'straight');
    const base = startCli(['pretrain', '--data', data, '--out', straight, ...OPTS]);
    expect((await base.exited).code, base.stderr()).toBe(0);

    const out = join(work, 'killed');
    const rand = rng(13);
    const kills: string[] = [];
    for (let k = 0; k < 5; k++) {
      const { cli, trainer } = await session(out);
      kills.push(await killSomewhere(out, trainer, rand));
      await cli.exited;
      if (existsSync(join(out, 'summary.json'))) break;
    }
    if (!existsSync(join(out, 'summary.json'))) {
      const { cli } = await session(out);
      const r = await cli.exited;
      expect(r.code, `${kills.join('; ')}\n${cli.stderr()}`).toBe(0);
    }
    expect(kills.filter((k) => k !== 'finished first').length, kills.join('; ')).toBeGreaterThanOrEqual(2);
    expect(trajectory(out), kills.join('; ')).toEqual(trajectory(straight));
    expect(trajectory(out)).toHaveLength(STEPS);
    expect(readFileSync(join(out, 'samples.txt'), 'utf8')).toBe(readFileSync(join(straight, 'samples.txt'), 'utf8'));
    expect(readdirSync(join(out, 'checkpoints')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });
});
