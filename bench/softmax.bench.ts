// Softmax over the last axis: the issue's [4096 x 1024] forward (log-softmax too), its backward,
// and the causally masked scores of the composed attention path (B·NH·T rows of T).
import {
  logSoftmaxForward,
  softmaxBackward as refBackward,
  softmaxForward as refForward,
} from '../kernels/reference.ts';
import { softmaxBackward, softmaxForward, softmaxTuning } from '../kernels/softmax.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveSoftmaxBackward, naiveSoftmaxForward } from './baselines/softmax-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

/** Cheap deterministic values in [-scale, scale]. */
function values(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const N = Number(args.N ?? (quick ? 512 : 4096));
  const C = Number(args.C ?? 1024);
  const T = Number(args.T ?? (quick ? 64 : 256));
  const n = N * C;
  const x = values(n, 1, 8);
  const g = values(n, 2, 1);
  const x64 = Float64Array.from(x);
  const y64 = new Float64Array(n);
  refForward(y64, x64, N, C);
  const y = Float32Array.from(y64);
  const inp = rt.pool.acquire(n * 4, 'bench');
  const dout = rt.pool.acquire(n * 4, 'bench');
  const yBuf = rt.pool.acquire(n * 4, 'bench');
  const out = rt.pool.acquire(n * 4, 'bench');
  rt.write(inp, 0, x);
  rt.write(dout, 0, g);
  rt.write(yBuf, 0, y);
  let live = 0;
  const dispose = () => {
    if (--live === 0) for (const b of [inp, dout, yBuf, out]) rt.pool.release(b);
  };
  const shape = { N, C };
  const tune = (backward = false) => {
    const t = softmaxTuning(rt, { N, C }, backward);
    return `WG=${t.WG} VPT=${t.VPT} ${t.reduction}`;
  };

  const list: BenchCase[] = [];
  live++;
  list.push({
    kernel: 'softmax',
    variant: `forward vec4 ${tune()}`,
    shape,
    bytes: 8 * n,
    run: () => softmaxForward(rt, { out, inp }, { N, C }),
    naive: () => naiveSoftmaxForward(rt, { out, inp }, N, C),
    async validate() {
      softmaxForward(rt, { out, inp }, { N, C });
      assertClose(new Float32Array(await rt.read(out, 0, n * 4)), y64, 'f32Math', 'softmax forward');
    },
    dispose,
  });
  live++;
  list.push({
    kernel: 'softmax',
    variant: `log forward vec4 ${tune()}`,
    shape,
    bytes: 8 * n,
    run: () => softmaxForward(rt, { out, inp }, { N, C, log: true }),
    async validate() {
      softmaxForward(rt, { out, inp }, { N, C, log: true });
      const want = new Float64Array(n);
      logSoftmaxForward(want, x64, N, C);
      assertClose(new Float32Array(await rt.read(out, 0, n * 4)), want, 'f32Math', 'log-softmax forward');
    },
    dispose,
  });
  live++;
  list.push({
    kernel: 'softmax',
    variant: `backward vec4 ${tune(true)}`,
    shape,
    bytes: 12 * n,
    run: () => softmaxBackward(rt, { dinp: out, dout, out: yBuf }, { N, C }),
    naive: () => naiveSoftmaxBackward(rt, { dinp: out, dout, out: yBuf }, N, C),
    async validate() {
      softmaxBackward(rt, { dinp: out, dout, out: yBuf }, { N, C });
      const want = new Float64Array(n);
      refBackward(want, Float64Array.from(g), Float64Array.from(y), N, C);
      assertClose(new Float32Array(await rt.read(out, 0, n * 4)), want, 'f32Reduce', 'softmax backward');
    },
    dispose,
  });

  // Causal scores: rows of T, row r keeps columns <= r % T. Bytes: the kept inputs, all outputs.
  const rowsC = Math.floor(n / T / T) * T;
  if (rowsC > 0) {
    let kept = 0;
    for (let r = 0; r < rowsC; r++) kept += (r % T) + 1;
    live++;
    list.push({
      kernel: 'softmax',
      variant: `causal forward vec4 ${(() => {
        const t = softmaxTuning(rt, { N: rowsC, C: T });
        return `WG=${t.WG} VPT=${t.VPT} ${t.reduction}`;
      })()}`,
      shape: { N: rowsC, C: T, causalT: T },
      bytes: 4 * (kept + rowsC * T),
      run: () => softmaxForward(rt, { out, inp }, { N: rowsC, C: T, causalT: T }),
      async validate() {
        softmaxForward(rt, { out, inp }, { N: rowsC, C: T, causalT: T });
        const want = new Float64Array(rowsC * T);
        for (let r = 0; r < rowsC; r++) {
          const keep = (r % T) + 1;
          const row = new Float64Array(keep);
          refForward(row, x64.subarray(r * T, r * T + keep), 1, keep);
          want.set(row, r * T);
        }
        assertClose(new Float32Array(await rt.read(out, 0, rowsC * T * 4)), want, 'f32Math', 'causal softmax forward');
      },
      dispose,
    });
  }
  return list;
}

export default { name: 'softmax', cases } satisfies BenchModule;
