// Specs and dispatch sizes for kernels/layernorm.wgsl: layer normalisation forward (saving mean
// and rstd) and backward (dinp, and dweight / dbias reduced in two deterministic stages).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadRowKernel, resolveTuning, subgroupMinSize, type Reduction, type RowTuning } from './rowreduce.ts';

const params = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['eps', 'f32'],
  ['G', 'u32'],
  ['accumulate', 'u32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type LayernormVariant = 'vec4' | 'scalar';
type Entry = 'layernorm_forward' | 'layernorm_forward_cached' | 'layernorm_backward' | 'layernorm_backward_params';

const BINDINGS: Record<Entry, KernelSpec['bindings']> = {
  layernorm_forward: [
    ['out', 'rw'],
    ['mean', 'rw'],
    ['rstd', 'rw'],
    ['inp', 'read'],
    ['weight', 'read'],
    ['bias', 'read'],
  ],
  layernorm_forward_cached: [
    ['out', 'rw'],
    ['mean', 'rw'],
    ['rstd', 'rw'],
    ['inp', 'read'],
    ['weight', 'read'],
    ['bias', 'read'],
  ],
  layernorm_backward: [
    ['dinp', 'rw'],
    ['partial', 'rw'],
    ['dout', 'read'],
    ['inp', 'read'],
    ['weight', 'read'],
    ['mean', 'read'],
    ['rstd', 'read'],
  ],
  layernorm_backward_params: [
    ['dweight', 'rw'],
    ['dbias', 'rw'],
    ['partial', 'read'],
  ],
};

const MAX_ROWS = 16;
const specs = new Map<string, KernelSpec>();

/** The spec of one entry point linked with one reduction (built once, then cached). */
export function layernormSpec(entry: Entry, variant: LayernormVariant, reduction: Reduction): KernelSpec {
  const entryPoint = entry === 'layernorm_forward_cached' ? entry : `${entry}_${variant}`;
  const key = `${entryPoint}/${reduction}`;
  let spec = specs.get(key);
  if (!spec) {
    spec = {
      name: `layernorm.${entryPoint}${reduction === 'subgroup' ? '+subgroups' : ''}`,
      wgsl: loadRowKernel('layernorm.wgsl', reduction),
      entryPoint,
      params,
      bindings: BINDINGS[entry],
    };
    specs.set(key, spec);
  }
  return spec;
}

/** WG invocations per workgroup, ROWS rows per workgroup, and the reduction. */
export interface LayernormTuning {
  WG: number;
  ROWS: number;
  reduction: Reduction;
  /** Forward only: chunks of 4 columns each invocation caches (layernorm_forward_cached); 0 = stream the row twice. */
  VPT: number;
}

/** The cached forward's VPT values (each is a pipeline of its own): the smallest that holds the row. */
const VPT_LADDER = [2, 4, 8, 16, 24, 32];

export interface LayernormShape {
  N: number;
  C: number;
  /** vec4 whenever C % 4 == 0; set to force one (tests, benches). */
  variant?: LayernormVariant;
  /** Override the per-adapter choice (tests, benches). */
  tuning?: Partial<LayernormTuning>;
}

/**
 * lavapipe: WG = 8 (its SIMD width and subgroup size: reductions without barriers). The forward
 * caches the row in registers (layernorm_forward_cached) with the smallest VPT of VPT_LADDER that
 * holds it (VPT = 32 at C = 768 ran 15 % slower than 24: the empty chunks still cost), 16 rows per
 * workgroup sharing the cached weight and bias. The backward (and a forward of longer rows)
 * streams 4 rows per workgroup, so a chunk of weight and bias is loaded once per 4 rows (8 or 16
 * measured the same and compile two or four times as long: the rows are unrolled; 1 row is 1.4x
 * slower).
 * A GPU (not tuned on one yet): the forward takes a subgroup (warp) per row while a row has at
 * most 8 chunks per invocation, else 64..256 invocations with the workgroup-memory tree; the
 * backward takes 16 rows per workgroup of 64..256 invocations, so that the partial sums of
 * dweight / dbias (G = N / 16 rows of them) stay small next to the tensors.
 */
export function layernormTuning(rt: Runtime, s: LayernormShape, backward = false): LayernormTuning {
  const chunks = Math.ceil(s.C / 4);
  const sg = subgroupMinSize(rt);
  const wide = (perInvocation: number) =>
    Math.min(256, Math.max(64, 2 ** Math.ceil(Math.log2(chunks / perInvocation))));
  let auto: LayernormTuning;
  if (rt.isSoftware) {
    const WG = sg >= 4 ? sg : 8;
    const reduction = sg >= 4 ? 'subgroup' : 'workgroup';
    const VPT = backward || s.C % 4 !== 0 ? 0 : (VPT_LADDER.find((v) => v * WG >= chunks) ?? 0);
    auto = VPT > 0 ? { WG, ROWS: 16, reduction, VPT } : { WG, ROWS: 4, reduction, VPT: 0 };
  } else if (backward) auto = { WG: wide(2), ROWS: 16, reduction: 'workgroup', VPT: 0 };
  else if (sg >= 4 && chunks <= 8 * sg) auto = { WG: sg, ROWS: 1, reduction: 'subgroup', VPT: 0 };
  else auto = { WG: wide(8), ROWS: 1, reduction: 'workgroup', VPT: 0 };
  // A forced geometry without VPT means the streaming forward (its ROWS and WG are for that one).
  const t = {
    ...auto,
    ...s.tuning,
    ...(s.tuning && s.tuning.VPT === undefined ? { VPT: 0, ROWS: s.tuning.ROWS ?? 4 } : {}),
  };
  if (!Number.isInteger(t.ROWS) || t.ROWS < 1 || t.ROWS > MAX_ROWS)
    throw new Error(`layernorm: ROWS must be an integer in 1..${MAX_ROWS}, got ${t.ROWS}`);
  const checked = resolveTuning(rt, 'layernorm', { WG: t.WG, VPT: t.VPT, reduction: t.reduction } satisfies RowTuning);
  if (checked.VPT > 0 && !backward && checked.VPT * checked.WG * 4 < s.C) {
    throw new Error(
      `layernorm: VPT=${checked.VPT} chunks x WG=${checked.WG} invocations x 4 cannot hold a row of C=${s.C}`,
    );
  }
  return { WG: checked.WG, ROWS: t.ROWS, reduction: checked.reduction, VPT: backward ? 0 : checked.VPT };
}

function check(s: LayernormShape, rt: Runtime): LayernormVariant {
  const { N, C } = s;
  if (!(Number.isInteger(N) && N >= 0 && Number.isInteger(C) && C >= 1))
    throw new Error(`layernorm: bad shape N=${N} C=${C}`);
  const variant = s.variant ?? (C % 4 === 0 ? 'vec4' : 'scalar');
  if (variant === 'vec4' && C % 4 !== 0) throw new Error(`layernorm: the vec4 variant needs C % 4 == 0, got C=${C}`);
  if (N * C * 4 > rt.limits.maxStorageBufferBindingSize) {
    throw new Error(
      `layernorm: ${N} x ${C} floats exceed one storage binding (${rt.limits.maxStorageBufferBindingSize} bytes)`,
    );
  }
  return variant;
}

/**
 * out = (inp - mean) * rstd * weight + bias per row of C; writes mean and rstd (N) for the
 * backward. inp, out: (N, C); weight, bias: (C). eps defaults to 1e-5 (GPT-2's).
 */
export function layernormForward(
  rt: Runtime,
  b: { out: Buf; mean: Buf; rstd: Buf; inp: Buf; weight: Buf; bias: Buf },
  s: LayernormShape & { eps?: number },
): void {
  const variant = check(s, rt);
  const t = layernormTuning(rt, s);
  const cached = variant === 'vec4' && t.VPT > 0;
  const spec = layernormSpec(cached ? 'layernorm_forward_cached' : 'layernorm_forward', variant, t.reduction);
  rt.dispatch(spec, {
    bindings: b,
    params: { N: s.N, C: s.C, eps: s.eps ?? 1e-5, G: 0, accumulate: 0 },
    overrides: cached ? { WG: t.WG, ROWS: t.ROWS, VPT: t.VPT } : { WG: t.WG, ROWS: t.ROWS },
    workgroups: grid(s.N, t.ROWS),
  });
}

/**
 * dinp = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), dnorm = weight * dout,
 * norm = (inp - mean) * rstd: dinp is always OVERWRITTEN. dweight = sum_rows dout * norm and
 * dbias = sum_rows dout are written, or added to when `accumulate` (several uses of one weight).
 * Two dispatches: per-block partial sums into a scratch buffer from rt.pool (released once
 * recorded: the pool hands it out again only to later work, which the queue orders after this),
 * then one invocation per column sums the partials in a fixed order.
 */
export function layernormBackward(
  rt: Runtime,
  b: { dinp: Buf; dweight: Buf; dbias: Buf; dout: Buf; inp: Buf; weight: Buf; mean: Buf; rstd: Buf },
  s: LayernormShape & { accumulate?: boolean },
): void {
  const variant = check(s, rt);
  const { N, C } = s;
  const t = layernormTuning(rt, s, true);
  const [gx, gy] = grid(N, t.ROWS);
  const G = Math.ceil(N / t.ROWS);
  const partial = rt.pool.acquire(Math.max(16, 2 * G * C * 4), 'layernorm-partial');
  if (N > 0) {
    rt.dispatch(layernormSpec('layernorm_backward', variant, t.reduction), {
      bindings: { dinp: b.dinp, partial, dout: b.dout, inp: b.inp, weight: b.weight, mean: b.mean, rstd: b.rstd },
      params: { N, C, eps: 0, G, accumulate: 0 },
      overrides: { WG: t.WG, ROWS: t.ROWS },
      workgroups: [gx, gy],
    });
  }
  // Stage 2 uses no reduction; the portable link works on every device.
  const WG2 = 64;
  const items = variant === 'vec4' ? C / 4 : C;
  rt.dispatch(layernormSpec('layernorm_backward_params', variant, 'workgroup'), {
    bindings: { dweight: b.dweight, dbias: b.dbias, partial },
    params: { N, C, eps: 0, G, accumulate: s.accumulate ? 1 : 0 },
    overrides: { WG: WG2, ROWS: 1 },
    workgroups: [Math.ceil(items / WG2)],
  });
  rt.pool.release(partial);
}
