// The attention ladder: causal self-attention forward, out = softmax(q·kᵀ/√HS, causal)·v, with
// q, k, v, out of shape (B, NH, T, HS). See NOTES.md.
import { attentionComposed, attentionForward, type AttentionVariant } from '../../../kernels/attention.ts';
import { attentionForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import {
  poison,
  readF32,
  tuneInt,
  upload,
  values,
  type Dims,
  type Ladder,
  type Problem,
  type Tune,
} from '../ladder.ts';

interface AttentionProblem extends Problem {
  s: { B: number; NH: number; T: number; HS: number };
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  out: GPUBuffer;
  /** The fused kernels' log-sum-exp per row (B, NH, T); the composed one's probabilities (B, NH, T, T). */
  lse: GPUBuffer;
  probs: GPUBuffer;
}

function setup(rt: Runtime, d: Dims): AttentionProblem {
  const s = d as AttentionProblem['s'];
  const { B, NH, T, HS } = s;
  const n = B * NH * T * HS;
  const x = [values(n, 1), values(n, 2), values(n, 3)] as const;
  const [q, k, v] = x.map((a) => upload(rt, a, 'dev-attention'));
  const out = rt.pool.acquire(n * 4, 'dev-attention');
  const lse = rt.pool.acquire(B * NH * T * 4, 'dev-attention');
  const probs = rt.pool.acquire(B * NH * T * T * 4, 'dev-attention');
  return {
    s,
    q: q!,
    k: k!,
    v: v!,
    out,
    lse,
    probs,
    // The useful causal work: two matmuls over the lower triangle of the T x T scores.
    flops: 4 * B * NH * HS * ((T * (T + 1)) / 2),
    reset: () => poison(rt, out, n),
    async check(label) {
      const want = new Float64Array(n);
      const f = (a: Float32Array) => Float64Array.from(a);
      refForward(want, new Float64Array(B * NH * T), f(x[0]), f(x[1]), f(x[2]), B, NH, T, HS);
      assertClose(await readF32(rt, out, n), want, 'f32Reduce', label);
    },
    dispose: () => [q!, k!, v!, out, lse, probs].forEach((b) => rt.pool.release(b)),
  };
}

const fused =
  (variant: AttentionVariant) =>
  (rt: Runtime, p: AttentionProblem, t: Tune): void =>
    attentionForward(rt, { out: p.out, lse: p.lse, q: p.q, k: p.k, v: p.v }, p.s, {
      variant,
      BR: tuneInt(t, 'BR'),
      BC: tuneInt(t, 'BC'),
      WG: tuneInt(t, 'WG'),
    });

export const ladder: Ladder<AttentionProblem> = {
  kernel: 'attention',
  problem: 'out = softmax(q·kᵀ/√HS, causal)·v, (B, NH, T, HS)',
  dims: { B: 1, NH: 4, T: 256, HS: 64 },
  tinyDims: { B: 1, NH: 2, T: 16, HS: 16 },
  setup,
  versions: [
    {
      n: 1,
      name: 'composed',
      file: 'kernels/attention.ts',
      what: 'attentionComposed: scale, matmul q·kᵀ, causal softmax, matmul with v; the T x T scores in memory',
      run: (rt, p) => attentionComposed(rt, { out: p.out, probs: p.probs, q: p.q, k: p.k, v: p.v }, p.s),
    },
    {
      n: 2,
      name: 'tiled',
      file: 'kernels/attention.wgsl',
      what: 'shipped for GPUs: fused flash attention, BR query rows x BC key tiles in workgroup memory',
      tunables: ['BR', 'BC'],
      run: fused('tiled'),
    },
    {
      n: 3,
      name: 'subgroup',
      file: 'kernels/attention-subgroup.wgsl',
      what: 'shipped for CPU adapters: 4 rows per lane, key rows shared by subgroupShuffle',
      tunables: ['WG'],
      unsupported: (rt) =>
        rt.features.has('subgroups') && (rt.info.subgroupMinSize ?? 0) >= 8 ? null : 'needs subgroups of >= 8 lanes',
      run: fused('subgroup'),
    },
  ],
};
