// Naive GELU baseline for the bench: one invocation per element, WGSL's tanh, 64 per workgroup.
// (tanh is clamped only so that the baseline validates; the real kernel avoids tanh entirely.)
struct Params { n: u32, row: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

const K0: f32 = 0.7978845608028654;
const K1: f32 = 0.044715;

@compute @workgroup_size(64)
fn naive_forward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let x = inp[i];
  out[i] = 0.5 * x * (1.0 + tanh(clamp(K0 * (x + K1 * x * x * x), -20.0, 20.0)));
}

@compute @workgroup_size(64)
fn naive_backward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let x = inp[i];
  let t = tanh(clamp(K0 * (x + K1 * x * x * x), -20.0, 20.0));
  dinp[i] = (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * K0 * (1.0 + 3.0 * K1 * x * x)) * dout[i];
}
