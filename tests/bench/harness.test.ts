// The bench runner end to end on a tiny fake bench module: records, failures, ceilings.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime, getRuntime, type KernelSpec, type Runtime } from '../../kernels/gpu/runtime.ts';
import { measureCeilings } from '../../bench/ceilings.ts';
import {
  BENCH_DAWN_FLAGS,
  BenchUsageError,
  median,
  parseArgs,
  runBench,
  timestampProblem,
  type BenchRecord,
} from '../../bench/harness.ts';
import type { BenchCase, BenchModule } from '../../bench/types.ts';

const scale: KernelSpec = {
  name: 'fake_scale',
  wgsl: /* wgsl */ `
    override WG: u32 = 64;
    struct P { n: u32, factor: f32 }
    @group(0) @binding(0) var<uniform> p: P;
    @group(0) @binding(1) var<storage, read> inp: array<f32>;
    @group(0) @binding(2) var<storage, read_write> out: array<f32>;
    @compute @workgroup_size(WG)
    fn main(@builtin(global_invocation_id) gid: vec3u) {
      if (gid.x < p.n) { out[gid.x] = inp[gid.x] * p.factor; }
    }`,
  entryPoint: 'main',
  params: [
    ['n', 'u32'],
    ['factor', 'f32'],
  ],
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG: 64 },
};

/** Counts run() calls of the case whose validation fails: it must never be timed. */
const calls = { badRun: 0 };

function fakeModule(): BenchModule {
  return {
    name: 'fake-scale',
    async cases({ rt, quick }): Promise<BenchCase[]> {
      const n = quick ? 1000 : 100_000;
      const inp = rt.pool.acquire(n * 4);
      const out = rt.pool.acquire(n * 4);
      const tmp = rt.pool.acquire(n * 4);
      rt.write(
        inp,
        0,
        Float32Array.from({ length: n }, (_, i) => i % 7),
      );
      const record = (factor: number, wg = 64): void =>
        rt.dispatch(scale, {
          bindings: { inp, out },
          params: { n, factor },
          overrides: { WG: wg },
          workgroups: [Math.ceil(n / wg)],
        });
      const check = async (factor: number): Promise<void> => {
        record(factor);
        const got = new Float32Array(await rt.read(out, 0, n * 4));
        for (let i = 0; i < n; i++) if (got[i] !== (i % 7) * factor) throw new Error(`out[${i}] = ${got[i]}`);
      };
      const base = { kernel: 'fake-scale', shape: { N: n }, dispose: () => {} };
      return [
        {
          ...base,
          variant: 'scale wg64',
          bytes: 8 * n,
          run: () => record(2),
          naive: () => record(2, 1),
          validate: () => check(2),
        },
        {
          ...base,
          variant: 'wrong',
          bytes: 8 * n,
          run: () => {
            calls.badRun++;
            record(3);
          },
          validate: async () => {
            await check(3);
            throw new Error('disagrees with the reference (on purpose)');
          },
        },
        {
          // A copy in the middle splits the compute pass: the timer must bracket it with markers.
          ...base,
          variant: 'two passes',
          flops: n,
          run: () => {
            record(2);
            rt.copy(out, 0, tmp, 0, n * 4);
            record(2);
          },
          validate: () => check(2),
          dispose: () => {
            rt.pool.release(inp);
            rt.pool.release(out);
            rt.pool.release(tmp);
          },
        },
      ];
    },
  };
}

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime({ dawnFlags: BENCH_DAWN_FLAGS });
});
afterAll(async () => {
  await destroyRuntime();
});

describe('bench harness', () => {
  it('parses the command line', () => {
    const o = parseArgs(['matmul', '--quick', '--json', 'x.json', '--M', '512', '--runs=3', '--no-naive']);
    expect(o.kernels).toEqual(['matmul']);
    expect(o).toMatchObject({ quick: true, json: 'x.json', runs: 3, naive: false, args: { M: '512' } });
    // A case dimension is a number: a bare flag or a word is a mistake, not a NaN shape.
    expect(() => parseArgs(['matmul', '--flag'])).toThrow(/--flag must be a number, got "true"/);
    expect(() => parseArgs(['matmul', '--M', 'abc'])).toThrow(/--M must be a number, got "abc"/);
    expect(parseArgs(['all']).runs).toBe(5);
    expect(parseArgs(['all', '--quick']).runs).toBe(2);
    expect(() => parseArgs(['all', '--runs', '0'])).toThrow(BenchUsageError);
    expect(() => parseArgs(['all', '--timing', 'fast'])).toThrow(/--timing must be one of wall, timestamp/);
    expect(() => parseArgs(['all', '--json'])).toThrow(/--json needs a value/);
    const p = parseArgs(['a', '--no-ceilings', '-h', '--T=64', 'b', '--variant', 'vec4', '--timing', 'wall']);
    expect(p).toMatchObject({ kernels: ['a', 'b'], ceilings: false, help: true, variant: 'vec4', timing: 'wall' });
    expect(p.args).toEqual({ T: '64' });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('rejects timestamps that are zero or do not fit in the wall time', () => {
    expect(timestampProblem([1, 1.1], 2.5)).toBeNull();
    expect(timestampProblem([0, 1], 2)).not.toBeNull();
    expect(timestampProblem([1.8e13, 1], 2)).not.toBeNull();
    expect(timestampProblem([50, 50], 10)).not.toBeNull();
  });

  it('names the known kernels when given an unknown one', async () => {
    await expect(runBench(['no-such-kernel'], () => {}, [fakeModule()])).rejects.toThrow(
      /unknown kernel "no-such-kernel".*known:.*fake-scale/,
    );
    await expect(runBench([], () => {}, [fakeModule()])).rejects.toThrow(BenchUsageError);
  });

  it('refuses a --<dim> that no case of the chosen benches reads', async () => {
    await expect(runBench(['fake-scale', '--quick', '--bogus', '3'], () => {}, [fakeModule()])).rejects.toThrow(
      /unknown option --bogus for bench fake-scale/,
    );
  });

  it('measures positive, finite ceilings', async () => {
    const c = await measureCeilings(rt, { quick: true });
    for (const v of [c.gbps, c.gflops]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
  });

  it('validates, times and records a fake bench module; a failing validate is reported and not timed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    const json = join(dir, 'sub', 'out.json');
    const lines: string[] = [];
    calls.badRun = 0;
    const result = await runBench(['fake-scale', '--quick', '--json', json], (l) => lines.push(l), [fakeModule()]);
    const text = lines.join('\n');

    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ kernel: 'fake-scale', variant: 'wrong', stage: 'validate' });
    expect(result.failures[0]!.error).toMatch(/on purpose/);
    expect(calls.badRun).toBe(0);
    expect(text).toMatch(/FAILED validate/);
    expect(text).toContain(rt.info.description || rt.info.device);
    if (rt.isSoftware) expect(text).toMatch(/WARNING.*SOFTWARE/);

    expect(result.ceilings).not.toBeNull();
    expect(result.ceilings!.gbps).toBeGreaterThan(0);
    expect(result.ceilings!.gflops).toBeGreaterThan(0);

    const records = JSON.parse(readFileSync(json, 'utf8')) as BenchRecord[];
    expect(records).toEqual(JSON.parse(JSON.stringify(result.records)));
    expect(records.map((r) => r.variant)).toEqual(['scale wg64', 'two passes']);
    for (const r of records) {
      expect(r.kernel).toBe('fake-scale');
      expect(r.shape).toEqual({ N: 1000 });
      expect(r.ms).toBeGreaterThan(0);
      expect(r.minMs).toBeLessThanOrEqual(r.ms);
      expect(r.runs).toBe(2);
      expect(['timestamp', 'wall']).toContain(r.timing);
      expect(r.adapter).toBe(rt.info.description || rt.info.device);
      expect(Number.isNaN(Date.parse(r.date))).toBe(false);
      expect(r).toHaveProperty('commit');
      expect(Number.isFinite(r.pctOfCeiling)).toBe(true);
    }
    const [plain, twoPass] = records as [BenchRecord, BenchRecord];
    expect(plain.gbps).toBeGreaterThan(0);
    expect(plain.gflops).toBeUndefined();
    expect(plain.naiveMs).toBeGreaterThan(0);
    expect(plain.speedup).toBeCloseTo(plain.naiveMs! / plain.ms);
    expect(twoPass.gflops).toBeGreaterThan(0);
    expect(twoPass.naiveMs).toBeNull();
    // Where the run trusts timestamps, the marker passes around a multi-pass run must pass the
    // sanity check too (else the case silently falls back to wall time with a note).
    if (result.timing === 'timestamp') expect(twoPass.timingNote).toBeUndefined();
  });
});
