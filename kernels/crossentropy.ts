// Specs and dispatch sizes for kernels/crossentropy.wgsl: fused softmax cross-entropy with an
// ignore index and vocabulary padding; per-row losses, their mean and dlogits, all on the GPU.
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import {
  loadRowKernel,
  rowPass,
  pickRowTuning,
  resolveTuning,
  rowBlocks,
  slice,
  type Reduction,
  type RowTuning,
} from './rowreduce.ts';

const params = [
  ['N', 'u32'],
  ['V', 'u32'],
  ['Vp', 'u32'],
  ['ignore', 'i32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type CrossEntropyVariant = 'vec4' | 'scalar';
type Entry = 'crossentropy_forward_backward' | 'crossentropy_count' | 'crossentropy_mean';

const BINDINGS: Record<Entry, KernelSpec['bindings']> = {
  crossentropy_forward_backward: [
    ['losses', 'rw'],
    ['dlogits', 'rw'],
    ['logits', 'read'],
    ['targets', 'read'],
    ['dloss', 'read'],
    ['stats', 'read'],
  ],
  crossentropy_count: [
    ['stats', 'rw'],
    ['targets', 'read'],
  ],
  crossentropy_mean: [
    ['loss', 'rw'],
    ['losses', 'read'],
    ['targets', 'read'],
  ],
};

/** The online-softmax row pass for each variant (the kernel includes it as gen/row-pass.wgsl). */
const ROW_PASS = rowPass(['scalar', 'vec4']);

const specs = new Map<string, KernelSpec>();

/** The spec of one entry point linked with one reduction (built once, then cached). */
export function crossEntropySpec(entry: Entry, variant: CrossEntropyVariant, reduction: Reduction): KernelSpec {
  const entryPoint = entry === 'crossentropy_forward_backward' ? `${entry}_${variant}` : entry;
  const key = `${entryPoint}/${reduction}`;
  let spec = specs.get(key);
  if (!spec) {
    spec = {
      name: `crossentropy.${entryPoint}${reduction === 'subgroup' ? '+subgroups' : ''}`,
      wgsl: loadRowKernel('crossentropy.wgsl', reduction, { 'gen/row-pass.wgsl': ROW_PASS }),
      entryPoint,
      params,
      bindings: BINDINGS[entry],
    };
    specs.set(key, spec);
  }
  return spec;
}

export interface CrossEntropyShape {
  /** Rows (B·T). */
  N: number;
  /** Vocabulary: the columns that take part. */
  V: number;
  /** Row stride of logits / dlogits (padded vocabulary), >= V. */
  Vp: number;
  /** Target value of rows to ignore; default -1. */
  ignoreIndex?: number;
  /** vec4 whenever Vp % 4 == 0; set to force one (tests, benches). */
  variant?: CrossEntropyVariant;
  /** Override the per-adapter choice of WG / VPT / reduction (tests, benches). */
  tuning?: Partial<RowTuning>;
  /** Pretend storage bindings hold at most this many bytes (tests of the row-block split). */
  maxBindingBytes?: number;
}

/** The configuration a call with this shape uses on this runtime (see rowreduce.ts). */
export function crossEntropyTuning(rt: Runtime, s: CrossEntropyShape): RowTuning {
  return resolveTuning(rt, 'crossentropy', pickRowTuning(rt, Math.ceil(s.Vp / 4)), s.tuning);
}

interface Plan {
  variant: CrossEntropyVariant;
  t: RowTuning;
  ignore: number;
}

function plan(rt: Runtime, s: CrossEntropyShape): Plan {
  const { N, V, Vp } = s;
  if (!(Number.isInteger(N) && N >= 0 && Number.isInteger(V) && V >= 1 && Number.isInteger(Vp) && Vp >= V)) {
    throw new Error(`crossentropy: bad shape N=${N} V=${V} Vp=${Vp} (need V >= 1, Vp >= V)`);
  }
  const variant = s.variant ?? (Vp % 4 === 0 ? 'vec4' : 'scalar');
  if (variant === 'vec4' && Vp % 4 !== 0)
    throw new Error(`crossentropy: the vec4 variant needs Vp % 4 == 0, got Vp=${Vp}`);
  const ignore = s.ignoreIndex ?? -1;
  if (!Number.isInteger(ignore) || (ignore >= 0 && ignore < V)) {
    throw new Error(`crossentropy: ignoreIndex ${ignore} must be an integer outside [0, V=${V})`);
  }
  return { variant, t: crossEntropyTuning(rt, s), ignore };
}

function count(rt: Runtime, p: Plan, s: CrossEntropyShape, targets: Buf, stats: GPUBuffer): void {
  rt.dispatch(crossEntropySpec('crossentropy_count', p.variant, p.t.reduction), {
    bindings: { stats, targets },
    params: { N: s.N, V: s.V, Vp: s.Vp, ignore: p.ignore },
    overrides: { WG: p.t.WG },
    workgroups: [1],
  });
}

function mean(rt: Runtime, p: Plan, s: CrossEntropyShape, b: { loss: Buf; losses: Buf; targets: Buf }): void {
  rt.dispatch(crossEntropySpec('crossentropy_mean', p.variant, p.t.reduction), {
    bindings: b,
    params: { N: s.N, V: s.V, Vp: s.Vp, ignore: p.ignore },
    overrides: { WG: p.t.WG },
    workgroups: [1],
  });
}

/** crossentropy_forward_backward over all rows, in blocks that fit one storage binding. */
function rows(
  rt: Runtime,
  p: Plan,
  s: CrossEntropyShape,
  b: { losses: Buf; dlogits: Buf; logits: Buf; targets: Buf; dloss: Buf; stats: Buf },
  write: { loss: boolean; grad: boolean },
): void {
  const { N, V, Vp } = s;
  const spec = crossEntropySpec('crossentropy_forward_backward', p.variant, p.t.reduction);
  const overrides = { WG: p.t.WG, VPT: p.t.VPT, LOSS: write.loss ? 1 : 0, GRAD: write.grad ? 1 : 0 };
  const rowBytes = Vp * 4;
  for (const [r0, n] of rowBlocks(rt, 'crossentropy', N, rowBytes, s.maxBindingBytes)) {
    const whole = n === N;
    const perRow = (buf: Buf, bytes: number, used: boolean) =>
      whole || !used ? buf : slice(buf, r0 * bytes, n * bytes);
    rt.dispatch(spec, {
      bindings: {
        losses: perRow(b.losses, 4, write.loss),
        dlogits: perRow(b.dlogits, rowBytes, write.grad),
        logits: perRow(b.logits, rowBytes, true),
        targets: perRow(b.targets, 4, true),
        dloss: b.dloss,
        stats: b.stats,
      },
      params: { N: n, V, Vp, ignore: p.ignore },
      overrides,
      workgroups: grid(n, 1),
    });
  }
}

/**
 * losses[n] = logsumexp(logits[n, :V]) - logits[n, targets[n]] (0 where targets[n] == ignoreIndex)
 * and loss[0] = their mean over the rows not ignored (0 if none), computed on the GPU.
 * losses, targets (i32): (N); logits: (N, Vp); loss: 1 float.
 */
export function crossEntropyForward(
  rt: Runtime,
  b: { losses: Buf; loss: Buf; logits: Buf; targets: Buf },
  s: CrossEntropyShape,
): void {
  const p = plan(rt, s);
  // Bindings the forward does not touch still need a buffer: a written one of its own, and one
  // for both read-only slots.
  const unusedOut = rt.pool.acquire(16, 'crossentropy-unused');
  const unusedIn = rt.pool.acquire(16, 'crossentropy-unused');
  rows(
    rt,
    p,
    s,
    { losses: b.losses, dlogits: unusedOut, logits: b.logits, targets: b.targets, dloss: unusedIn, stats: unusedIn },
    { loss: true, grad: false },
  );
  mean(rt, p, s, { loss: b.loss, losses: b.losses, targets: b.targets });
  rt.pool.release(unusedOut);
  rt.pool.release(unusedIn);
}

/**
 * dlogits[n, j] = dloss[0] / count * (softmax(logits[n, :V])[j] - [j == targets[n]]) for j < V,
 * count = rows not ignored (counted on the GPU); padded columns (j >= V) and ignored rows get 0.
 * dlogits is OVERWRITTEN. dloss: 1 float, the gradient of the mean loss (1 for plain training).
 */
export function crossEntropyBackward(
  rt: Runtime,
  b: { dlogits: Buf; logits: Buf; targets: Buf; dloss: Buf },
  s: CrossEntropyShape,
): void {
  const p = plan(rt, s);
  const stats = rt.pool.acquire(16, 'crossentropy-stats');
  const unused = rt.pool.acquire(16, 'crossentropy-unused');
  count(rt, p, s, b.targets, stats);
  rows(
    rt,
    p,
    s,
    { losses: unused, dlogits: b.dlogits, logits: b.logits, targets: b.targets, dloss: b.dloss, stats },
    { loss: false, grad: true },
  );
  rt.pool.release(stats);
  rt.pool.release(unused);
}

/**
 * The training step's cross-entropy: crossEntropyForward and crossEntropyBackward with one pass
 * over the logits for the row statistics and one for dlogits (plus two one-workgroup dispatches:
 * the count of kept rows before, the mean loss after).
 */
export function crossEntropyFused(
  rt: Runtime,
  b: { losses: Buf; loss: Buf; dlogits: Buf; logits: Buf; targets: Buf; dloss: Buf },
  s: CrossEntropyShape,
): void {
  const p = plan(rt, s);
  const stats = rt.pool.acquire(16, 'crossentropy-stats');
  count(rt, p, s, b.targets, stats);
  rows(
    rt,
    p,
    s,
    { losses: b.losses, dlogits: b.dlogits, logits: b.logits, targets: b.targets, dloss: b.dloss, stats },
    { loss: true, grad: true },
  );
  mean(rt, p, s, { loss: b.loss, losses: b.losses, targets: b.targets });
  rt.pool.release(stats);
}
