// Naive optimizer step for the bench: a global norm summed by ONE workgroup (no second stage),
// then AdamW with one invocation per element, scalar loads, bias corrections computed per
// invocation with pow().
struct Params {
  n: u32, decayEnd: u32, row: u32, step: u32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, maxNorm: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grads: array<f32>;
@group(0) @binding(5) var<storage, read> norm: array<f32>;

@group(0) @binding(1) var<storage, read_write> norm_out: array<f32>;
@group(0) @binding(2) var<storage, read> g_in: array<f32>;

var<workgroup> s: array<f32, 256>;

@compute @workgroup_size(256)
fn naive_norm(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < p.n; i += 256u) { acc += g_in[i] * g_in[i]; }
  s[lid.x] = acc;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (lid.x < k) { s[lid.x] += s[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { norm_out[0] = s[0]; norm_out[1] = sqrt(s[0]); }
}

@compute @workgroup_size(64)
fn naive_adamw(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let clip = select(1.0, min(1.0, p.maxNorm / (norm[1] + 1e-6)), p.maxNorm > 0.0);
  let g = grads[i] * clip;
  var w = params[i];
  if (i < p.decayEnd) { w *= 1.0 - p.lr * p.weightDecay; }
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let mhat = mi / (1.0 - pow(p.beta1, f32(p.step)));
  let vhat = vi / (1.0 - pow(p.beta2, f32(p.step)));
  params[i] = w - p.lr * mhat / (sqrt(vhat) + p.eps);
}
