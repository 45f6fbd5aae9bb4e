// Specs and dispatch sizes for kernels/softmax.wgsl: row-wise softmax / log-softmax over the last
// axis, forward (optionally causally masked) and backward.
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
  ['C', 'u32'],
  ['causalT', 'u32'],
  ['row0', 'u32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type SoftmaxVariant = 'vec4' | 'scalar';

const FORWARD_BINDINGS = [
  ['out', 'rw'],
  ['inp', 'read'],
] as const;
const BACKWARD_BINDINGS = [
  ['dinp', 'rw'],
  ['dout', 'read'],
  ['out', 'read'],
] as const;

/** The online-softmax row pass for each variant (the kernel includes it as gen/row-pass.wgsl). */
const ROW_PASS = rowPass(['scalar', 'vec4']);

const specs = new Map<string, KernelSpec>();

/** The spec of one entry point linked with one reduction (built once, then cached). */
export function softmaxSpec(
  entry: 'softmax_forward' | 'softmax_backward',
  variant: SoftmaxVariant,
  reduction: Reduction,
): KernelSpec {
  const entryPoint = `${entry}_${variant}`;
  const key = `${entryPoint}/${reduction}`;
  let spec = specs.get(key);
  if (!spec) {
    spec = {
      name: `softmax.${entryPoint}${reduction === 'subgroup' ? '+subgroups' : ''}`,
      wgsl: loadRowKernel('softmax.wgsl', reduction, { 'gen/row-pass.wgsl': ROW_PASS }),
      entryPoint,
      params,
      bindings: entry === 'softmax_forward' ? FORWARD_BINDINGS : BACKWARD_BINDINGS,
    };
    specs.set(key, spec);
  }
  return spec;
}

export interface SoftmaxShape {
  /** Rows. */
  N: number;
  /** Row length (the softmax axis). */
  C: number;
  /** Log-softmax instead of softmax. */
  log?: boolean;
  /** vec4 whenever C % 4 == 0; set to force one (tests, benches). */
  variant?: SoftmaxVariant;
  /** Override the per-adapter choice of WG / VPT / reduction (tests, benches). */
  tuning?: Partial<RowTuning>;
  /** Pretend storage bindings hold at most this many bytes (tests of the row-block split). */
  maxBindingBytes?: number;
}

/** The configuration a call with this shape uses on this runtime. */
export function softmaxTuning(rt: Runtime, s: SoftmaxShape, backward = false): RowTuning {
  // The backward keeps two arrays (dout and out) in registers on a GPU: half the chunks per
  // invocation. On lavapipe it keeps none: with no exp to save, re-reading a row costs less than
  // the spills and code size of the register cache (3.9 vs 2.8 GB/s at 4096 x 1024,
  // bench/dev/softmax/NOTES.md).
  const auto = pickRowTuning(rt, Math.ceil(s.C / 4), backward ? 4 : 8);
  if (backward && rt.isSoftware) auto.VPT = 0;
  return resolveTuning(rt, 'softmax', auto, s.tuning);
}

function run(
  rt: Runtime,
  entry: 'softmax_forward' | 'softmax_backward',
  b: Record<string, Buf>,
  s: SoftmaxShape,
  causalT: number,
): void {
  const { N, C } = s;
  if (!(Number.isInteger(N) && N >= 0 && Number.isInteger(C) && C >= 1))
    throw new Error(`softmax: bad shape N=${N} C=${C}`);
  const variant = s.variant ?? (C % 4 === 0 ? 'vec4' : 'scalar');
  if (variant === 'vec4' && C % 4 !== 0) throw new Error(`softmax: the vec4 variant needs C % 4 == 0, got C=${C}`);
  const t = softmaxTuning(rt, s, entry === 'softmax_backward');
  const spec = softmaxSpec(entry, variant, t.reduction);
  const overrides = { WG: t.WG, VPT: t.VPT, LOG: s.log ? 1 : 0 };
  const rowBytes = C * 4;
  for (const [r0, rows] of rowBlocks(rt, 'softmax', N, rowBytes, s.maxBindingBytes)) {
    const bindings: Record<string, Buf> = {};
    for (const [name] of spec.bindings) {
      const buf = b[name];
      if (!buf) throw new Error(`softmax: binding "${name}" was not given`);
      bindings[name] = rows === N ? buf : slice(buf, r0 * rowBytes, rows * rowBytes);
    }
    rt.dispatch(spec, { bindings, params: { N: rows, C, causalT, row0: r0 }, overrides, workgroups: grid(rows, 1) });
  }
}

/**
 * out[n, :] = softmax(inp[n, :]) over rows of C (log: log-softmax), inp and out (N, C).
 * causalT > 0 (softmax only): row n is row n % causalT of a causalT x causalT score matrix, and
 * its columns j > n % causalT get probability 0 (the composed attention path).
 */
export function softmaxForward(rt: Runtime, b: { out: Buf; inp: Buf }, s: SoftmaxShape & { causalT?: number }): void {
  const causalT = s.causalT ?? 0;
  if (!(Number.isInteger(causalT) && causalT >= 0))
    throw new Error(`softmax: causalT must be a non-negative integer, got ${causalT}`);
  if (causalT > 0 && s.log) throw new Error('softmax: causalT is supported for the softmax, not the log-softmax');
  run(rt, 'softmax_forward', b, s, causalT);
}

/**
 * dinp = out * (dout - sum_j dout[j] out[j]) per row; log: dinp = dout - exp(out) * sum_j dout[j],
 * where `out` is the forward's output. OVERWRITES dinp. All (N, C).
 */
export function softmaxBackward(rt: Runtime, b: { dinp: Buf; dout: Buf; out: Buf }, s: SoftmaxShape): void {
  run(rt, 'softmax_backward', b, s, 0);
}
