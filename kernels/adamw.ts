// Specs and dispatch sizes for kernels/adamw.wgsl: the fused AdamW step over one flat parameter
// buffer and the deterministic global-norm reduction whose result it clips with (on the GPU).
//
// Buffers larger than one storage binding (maxStorageBufferBindingSize: 128 MiB on lavapipe, so
// 32M floats; GPT-2 124M needs ~500 MB) are processed in chunks: each chunk is bound as its own
// sub-range, and the norm's chunks write disjoint slices of one partials array that the final
// stage sums. Chunk boundaries are multiples of the storage offset alignment.
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'adamw.wgsl');
const WG = 256;
/** adamw: vec4s per invocation. */
const VPT = 2;
/** Stage-1 workgroups of the norm per chunk: enough to fill a large GPU, few enough for stage 2. */
const MAX_PARTIALS = 1024;
/**
 * vec4s each stage-1 invocation should sum, which sets the number of workgroups below the cap.
 * A GPU wants many workgroups in flight; on lavapipe a workgroup's barriers and tree cost as much
 * as thousands of loads, and 10M floats ran 2.4x faster in 32 workgroups than in 1024.
 */
const normItems = (rt: Runtime) => (rt.isSoftware ? 256 : 16);

type Buf = GPUBuffer | BufferRef;

const normParams = [
  ['n4', 'u32'],
  ['n', 'u32'],
  ['base', 'u32'],
  ['total', 'u32'],
  ['gradScale', 'f32'],
] as const;

export const globalNormPartialSpec: KernelSpec = {
  name: 'adamw.global_norm_partial',
  wgsl,
  entryPoint: 'global_norm_partial',
  params: normParams,
  bindings: [
    ['partials', 'rw'],
    ['grads', 'read'],
  ],
  overrides: { WG },
};
export const globalNormFinalSpec: KernelSpec = {
  name: 'adamw.global_norm_final',
  wgsl,
  entryPoint: 'global_norm_final',
  params: normParams,
  bindings: [
    ['norm', 'rw'],
    ['partials', 'read'],
  ],
  overrides: { WG },
};
export const adamwSpec: KernelSpec = {
  name: 'adamw.adamw',
  wgsl,
  entryPoint: 'adamw',
  params: [
    ['n4', 'u32'],
    ['n', 'u32'],
    ['decayEnd', 'u32'],
    ['row', 'u32'],
    ['bc1', 'f32'],
    ['bc2', 'f32'],
    ['lr', 'f32'],
    ['beta1', 'f32'],
    ['beta2', 'f32'],
    ['eps', 'f32'],
    ['weightDecay', 'f32'],
    ['maxNorm', 'f32'],
    ['gradScale', 'f32'],
  ],
  bindings: [
    ['params', 'rw'],
    ['m', 'rw'],
    ['v', 'rw'],
    ['grads', 'read'],
    ['norm', 'read'],
  ],
  overrides: { WG, VPT },
};

interface View {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

function view(b: Buf): View {
  if (b instanceof GPUBuffer) return { buffer: b, offset: 0, size: b.size };
  const offset = b.offset ?? 0;
  return { buffer: b.buffer, offset, size: b.size ?? b.buffer.size - offset };
}

/** Checks that a flat buffer holds whole vec4s for n elements (see the layout contract). */
function flatView(what: string, b: Buf, n: number): View {
  const v = view(b);
  const need = Math.ceil(n / 4) * 16;
  if (v.size < need) {
    throw new Error(
      `adamw: ${what} holds ${v.size} bytes, needs ${need} (n=${n} rounded up to whole vec4s; pad flat buffers to a multiple of 4 floats)`,
    );
  }
  return v;
}

/** [start, length] element ranges, each small enough for one binding and starting aligned. */
function chunks(rt: Runtime, n: number, chunkElems?: number): [number, number][] {
  const alignElems = Math.max(4, rt.limits.minStorageBufferOffsetAlignment / 4);
  const limit = Math.floor(rt.limits.maxStorageBufferBindingSize / 4);
  const per = Math.floor(Math.min(chunkElems ?? limit, limit) / alignElems) * alignElems;
  if (per <= 0) throw new Error(`adamw: chunkElems must be at least ${alignElems}`);
  const out: [number, number][] = [];
  for (let start = 0; start < n; start += per) out.push([start, Math.min(per, n - start)]);
  return out;
}

const sub = (v: View, start: number, len: number): BufferRef => ({
  buffer: v.buffer,
  offset: v.offset + start * 4,
  size: Math.ceil(len / 4) * 16,
});

export interface GlobalNormOptions {
  /** Elements in grads. */
  n: number;
  /** Multiplier of the gradient the norm is taken of (pass the same as to adamw). Default 1. */
  gradScale?: number;
  /** Largest chunk in elements (default: the binding limit); tests use it to exercise chunking. */
  chunkElems?: number;
  /** Stage-1 workgroups per chunk instead of the automatic choice (tests, benches). */
  partials?: number;
}

/**
 * norm[0] = Σ (gradScale·grads[i])², norm[1] = sqrt(norm[0]), over i < n; deterministic.
 * norm: at least 2 floats. grads: at least 4·ceil(n/4) floats. Two dispatches (one more per
 * extra chunk). Read norm[1] back only to log it; adamw reads it on the GPU.
 */
export function globalNorm(rt: Runtime, b: { norm: Buf; grads: Buf }, o: GlobalNormOptions): void {
  const { n } = o;
  const gradScale = o.gradScale ?? 1;
  const grads = flatView('grads', b.grads, n);
  const parts = chunks(rt, n, o.chunkElems).map(([start, len]) => {
    const n4 = Math.ceil(len / 4);
    const auto = Math.min(MAX_PARTIALS, Math.ceil(n4 / (WG * normItems(rt))));
    return { start, len, n4, P: o.partials ? Math.max(1, Math.min(o.partials, n4)) : auto };
  });
  const total = parts.reduce((s, c) => s + c.P, 0);
  const partials = rt.pool.acquire(Math.max(1, total) * 4, 'global-norm-partials');
  try {
    let base = 0;
    for (const c of parts) {
      rt.dispatch(globalNormPartialSpec, {
        bindings: { partials, grads: sub(grads, c.start, c.len) },
        params: { n4: c.n4, n: c.len, base, total, gradScale },
        workgroups: [c.P],
      });
      base += c.P;
    }
    rt.dispatch(globalNormFinalSpec, {
      bindings: { norm: b.norm, partials },
      params: { n4: 0, n, base: 0, total, gradScale },
      workgroups: [1],
    });
  } finally {
    // Later commands that reuse the buffer run after these: the queue is in order.
    rt.pool.release(partials);
  }
}

/**
 * The AdamW hyperparameters: one type for every layer that runs AdamW (this kernel, the optimizer
 * of model/optimizer.ts, the float64 references, the naive bench baseline).
 */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay of the matrices (biases and layernorm parameters are never decayed). */
  weightDecay: number;
  /** Clip the gradient to this global norm (here read from the `norm` buffer); <= 0 disables clipping. */
  maxNorm: number;
}

export interface AdamWOptions extends AdamWConfig {
  /** Elements in params, grads, m and v. */
  n: number;
  /** Elements [0, decayEnd) are weight-decayed (matrices first in the flat layout). */
  decayEnd: number;
  lr: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
  /** Multiplier of the raw gradient (e.g. 1/accumSteps). Default 1. */
  gradScale?: number;
  /** Largest chunk in elements (default: the binding limit); tests use it to exercise chunking. */
  chunkElems?: number;
  /** Override constants (tests, benches): invocations per workgroup, vec4s per invocation. */
  WG?: number;
  VPT?: number;
}

/**
 * One fused AdamW step (PyTorch semantics) over flat buffers of n elements, in place on params,
 * m and v. `norm` is globalNorm's output ([sumsq, norm]); it is needed only when maxNorm > 0.
 * Every flat buffer must hold at least 4·ceil(n/4) floats.
 */
export function adamw(rt: Runtime, b: { params: Buf; grads: Buf; m: Buf; v: Buf; norm?: Buf }, o: AdamWOptions): void {
  const { n } = o;
  if (!Number.isInteger(o.step) || o.step < 1) throw new Error(`adamw: step is 1-based, got ${o.step}`);
  if (!(o.decayEnd >= 0 && o.decayEnd <= n)) throw new Error(`adamw: decayEnd=${o.decayEnd} outside [0, n=${n}]`);
  if (o.maxNorm > 0 && !b.norm) throw new Error('adamw: maxNorm > 0 needs the norm buffer from globalNorm');
  const views = {
    params: flatView('params', b.params, n),
    grads: flatView('grads', b.grads, n),
    m: flatView('m', b.m, n),
    v: flatView('v', b.v, n),
  };
  // Without clipping the kernel never reads norm, but the binding must exist.
  const dummy = b.norm ? null : rt.pool.acquire(16, 'adamw-no-norm');
  const norm = b.norm ?? dummy!;
  const uniforms = {
    bc1: 1 - o.beta1 ** o.step,
    bc2: 1 - o.beta2 ** o.step,
    lr: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    eps: o.eps,
    weightDecay: o.weightDecay,
    maxNorm: o.maxNorm,
    gradScale: o.gradScale ?? 1,
  };
  const wg = o.WG ?? WG;
  const vpt = o.VPT ?? VPT;
  try {
    for (const [start, len] of chunks(rt, n, o.chunkElems)) {
      const n4 = Math.ceil(len / 4);
      const [x, y] = grid(n4, wg * vpt);
      rt.dispatch(adamwSpec, {
        bindings: {
          params: sub(views.params, start, len),
          m: sub(views.m, start, len),
          v: sub(views.v, start, len),
          grads: sub(views.grads, start, len),
          norm,
        },
        params: { ...uniforms, n4, n: len, decayEnd: Math.min(len, Math.max(0, o.decayEnd - start)), row: x },
        overrides: { WG: wg, VPT: vpt },
        workgroups: [x, y],
      });
    }
  } finally {
    if (dummy) rt.pool.release(dummy);
  }
}
