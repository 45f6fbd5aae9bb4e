// Scratch timer for kernels/matmul.ts on this adapter (not the bench: bench/matmul.bench.ts is).
// Prints wall time and the driver threads' CPU time per run, so that a loaded machine can still
// compare variants ("2-core equivalent" = flops / (CPU time / 2)).
//   npx tsx bench/dev/matmul-time.ts [config names,...] [--shapes gpt|square] [--nap]
// --nap sleeps for the expected run time before awaiting: while Node awaits a GPU promise,
// Dawn's event polling keeps the main thread busy, which on a 2-core machine slows lavapipe.
import { readdirSync, readFileSync } from 'node:fs';
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { matmul, MATMUL_CONFIGS, pickConfig, vec4Eligible, type MatmulArgs } from '../../kernels/matmul.ts';

function driverCpu(): number {
  let s = 0;
  for (const t of readdirSync('/proc/self/task')) {
    if (t === String(process.pid)) continue;
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      s += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* thread ended */
    }
  }
  return s;
}

const argv = process.argv.slice(2);
const nap = argv.includes('--nap');
const shapesArg = argv.includes('--shapes') ? argv[argv.indexOf('--shapes') + 1]! : 'square';
const names = argv.find((x) => !x.startsWith('--') && x !== shapesArg)?.split(',');
const rt = await getRuntime();
console.log(rt.describe());

interface Shape {
  label: string;
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  gelu?: boolean;
  accumulate?: boolean;
}
const B = 4,
  T = 128,
  C = 128,
  V = 50257;
const shapes: Shape[] =
  shapesArg === 'gpt'
    ? [
        { label: 'qkv fwd', M: B * T, N: 3 * C, K: C, bias: true },
        { label: 'fc fwd+gelu', M: B * T, N: 4 * C, K: C, bias: true, gelu: true },
        { label: 'proj fwd', M: B * T, N: C, K: 4 * C, bias: true },
        { label: 'lm head', M: B * T, N: V, K: C, transB: true },
        { label: 'fc dx (dC·Wᵀ)', M: B * T, N: C, K: 4 * C, transB: true },
        { label: 'fc dW (Xᵀ·dC)', M: C, N: 4 * C, K: B * T, transA: true, accumulate: true },
        { label: 'lm dWte (dCᵀ·X)', M: V, N: C, K: B * T, transA: true, accumulate: true },
        { label: 'lm dx (dC·Wte)', M: B * T, N: C, K: V },
        { label: 'att scores', M: T, N: T, K: 32, batch: B * 4, transB: true },
        { label: 'odd 1000x1000x1000', M: 1000, N: 1000, K: 1000 },
      ]
    : [{ label: 'square', M: 1024, N: 1024, K: 1024 }];

for (const s of shapes.filter((x) => new RegExp(process.env.SHAPES ?? '.').test(x.label))) {
  const batch = s.batch ?? 1;
  const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const a = rt.pool.acquire(batch * s.M * s.K * 4),
    b = rt.pool.acquire(batch * s.K * s.N * 4);
  const out = rt.pool.acquire(batch * s.M * s.N * 4),
    bias = rt.pool.acquire(s.N * 4),
    pre = rt.pool.acquire(batch * s.M * s.N * 4);
  rt.write(a, 0, rnd(batch * s.M * s.K));
  rt.write(b, 0, rnd(batch * s.K * s.N));
  rt.write(bias, 0, rnd(s.N));
  const flops = 2 * batch * s.M * s.N * s.K;
  const cfgs = names ?? [pickConfig(rt, s.M, s.N, batch).name];
  for (const name of cfgs) {
    const cfg = MATMUL_CONFIGS.find((c) => c.name === name);
    const args: MatmulArgs = {
      out,
      a,
      b,
      M: s.M,
      N: s.N,
      K: s.K,
      batch,
      transA: s.transA,
      transB: s.transB,
      bias: s.bias ? bias : undefined,
      gelu: s.gelu,
      preact: s.gelu ? pre : undefined,
      accumulate: s.accumulate,
      config: { name, loads: cfg?.loads },
    };
    matmul(rt, args);
    await rt.sync(); // compile + warm up
    let est = 0;
    {
      const t0 = performance.now();
      matmul(rt, args);
      await rt.sync();
      est = performance.now() - t0;
    }
    const inner = Math.max(1, Math.ceil(600 / Math.max(est, 1)));
    const wall: number[] = [],
      cpu: number[] = [];
    for (let r = 0; r < 5; r++) {
      const c0 = driverCpu();
      const t0 = performance.now();
      for (let i = 0; i < inner; i++) matmul(rt, args);
      rt.flush();
      if (nap) await new Promise((res) => setTimeout(res, est * inner * 0.85));
      await rt.sync();
      wall.push((performance.now() - t0) / inner);
      cpu.push(((driverCpu() - c0) * 1000) / inner);
    }
    const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
    const w = med(wall),
      c = med(cpu);
    const path = vec4Eligible(s.M, s.N, s.K, s.transA, s.transB) ? 'vec4' : 'scalar';
    console.log(
      `${s.label.padEnd(20)} ${`${batch}x${s.M}x${s.N}x${s.K}`.padEnd(18)} ${name.padEnd(16)} ${path.padEnd(6)} wall ${w.toFixed(2).padStart(8)} ms ${(flops / w / 1e6).toFixed(2).padStart(6)} GFLOP/s | cpu ${c.toFixed(1).padStart(7)} ms -> ${(flops / (c / 2) / 1e6).toFixed(2).padStart(6)} GFLOP/s 2-core`,
    );
  }
  for (const x of [a, b, out, bias, pre]) rt.pool.release(x);
}
await destroyRuntime();
