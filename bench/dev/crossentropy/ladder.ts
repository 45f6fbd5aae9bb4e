// The cross-entropy ladder: the training step's fused loss and gradient. losses[n] = logsumexp of
// logits[n, :V] - logits[n, target], loss = their mean, dlogits = (softmax - onehot) / N; logits
// rows padded to Vp columns (padding gets 0 in dlogits). See NOTES.md.
import { crossEntropyFused, type CrossEntropyVariant } from '../../../kernels/crossentropy.ts';
import { crossEntropyBackward as refBackward, crossEntropyForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveCrossEntropy } from '../../baselines/crossentropy-naive.ts';
import { rowTuning } from '../softmax/ladder.ts';
import { poison, readF32, upload, values, type Dims, type Ladder, type Problem, type Tune } from '../ladder.ts';

interface CrossEntropyProblem extends Problem {
  N: number;
  V: number;
  Vp: number;
  bufs: {
    losses: GPUBuffer;
    loss: GPUBuffer;
    dlogits: GPUBuffer;
    logits: GPUBuffer;
    targets: GPUBuffer;
    dloss: GPUBuffer;
  };
}

/** Rows padded to a multiple of 64 columns, as GPT-2's 50257 -> 50304. */
const padded = (V: number) => Math.ceil(V / 64) * 64;

function setup(rt: Runtime, d: Dims): CrossEntropyProblem {
  const { N, V } = d as { N: number; V: number };
  const Vp = padded(V);
  const logits = values(N * Vp, 1, -6, 6);
  const targets = Int32Array.from(values(N, 2, 0, V), Math.floor);
  const bufs = {
    losses: rt.pool.acquire(Math.max(16, N * 4), 'dev-crossentropy'),
    loss: rt.pool.acquire(16, 'dev-crossentropy'),
    dlogits: rt.pool.acquire(N * Vp * 4, 'dev-crossentropy'),
    logits: upload(rt, logits, 'dev-crossentropy'),
    targets: upload(rt, targets, 'dev-crossentropy'),
    dloss: upload(rt, new Float32Array([1]), 'dev-crossentropy'),
  };
  return {
    N,
    V,
    Vp,
    bufs,
    bytes: 8 * N * Vp,
    reset() {
      poison(rt, bufs.losses, N);
      poison(rt, bufs.loss, 1);
      poison(rt, bufs.dlogits, N * Vp);
    },
    async check(label) {
      const x = Float64Array.from(logits);
      const losses = new Float64Array(N);
      const loss = refForward(losses, x, targets, N, V, Vp);
      const dlogits = new Float64Array(N * Vp);
      refBackward(dlogits, x, targets, N, V, Vp, -1, 1);
      assertClose(await readF32(rt, bufs.losses, N), losses, 'f32Math', `${label} losses`);
      assertClose(await readF32(rt, bufs.loss, 1), [loss], 'f32Reduce', `${label} loss`);
      assertClose(await readF32(rt, bufs.dlogits, N * Vp), dlogits, 'f32Math', `${label} dlogits`);
    },
    dispose: () => Object.values(bufs).forEach((x) => rt.pool.release(x)),
  };
}

const shipped =
  (variant: CrossEntropyVariant) =>
  (rt: Runtime, p: CrossEntropyProblem, t: Tune): void =>
    crossEntropyFused(rt, p.bufs, { N: p.N, V: p.V, Vp: p.Vp, variant, tuning: rowTuning(t) });

export const ladder: Ladder<CrossEntropyProblem> = {
  kernel: 'crossentropy',
  problem: 'losses, mean loss and dlogits of N rows of V logits (rows padded to Vp = 64·⌈V/64⌉)',
  dims: { N: 256, V: 8192 },
  tinyDims: { N: 8, V: 100 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/crossentropy-naive.wgsl',
      what: 'one invocation per row, three scalar passes (max, sum of exp, loss and dlogits)',
      run: (rt, p) => naiveCrossEntropy(rt, p.bufs, p.N, p.V, p.Vp, true),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/crossentropy.wgsl',
      what: 'shipped scalar entry: a workgroup per row, online softmax statistics, then dlogits',
      tunables: ['WG', 'VPT', 'reduction'],
      run: shipped('scalar'),
    },
    {
      n: 3,
      name: 'vec4',
      file: 'kernels/crossentropy.wgsl',
      what: 'shipped: the same with vec4 chunks',
      tunables: ['WG', 'VPT', 'reduction'],
      run: shipped('vec4'),
    },
  ],
};
