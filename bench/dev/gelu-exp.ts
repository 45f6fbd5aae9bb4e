// Scratch: wall-time GELU tuning on the current adapter. npx tsx bench/dev/gelu-exp.ts [n]
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { geluBackward, geluForward } from '../../kernels/gelu.ts';

const rt = await getRuntime();
const n = Number(process.argv[2] ?? 4 * 1024 * 3072);
const a = rt.pool.acquire(n * 4),
  b = rt.pool.acquire(n * 4),
  c = rt.pool.acquire(n * 4);
rt.write(
  a,
  0,
  new Float32Array(n).map((_, i) => ((i % 1000) - 500) / 100),
);
rt.write(c, 0, new Float32Array(n).fill(1));
const cfgs: [string, () => void][] = [];
for (const WG of [64, 256])
  for (const VPT of [1, 2, 4, 8]) {
    cfgs.push([`fwd vec4 WG=${WG} VPT=${VPT}`, () => geluForward(rt, { out: b, inp: a }, { n, WG, VPT })]);
    cfgs.push([`bwd vec4 WG=${WG} VPT=${VPT}`, () => geluBackward(rt, { dinp: b, inp: a, dout: c }, { n, WG, VPT })]);
  }
for (const VPT of [1, 4, 8, 16])
  cfgs.push([`fwd scalar VPT=${VPT}`, () => geluForward(rt, { out: b, inp: a }, { n, variant: 'scalar', VPT })]);
const best = new Map<string, number>();
for (const [, f] of cfgs) f();
await rt.sync();
for (let round = 0; round < 3; round++) {
  for (const [name, f] of cfgs) {
    const c0 = process.cpuUsage();
    for (let k = 0; k < 3; k++) f();
    await rt.sync();
    const cu = process.cpuUsage(c0);
    // CPU time of the whole process (lavapipe's worker threads included) / 2 cores: a load-
    // independent stand-in for the wall time on an idle 2-core machine.
    const ms = (cu.user + cu.system) / 1000 / 3 / 2;
    best.set(name, Math.min(best.get(name) ?? 1e9, ms));
  }
}
for (const [name, ms] of best) {
  const bytes = (name.startsWith('bwd') ? 12 : 8) * n;
  console.log(
    name.padEnd(28),
    ms.toFixed(1).padStart(8),
    'cpu-ms/2',
    (bytes / ms / 1e6).toFixed(2).padStart(6),
    'GB/s',
  );
}
await destroyRuntime();
