// Scratch: time the embedding backward's dispatches separately, in process CPU time / 2
// (lavapipe's worker threads are in-process: a load-independent stand-in for idle wall time).
// npx tsx bench/dev/embedding-exp.ts [B] [T]
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { embeddingForward, embeddingLinkSpec, embeddingWpeSpecs, embeddingWteSpecs } from '../../kernels/embedding.ts';

const rt = await getRuntime();
const B = Number(process.argv[2] ?? 4),
  T = Number(process.argv[3] ?? 1024),
  C = 768,
  V = 32768,
  BT = B * T,
  Cw = C / 4;
let s = 7;
const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296);
const ids = Int32Array.from({ length: BT }, () => Math.floor(V * u() ** 3));
const inp = rt.pool.acquire(BT * 4),
  links = rt.pool.acquire(BT * 8),
  dout = rt.pool.acquire(BT * C * 4);
const dwte = rt.pool.acquire(V * C * 4),
  dwpe = rt.pool.acquire(T * C * 4),
  wpe = rt.pool.acquire(T * C * 4),
  out = rt.pool.acquire(BT * C * 4);
rt.write(inp, 0, ids);
const P = (n: number, row: number) => ({ BT, T, Cw, V, n, row });
const cfgs: [string, () => void][] = [];
for (const LINK_WG of [64, 128, 256]) {
  cfgs.push([
    `link LINK_WG=${LINK_WG}`,
    () =>
      rt.dispatch(embeddingLinkSpec, {
        bindings: { links, inp },
        params: P(BT, 0),
        overrides: { LINK_WG },
        workgroups: [Math.ceil(BT / (4 * LINK_WG))],
      }),
  ]);
}
for (const [WG, RPW] of [
  [64, 1],
  [64, 4],
  [64, 16],
  [256, 4],
  [32, 4],
] as const) {
  cfgs.push([
    `wte WG=${WG} RPW=${RPW}`,
    () =>
      rt.dispatch(embeddingWteSpecs.vec4, {
        bindings: { dwte, dout, inp, links },
        params: P(BT, Math.ceil(BT / RPW)),
        overrides: { WG, RPW },
        workgroups: [Math.ceil(BT / RPW)],
      }),
  ]);
  cfgs.push([
    `wpe WG=${WG} RPW=${RPW}`,
    () =>
      rt.dispatch(embeddingWpeSpecs.vec4, {
        bindings: { dwpe, dout },
        params: P(T, Math.ceil(T / RPW)),
        overrides: { WG, RPW },
        workgroups: [Math.ceil(T / RPW)],
      }),
  ]);
  cfgs.push([
    `fwd WG=${WG} RPW=${RPW}`,
    () => embeddingForward(rt, { out, inp, wte: dwte, wpe }, { B, T, C, V, WG, RPW }),
  ]);
}
const best = new Map<string, number>();
for (const [, f] of cfgs) f();
await rt.sync();
for (let round = 0; round < 3; round++) {
  for (const [name, f] of cfgs) {
    const c0 = process.cpuUsage();
    for (let k = 0; k < 3; k++) f();
    await rt.sync();
    const cu = process.cpuUsage(c0);
    best.set(name, Math.min(best.get(name) ?? 1e9, (cu.user + cu.system) / 1000 / 3 / 2));
  }
}
for (const [name, ms] of best) console.log(name.padEnd(24), ms.toFixed(2).padStart(8), 'cpu-ms/2');
await destroyRuntime();
