// Fused causal attention (FlashAttention-2 style) against the composed path it replaces
// (matmul -> causal softmax -> matmul, and its backward), which is each case's `naive` baseline.
// The bar: forward + backward at B=4, NH=4, T=256, HS=64 faster than the composed path.
// flops are the useful causal ones: forward 4·B·NH·HS·T(T+1)/2 (two matmuls over the lower
// triangle); the backward counts 2.5 times that (dv, dP, dq, dk and the recomputed S), the usual
// FlashAttention convention. The composed path does twice the arithmetic (full T×T products).
//   npm run bench -- attention [--B 4 --NH 4 --T 256 --HS 64] [--variants all]
import {
  attentionBackward,
  attentionComposed,
  attentionComposedBackward,
  attentionDecode,
  attentionForward,
  defaultAttentionVariant,
  type AttentionVariant,
} from '../kernels/attention.ts';
import { attentionBackward as refBackward, attentionForward as refForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
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
  const B = Number(args.B ?? (quick ? 1 : 4));
  const NH = Number(args.NH ?? 4);
  const T = Number(args.T ?? (quick ? 64 : 256));
  const HS = Number(args.HS ?? 64);
  const shape = { B, NH, T, HS };
  const n = B * NH * T * HS;
  const nl = B * NH * T;
  const host = { q: values(n, 1, 2), k: values(n, 2, 2), v: values(n, 3, 1), dout: values(n, 4, 1) };
  const f64 = (a: Float32Array) => Float64Array.from(a);
  const want = {
    out: new Float64Array(n),
    lse: new Float64Array(nl),
    dq: new Float64Array(n),
    dk: new Float64Array(n),
    dv: new Float64Array(n),
  };
  refForward(want.out, want.lse, f64(host.q), f64(host.k), f64(host.v), B, NH, T, HS);
  refBackward(
    want.dq,
    want.dk,
    want.dv,
    f64(host.dout),
    f64(host.q),
    f64(host.k),
    f64(host.v),
    want.out,
    want.lse,
    B,
    NH,
    T,
    HS,
  );

  const buf = (bytes: number) => rt.pool.acquire(bytes, 'bench');
  const [q, k, v, dout] = [host.q, host.k, host.v, host.dout].map((a) => {
    const b = buf(a.byteLength);
    rt.write(b, 0, a);
    return b;
  }) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const out = buf(n * 4),
    lse = buf(nl * 4),
    D = buf(nl * 4);
  const dq = buf(n * 4),
    dk = buf(n * 4),
    dv = buf(n * 4);
  const probs = buf(B * NH * T * T * 4);
  const all = [q, k, v, dout, out, lse, D, dq, dk, dv, probs];
  let live = 0;
  const dispose = () => {
    if (--live === 0) for (const b of all) rt.pool.release(b);
  };
  const read = async (b: GPUBuffer, len: number) => new Float32Array(await rt.read(b, 0, len * 4));

  const fwdFlops = (4 * B * NH * HS * T * (T + 1)) / 2;
  const composedForward = () => attentionComposed(rt, { out, probs, q, k, v }, shape);
  const composedBoth = () => {
    composedForward();
    attentionComposedBackward(rt, { dq, dk, dv, dout, q, k, v, probs }, shape);
  };

  const variants: AttentionVariant[] =
    args.variants === 'all'
      ? rt.features.has('subgroups') && rt.isSoftware
        ? ['subgroup', 'tiled']
        : ['tiled']
      : [defaultAttentionVariant(rt)];
  const list: BenchCase[] = [];
  for (const variant of variants) {
    const forward = () => attentionForward(rt, { out, lse, q, k, v }, shape, { variant });
    const both = () => {
      forward();
      attentionBackward(rt, { dq, dk, dv, dout, q, k, v, out, lse, scratch: D }, shape, { variant });
    };
    live++;
    list.push({
      kernel: 'attention',
      variant: `flash ${variant} forward+backward`,
      shape,
      flops: 3.5 * fwdFlops,
      run: both,
      naive: composedBoth,
      async validate() {
        both();
        assertClose(await read(out, n), want.out, 'f32Reduce', 'attention out');
        assertClose(await read(lse, nl), want.lse, 'f32Reduce', 'attention lse');
        assertClose(await read(dq, n), want.dq, 'f32Chain', 'attention dq');
        assertClose(await read(dk, n), want.dk, 'f32Chain', 'attention dk');
        assertClose(await read(dv, n), want.dv, 'f32Chain', 'attention dv');
        // The baseline must be right too, or the comparison means nothing.
        composedBoth();
        assertClose(await read(out, n), want.out, 'f32Reduce', 'composed out');
        assertClose(await read(dq, n), want.dq, 'f32Chain', 'composed dq');
      },
      dispose,
    });
    live++;
    list.push({
      kernel: 'attention',
      variant: `flash ${variant} forward`,
      shape,
      flops: fwdFlops,
      run: forward,
      naive: composedForward,
      async validate() {
        forward();
        assertClose(await read(out, n), want.out, 'f32Reduce', 'attention out');
      },
      dispose,
    });
  }

  // Decoding: one new token per sequence against a KV cache of maxT rows filled up to T.
  // The cache here is k and v themselves (maxT = T) and the query is the last row of each head.
  const qLast = buf(B * NH * HS * 4),
    outLast = buf(B * NH * HS * 4);
  const qHost = new Float32Array(B * NH * HS);
  const wantLast = new Float64Array(B * NH * HS);
  for (let bh = 0; bh < B * NH; bh++) {
    qHost.set(host.q.subarray((bh * T + T - 1) * HS, (bh * T + T) * HS), bh * HS);
    wantLast.set(want.out.subarray((bh * T + T - 1) * HS, (bh * T + T) * HS), bh * HS);
  }
  rt.write(qLast, 0, qHost);
  const decode = () =>
    attentionDecode(rt, { out: outLast, q: qLast, k, v }, { B, NH, Tq: 1, qOffset: T - 1, maxT: T, HS });
  live++;
  list.push({
    kernel: 'attention',
    variant: `decode ${defaultAttentionVariant(rt)} (1 token)`,
    shape: { B, NH, Tq: 1, Tk: T, HS },
    flops: 4 * B * NH * HS * T,
    run: decode,
    async validate() {
      decode();
      assertClose(await read(outLast, B * NH * HS), wantLast, 'f32Reduce', 'attention decode');
    },
    dispose: () => {
      rt.pool.release(qLast);
      rt.pool.release(outLast);
      dispose();
    },
  });
  return list;
}

export default { name: 'attention', cases } satisfies BenchModule;
