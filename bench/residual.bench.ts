// Residual add over a GPT-2 residual stream (B·T × C), vec4 and scalar, and the accumulating
// backward (which the engine normally skips: the gradient passes through unchanged).
import { residualBackward, residualForward, type ResidualVariant } from '../kernels/residual.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveResidualForward } from './baselines/residual-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const B = Number(args.B ?? (quick ? 1 : 4));
  const T = Number(args.T ?? (quick ? 256 : 1024));
  const C = Number(args.C ?? 768);
  const n = B * T * C;
  const shape = { B, T, C, n };
  const x = values(n, 1);
  const y = values(n, 2);
  const inp1 = rt.pool.acquire(n * 4, 'bench');
  const inp2 = rt.pool.acquire(n * 4, 'bench');
  const out = rt.pool.acquire(n * 4, 'bench');
  rt.write(inp1, 0, x);
  rt.write(inp2, 0, y);
  let live = 0;
  const dispose = () => {
    if (--live === 0) for (const b of [inp1, inp2, out]) rt.pool.release(b);
  };

  const list: BenchCase[] = [];
  for (const variant of ['vec4', 'scalar'] as ResidualVariant[]) {
    live++;
    list.push({
      kernel: 'residual',
      variant: `forward ${variant}`,
      shape,
      bytes: 12 * n,
      run: () => residualForward(rt, { out, inp1, inp2 }, { n, variant }),
      naive: () => naiveResidualForward(rt, { out, inp1, inp2 }, n),
      async validate() {
        residualForward(rt, { out, inp1, inp2 }, { n, variant });
        const got = new Float32Array(await rt.read(out, 0, n * 4));
        const want = Float64Array.from(x, (a, i) => a + y[i]!);
        assertClose(got, want, 'f32', `residual forward ${variant}`);
      },
      dispose,
    });
  }
  // Backward: dinp1 += dout and dinp2 += dout, into `out` and `inp2` (both read and written).
  live++;
  list.push({
    kernel: 'residual',
    variant: 'backward vec4 (accumulating)',
    shape,
    bytes: 20 * n,
    run: () => residualBackward(rt, { dinp1: out, dinp2: inp2, dout: inp1 }, { n }),
    async validate() {
      rt.write(out, 0, y);
      const before = new Float32Array(await rt.read(inp2, 0, n * 4));
      residualBackward(rt, { dinp1: out, dinp2: inp2, dout: inp1 }, { n });
      const got1 = new Float32Array(await rt.read(out, 0, n * 4));
      const got2 = new Float32Array(await rt.read(inp2, 0, n * 4));
      assertClose(
        got1,
        Float64Array.from(y, (a, i) => a + x[i]!),
        'f32',
        'dinp1',
      );
      assertClose(
        got2,
        Float64Array.from(before, (a, i) => a + x[i]!),
        'f32',
        'dinp2',
      );
    },
    dispose,
  });
  return list;
}

export default { name: 'residual', cases } satisfies BenchModule;
