// Fused AdamW over every parameter of the model at once, with gradient clipping by global norm
// folded in, and the deterministic two-stage global-norm reduction that feeds it.
//
// Layout contract (the trainer's flat parameter buffer):
//   params, grads, m, v are each ONE flat f32 buffer of n elements, tensor after tensor in the
//   same order. All weight-decayed tensors (the matrices: wte, wpe, attention and MLP weights)
//   come first, then everything that is not decayed (biases, layernorm weights and biases):
//   elements [0, decayEnd) get decoupled weight decay, [decayEnd, n) do not. One integer replaces
//   a per-element mask buffer.
//   Every buffer is read and written in whole vec4s, so each must hold at least 4·ceil(n/4)
//   floats (pad the flat buffers to a multiple of 4). Lanes at index >= n are read but never
//   used and never changed. m and v start at zero.
//
// global_norm_partial + global_norm_final (two dispatches):
//   norm[0] = Σ_i (gradScale·grads[i])²,  norm[1] = sqrt(norm[0])
//   the norm of the gradient the optimizer will actually use (see gradScale below), which is what
//   PyTorch's clip_grad_norm_ returns and what a trainer logs. Stage 1: P workgroups, each sums
//   the squares of one contiguous block of the vec4s (its invocations stride through the block
//   WG vec4s apart, so each step of the workgroup reads WG consecutive vec4s; per-invocation
//   accumulators, then a tree in workgroup memory) into partials[base + workgroup]. Stage 2: one
//   workgroup sums the partials in a fixed order. The partition depends only on n and P, so the
//   result is bit-identical run to run (no float atomics). `base` lets a buffer too large for one
//   binding be reduced in chunks that share one partials array. P is chosen on the host (see
//   kernels/adamw.ts): many workgroups on a GPU, few long ones on lavapipe, where each
//   workgroup's tree reduction costs as much as thousands of loads.
//
// adamw (one dispatch; each invocation updates VPT vec4s, WG apart; workgroups on a 2-D grid,
// workgroup index wid.x + wid.y·row):
//   clip  = maxNorm > 0 ? min(1, maxNorm / (norm[1] + 1e-6)) : 1     (read from the GPU buffer:
//                                                                     no readback to clip)
//   g     = grads[i] · gradScale · clip
//   param = param · (1 - lr·weightDecay)                              (only for i < decayEnd)
//   m     = beta1·m + (1 - beta1)·g
//   v     = beta2·v + (1 - beta2)·g²
//   param = param - lr · (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
// which is PyTorch's torch.optim.AdamW (decay before the Adam step, eps added to the
// bias-corrected sqrt(v)). step is 1-based. The bias corrections 1 - beta^step arrive in the
// uniforms, computed once on the host in float64: on the GPU, pow(beta, step) is
// exp2(step·log2(beta)) and log2 near 1 is only accurate to ~2^-21 absolute, which would put a
// 3e-4 relative error into 1 - 0.999^1. gradScale multiplies the raw gradient, e.g.
// 1/accumSteps when grads holds the SUM of accumSteps micro-batch gradients; pass the same value
// to the global norm so that clipping sees the gradient that is actually applied.
//
// Saved state: m and v (first and second moments), in place. Nothing else.

struct NormParams {
  n4: u32,         // vec4s in this chunk: ceil(n / 4)
  n: u32,          // elements in this chunk
  base: u32,       // stage 1: index of this chunk's first partial; stage 2: unused
  total: u32,      // stage 2: number of partials; stage 1: unused
  gradScale: f32,
}

struct AdamParams {
  n4: u32,
  n: u32,
  decayEnd: u32,   // elements [0, decayEnd) of this chunk are weight-decayed
  row: u32,        // workgroups per grid row
  bc1: f32,        // 1 - beta1^step (bias corrections, step 1-based; see below)
  bc2: f32,        // 1 - beta2^step
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  maxNorm: f32,    // <= 0 disables clipping
  gradScale: f32,
}

override WG: u32 = 256;
override VPT: u32 = 2;       // adamw: vec4s per invocation, WG apart

@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(0) var<uniform> ap: AdamParams;

// global_norm_partial: (partials, grads)
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read> grads_n: array<vec4f>;
// global_norm_final: (norm, partials)
@group(0) @binding(1) var<storage, read_write> norm_out: array<f32>;
@group(0) @binding(2) var<storage, read> partials_in: array<f32>;
// adamw: (params, m, v, grads, norm)
@group(0) @binding(1) var<storage, read_write> params: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(4) var<storage, read> grads: array<vec4f>;
@group(0) @binding(5) var<storage, read> norm: array<f32>;

var<workgroup> scratch: array<f32, WG>;

/** Element indices of the 4 lanes of vec4 number k. */
fn lanes(k: u32) -> vec4u {
  return vec4u(4u * k) + vec4u(0u, 1u, 2u, 3u);
}

/** Sums scratch[0..WG) into scratch[0]; every invocation of the workgroup must call it. */
fn tree_sum(lid: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { scratch[lid] += scratch[lid + s]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn global_norm_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_id) lid: vec3u) {
  // Four independent accumulators (the vec4 lanes) shorten the dependency chain of the adds.
  var acc = vec4f(0.0);
  let per = (np.n4 + nwg.x - 1u) / nwg.x;
  let begin = wid.x * per;
  let end = min(begin + per, np.n4);
  for (var k = begin + lid.x; k < end; k += WG) {
    let g = select(vec4f(0.0), grads_n[k], lanes(k) < vec4u(np.n));
    acc += g * g;
  }
  scratch[lid.x] = (acc.x + acc.y) + (acc.z + acc.w);
  tree_sum(lid.x);
  if (lid.x == 0u) { partials[np.base + wid.x] = scratch[0]; }
}

@compute @workgroup_size(WG)
fn global_norm_final(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < np.total; i += WG) { acc += partials_in[i]; }
  scratch[lid.x] = acc;
  tree_sum(lid.x);
  if (lid.x == 0u) {
    // The scale is applied to the sum rather than to every gradient: (s·g)² summed = s²·Σg².
    let sumsq = scratch[0] * np.gradScale * np.gradScale;
    norm_out[0] = sumsq;
    norm_out[1] = sqrt(sumsq);
  }
}

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  var scale = ap.gradScale;
  if (ap.maxNorm > 0.0) { scale *= min(1.0, ap.maxNorm / (norm[1] + 1e-6)); }
  // PyTorch's grouping: step size lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps.
  let step_size = ap.lr / ap.bc1;
  let bc2_sqrt = sqrt(ap.bc2);
  let decay = 1.0 - ap.lr * ap.weightDecay;

  let base = (wid.x + wid.y * ap.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let k = base + j * WG;
    if (k >= ap.n4) { break; }
    let idx = lanes(k);
    let live = idx < vec4u(ap.n);
    let p0 = params[k];
    let m0 = m[k];
    let v0 = v[k];
    let g = grads[k] * scale;
    let p1 = select(p0, p0 * decay, idx < vec4u(ap.decayEnd));
    let m1 = ap.beta1 * m0 + (1.0 - ap.beta1) * g;
    let v1 = ap.beta2 * v0 + (1.0 - ap.beta2) * g * g;
    let p2 = p1 - step_size * m1 / (sqrt(v1) / bc2_sqrt + ap.eps);
    // Lanes past n (the padding of the last vec4) keep whatever they held.
    params[k] = select(p0, p2, live);
    m[k] = select(m0, m1, live);
    v[k] = select(v0, v1, live);
  }
}
