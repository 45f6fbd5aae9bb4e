// Scratch: adamw / globalNorm tuning in process CPU time / 2 (lavapipe's worker threads are
// in-process: a load-independent stand-in for idle wall time). npx tsx bench/dev/adamw-exp.ts [n]
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { adamw, globalNorm } from '../../kernels/adamw.ts';

const rt = await getRuntime();
const n = Number(process.argv[2] ?? 10_000_000);
const [params, grads, m, v] = [0, 1, 2, 3].map(() => rt.pool.acquire(n * 4));
const norm = rt.pool.acquire(16);
const src = new Float32Array(n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
rt.write(params!, 0, src);
rt.write(grads!, 0, src);
rt.write(m!, 0, new Float32Array(n));
rt.write(v!, 0, new Float32Array(n));
const hp = { n, decayEnd: n >> 1, lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, maxNorm: 1 };
const b = { params: params!, grads: grads!, m: m!, v: v!, norm };
const cfgs: [string, number, () => void][] = [];
for (const partials of [0, 16, 1024])
  cfgs.push([`norm P=${partials || 'auto'}`, 4, () => globalNorm(rt, { norm, grads: grads! }, { n, partials })]);
cfgs.push(['update (defaults, no clip)', 28, () => adamw(rt, b, { ...hp, maxNorm: 0 })]);
cfgs.push([
  'step: norm + clipped update',
  32,
  () => {
    globalNorm(rt, { norm, grads: grads! }, { n });
    adamw(rt, b, hp);
  },
]);
if (process.argv[3] === 'all')
  for (const WG of [64, 256])
    for (const VPT of [1, 2, 4, 8])
      cfgs.push([`adamw WG=${WG} VPT=${VPT}`, 28, () => adamw(rt, b, { ...hp, WG, VPT })]);
const best = new Map<string, [number, number]>();
for (const [, , f] of cfgs) f();
await rt.sync();
for (let round = 0; round < 3; round++) {
  for (const [name, bpe, f] of cfgs) {
    const c0 = process.cpuUsage();
    for (let k = 0; k < 3; k++) f();
    await rt.sync();
    const cu = process.cpuUsage(c0);
    const ms = (cu.user + cu.system) / 1000 / 3 / 2;
    best.set(name, [Math.min(best.get(name)?.[0] ?? 1e9, ms), bpe]);
  }
}
for (const [name, [ms, bpe]] of best)
  console.log(
    name.padEnd(24),
    ms.toFixed(2).padStart(8),
    'cpu-ms/2',
    ((bpe * n) / ms / 1e6).toFixed(2).padStart(6),
    'GB/s',
  );
await destroyRuntime();
