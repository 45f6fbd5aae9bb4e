// The embedding ladder: out[b, t, :] = wte[inp[b, t], :] + wpe[t, :]. See NOTES.md.
import { embeddingForward, type EmbeddingVariant } from '../../../kernels/embedding.ts';
import { encoderForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveEmbeddingForward } from '../../baselines/embedding-naive.ts';
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

interface EmbeddingProblem extends Problem {
  s: { B: number; T: number; C: number; V: number };
  bufs: { out: GPUBuffer; inp: GPUBuffer; wte: GPUBuffer; wpe: GPUBuffer };
}

function setup(rt: Runtime, d: Dims): EmbeddingProblem {
  const s = d as EmbeddingProblem['s'];
  const { B, T, C, V } = s;
  // Skewed ids (small ones common, as in text): repeated rows of wte, like the real lookup.
  const ids = Int32Array.from(values(B * T, 1, 0, 1), (u) => Math.floor(V * u ** 3));
  const wte = values(V * C, 2);
  const wpe = values(T * C, 3);
  const bufs = {
    out: rt.pool.acquire(B * T * C * 4, 'dev-embedding'),
    inp: upload(rt, ids, 'dev-embedding'),
    wte: upload(rt, wte, 'dev-embedding'),
    wpe: upload(rt, wpe, 'dev-embedding'),
  };
  return {
    s,
    bufs,
    // Each output row reads one row of wte and one of wpe and writes one.
    bytes: 4 * (3 * B * T * C + B * T),
    reset: () => poison(rt, bufs.out, B * T * C),
    async check(label) {
      const want = new Float64Array(B * T * C);
      refForward(want, ids, Float64Array.from(wte), Float64Array.from(wpe), B, T, C);
      assertClose(await readF32(rt, bufs.out, B * T * C), want, 'f32', label);
    },
    dispose: () => Object.values(bufs).forEach((x) => rt.pool.release(x)),
  };
}

const shipped =
  (variant: EmbeddingVariant) =>
  (rt: Runtime, p: EmbeddingProblem, t: Tune): void =>
    embeddingForward(rt, p.bufs, { ...p.s, variant, WG: tuneInt(t, 'WG'), RPW: tuneInt(t, 'RPW') });

export const ladder: Ladder<EmbeddingProblem> = {
  kernel: 'embedding',
  problem: 'out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]',
  dims: { B: 4, T: 256, C: 768, V: 8192 },
  tinyDims: { B: 2, T: 8, C: 16, V: 32 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/embedding-naive.wgsl',
      what: 'one invocation per output element',
      run: (rt, p) => naiveEmbeddingForward(rt, p.bufs, p.s),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/embedding.wgsl',
      what: 'shipped scalar entry: a workgroup per RPW rows, the id read once per row',
      tunables: ['WG', 'RPW'],
      run: shipped('scalar'),
    },
    {
      n: 3,
      name: 'vec4',
      file: 'kernels/embedding.wgsl',
      what: 'shipped: the same with vec4 columns',
      tunables: ['WG', 'RPW'],
      unsupported: (_rt, d) => (d.C! % 4 ? `needs C % 4 == 0, got C=${d.C}` : null),
      run: shipped('vec4'),
    },
  ],
};
