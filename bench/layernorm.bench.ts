// Layernorm at GPT-2 width: the issue's [4096 x 768] forward, and the backward (dinp plus the
// two-stage dweight / dbias reduction).
import { layernormBackward, layernormForward, layernormTuning } from '../kernels/layernorm.ts';
import { layernormBackward as refBackward, layernormForward as refForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveLayernormBackward, naiveLayernormForward } from './baselines/layernorm-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

/** Cheap deterministic values in [shift - scale, shift + scale]. */
function values(n: number, seed: number, scale: number, shift = 0): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = shift + ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const N = Number(args.N ?? (quick ? 512 : 4096));
  const C = Number(args.C ?? 768);
  const n = N * C;
  const x = values(n, 1, 2, 0.5);
  const w = values(C, 2, 0.5, 1);
  const bb = values(C, 3, 0.5);
  const g = values(n, 4, 1);
  const f64 = (a: Float32Array) => Float64Array.from(a);
  const wantOut = new Float64Array(n);
  const wantMean = new Float64Array(N);
  const wantRstd = new Float64Array(N);
  refForward(wantOut, wantMean, wantRstd, f64(x), f64(w), f64(bb), N, C);
  const buf = (len: number, data?: Float32Array) => {
    const b = rt.pool.acquire(len * 4, 'bench');
    if (data) rt.write(b, 0, data);
    return b;
  };
  const inp = buf(n, x),
    weight = buf(C, w),
    bias = buf(C, bb),
    dout = buf(n, g);
  const out = buf(n),
    mean = buf(N, Float32Array.from(wantMean)),
    rstd = buf(N, Float32Array.from(wantRstd));
  const dweight = buf(C),
    dbias = buf(C);
  // The forward's run overwrites mean / rstd with the same values the backward reads.
  let live = 2;
  const dispose = () => {
    if (--live === 0) for (const b of [inp, weight, bias, dout, out, mean, rstd, dweight, dbias]) rt.pool.release(b);
  };
  const tag = (backward: boolean) => {
    const t = layernormTuning(rt, { N, C }, backward);
    return `WG=${t.WG} ROWS=${t.ROWS}${t.VPT ? ` VPT=${t.VPT} cached` : ''} ${t.reduction}`;
  };
  const shape = { N, C };
  const fwd = () => layernormForward(rt, { out, mean, rstd, inp, weight, bias }, { N, C });
  const bwd = () => layernormBackward(rt, { dinp: out, dweight, dbias, dout, inp, weight, mean, rstd }, { N, C });
  return [
    {
      kernel: 'layernorm',
      variant: `forward vec4 ${tag(false)}`,
      shape,
      bytes: 4 * (2 * n + 2 * C + 2 * N),
      run: fwd,
      naive: () => naiveLayernormForward(rt, { out, mean, rstd, inp, weight, bias }, N, C),
      async validate() {
        fwd();
        assertClose(new Float32Array(await rt.read(out, 0, n * 4)), wantOut, 'f32Reduce', 'layernorm forward out');
        assertClose(new Float32Array(await rt.read(mean, 0, N * 4)), wantMean, 'f32Reduce', 'layernorm forward mean');
        assertClose(new Float32Array(await rt.read(rstd, 0, N * 4)), wantRstd, 'f32Reduce', 'layernorm forward rstd');
      },
      dispose,
    },
    {
      kernel: 'layernorm',
      variant: `backward vec4 ${tag(true)}`,
      shape,
      bytes: 4 * (3 * n + 3 * C + 2 * N),
      run: bwd,
      naive: () => naiveLayernormBackward(rt, { dinp: out, dweight, dbias, dout, inp, weight, mean, rstd }, N, C),
      async validate() {
        fwd(); // mean / rstd as saved by the forward
        bwd();
        const m = new Float32Array(await rt.read(mean, 0, N * 4));
        const r = new Float32Array(await rt.read(rstd, 0, N * 4));
        const dinp = new Float64Array(n),
          dw = new Float64Array(C),
          db = new Float64Array(C);
        refBackward(dinp, dw, db, f64(g), f64(x), f64(w), f64(m), f64(r), N, C);
        assertClose(new Float32Array(await rt.read(out, 0, n * 4)), dinp, 'f32Reduce', 'layernorm backward dinp');
        // Sums over N = 4096 rows: f32Chain, the preset for long chains of accumulation.
        assertClose(new Float32Array(await rt.read(dweight, 0, C * 4)), dw, 'f32Chain', 'layernorm backward dweight');
        assertClose(new Float32Array(await rt.read(dbias, 0, C * 4)), db, 'f32Chain', 'layernorm backward dbias');
      },
      dispose,
    },
  ] satisfies BenchCase[];
}

export default { name: 'layernorm', cases } satisfies BenchModule;
