// Scratch: residual tuning on the current adapter, in process CPU time / 2 (lavapipe's worker
// threads are in-process, so this is a load-independent stand-in for an idle 2-core wall time).
// npx tsx bench/dev/residual-exp.ts [n]
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { residualForward } from '../../kernels/residual.ts';

const rt = await getRuntime();
const n = Number(process.argv[2] ?? 4 * 1024 * 768);
const a = rt.pool.acquire(n * 4),
  b = rt.pool.acquire(n * 4),
  c = rt.pool.acquire(n * 4);
rt.write(a, 0, new Float32Array(n).fill(1));
rt.write(b, 0, new Float32Array(n).fill(2));
const cfgs: [string, () => void][] = [];
for (const WG of [64, 256])
  for (const VPT of [1, 2, 4, 8]) {
    cfgs.push([`vec4 WG=${WG} VPT=${VPT}`, () => residualForward(rt, { out: c, inp1: a, inp2: b }, { n, WG, VPT })]);
  }
for (const VPT of [1, 4, 8, 16])
  cfgs.push([
    `scalar VPT=${VPT}`,
    () => residualForward(rt, { out: c, inp1: a, inp2: b }, { n, variant: 'scalar', VPT }),
  ]);
const best = new Map<string, number>();
for (const [, f] of cfgs) f();
await rt.sync();
for (let round = 0; round < 3; round++) {
  for (const [name, f] of cfgs) {
    const c0 = process.cpuUsage();
    for (let k = 0; k < 5; k++) f();
    await rt.sync();
    const cu = process.cpuUsage(c0);
    best.set(name, Math.min(best.get(name) ?? 1e9, (cu.user + cu.system) / 1000 / 5 / 2));
  }
}
for (const [name, ms] of best)
  console.log(
    name.padEnd(24),
    ms.toFixed(2).padStart(8),
    'cpu-ms/2',
    ((12 * n) / ms / 1e6).toFixed(2).padStart(6),
    'GB/s',
  );
await destroyRuntime();
