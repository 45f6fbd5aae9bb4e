// GELU forward and backward over a GPT-2 MLP activation (B·T × 4C), vec4 and scalar.
import { geluBackward, geluForward, type GeluVariant } from '../kernels/gelu.ts';
import { geluBackward as refBackward, geluForward as refForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveGeluBackward, naiveGeluForward } from './baselines/gelu-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

/** Cheap deterministic activations in about [-4, 4]. */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296) * 8 - 4;
  }
  return a;
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const B = Number(args.B ?? (quick ? 1 : 4));
  const T = Number(args.T ?? (quick ? 256 : 1024));
  const C4 = Number(args.C4 ?? 3072);
  const n = B * T * C4;
  const shape = { B, T, C4, n };
  const x = values(n, 1);
  const g = values(n, 2);
  const inp = rt.pool.acquire(n * 4, 'bench');
  const dout = rt.pool.acquire(n * 4, 'bench');
  const out = rt.pool.acquire(n * 4, 'bench');
  rt.write(inp, 0, x);
  rt.write(dout, 0, g);
  let live = 0;
  const dispose = () => {
    if (--live === 0) for (const b of [inp, dout, out]) rt.pool.release(b);
  };
  const x64 = Float64Array.from(x);

  const list: BenchCase[] = [];
  for (const variant of ['vec4', 'scalar'] as GeluVariant[]) {
    live += 2;
    list.push({
      kernel: 'gelu',
      variant: `forward ${variant}`,
      shape,
      bytes: 8 * n,
      run: () => geluForward(rt, { out, inp }, { n, variant }),
      naive: () => naiveGeluForward(rt, { out, inp }, n),
      async validate() {
        geluForward(rt, { out, inp }, { n, variant });
        const got = new Float32Array(await rt.read(out, 0, n * 4));
        const want = new Float64Array(n);
        refForward(want, x64, n);
        assertClose(got, want, 'f32Math', `gelu forward ${variant}`);
      },
      dispose,
    });
    list.push({
      kernel: 'gelu',
      variant: `backward ${variant}`,
      shape,
      bytes: 12 * n,
      run: () => geluBackward(rt, { dinp: out, inp, dout }, { n, variant }),
      naive: () => naiveGeluBackward(rt, { dinp: out, inp, dout }, n),
      async validate() {
        geluBackward(rt, { dinp: out, inp, dout }, { n, variant });
        const got = new Float32Array(await rt.read(out, 0, n * 4));
        const want = new Float64Array(n);
        refBackward(want, x64, Float64Array.from(g), n);
        assertClose(got, want, 'f32Math', `gelu backward ${variant}`);
      },
      dispose,
    });
  }
  return list;
}

export default { name: 'gelu', cases } satisfies BenchModule;
