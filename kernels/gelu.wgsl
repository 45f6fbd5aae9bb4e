// GELU, tanh approximation (the one GPT-2 was trained with), forward and backward.
//
//   gelu(x)  = 0.5·x·(1 + tanh(u)),   u = sqrt(2/π)·(x + 0.044715·x³)
//   gelu'(x) = 0.5·(1 + tanh(u)) + 0.5·x·(1 - tanh²(u))·sqrt(2/π)·(1 + 3·0.044715·x²)
//
// Why no tanh() below: 0.5·(1 + tanh(u)) is exactly the logistic sigmoid s = 1 / (1 + e),
// e = exp(-2u), and 1 - tanh²(u) = 4·s·(1 - s). Some drivers compute tanh(u) as
// (e^2u - 1)/(e^2u + 1), which turns into inf/inf = NaN once e^2u overflows (|u| > ~44); and WGSL
// lets an implementation assume that no infinity ever appears, so no formula may rely on one.
// Clamping the exponent to ±80 keeps e finite and normal (and 1 + e far from overflow); past
// |2u| = 80 the sigmoid is saturated far below f32 precision, so the clamp changes nothing that
// matters. The complement s' = 1 - s is computed as e·s (= e / (1 + e)), not by the cancellation
// 1 - s, which would lose most digits of s·(1 - s) where s is near 1:
//   gelu(x)  = x·s
//   gelu'(x) = s + 2·sqrt(2/π)·x·s·s'·(1 + 3·0.044715·x²)
// One exp and one division per element in each direction.
//
// Shapes: inp, out, dinp, dout are flat (n). Forward writes out; backward OVERWRITES dinp with
// gelu'(inp)·dout (the engine sums gradients itself). Saved for backward: the forward's input
// (inp), which the backward re-reads; nothing else.
//
// Entry points and dispatch: …_vec4 (only when n % 4 == 0) works on vec4s, …_scalar on single
// floats. Each invocation handles VPT items, WG apart (so a workgroup's loads stay contiguous on a
// GPU); a workgroup covers WG·VPT items; workgroups sit on a 2-D grid (workgroup index
// wid.x + wid.y·row, row = workgroups per grid row) so n may exceed 65535·WG·VPT.
//
// The vec4 and scalar entry points declare the same bindings with different element types; that
// is legal because no single entry point uses both.

struct Params {
  n: u32,        // elements (scalar) or vec4s (vec4) to process
  row: u32,      // workgroups per grid row
}

override WG: u32 = 256;
override VPT: u32 = 4;      // items per invocation (see kernels/gelu.ts for the measured choice)

const K0: f32 = 0.7978845608028654;   // sqrt(2/π)
const K1: f32 = 0.044715;

@group(0) @binding(0) var<uniform> p: Params;

// forward bindings: (out, inp)
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(2) var<storage, read> inp4: array<vec4f>;

// backward bindings: (dinp, inp, dout)
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp4: array<vec4f>;
@group(0) @binding(3) var<storage, read> dout4: array<vec4f>;

// One exponential per element. The vec4 helpers are the f32 ones four lanes wide.
fn e_f(x: f32) -> f32 { return exp(clamp(-2.0 * K0 * (x + K1 * x * x * x), -80.0, 80.0)); }
fn e_v(x: vec4f) -> vec4f { return exp(clamp(-2.0 * K0 * (x + K1 * x * x * x), vec4f(-80.0), vec4f(80.0))); }

fn gelu_f(x: f32) -> f32 { return x / (1.0 + e_f(x)); }
fn gelu_v(x: vec4f) -> vec4f { return x / (1.0 + e_v(x)); }

fn dgelu_f(x: f32) -> f32 {
  let e = e_f(x);
  let s = 1.0 / (1.0 + e);
  let sc = e * s;
  return s + 2.0 * K0 * x * s * sc * (1.0 + 3.0 * K1 * x * x);
}
fn dgelu_v(x: vec4f) -> vec4f {
  let e = e_v(x);
  let s = 1.0 / (1.0 + e);
  let sc = e * s;
  return s + 2.0 * K0 * x * s * sc * (1.0 + 3.0 * K1 * x * x);
}

@compute @workgroup_size(WG)
fn gelu_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { out[i] = gelu_f(inp[i]); }
  }
}

@compute @workgroup_size(WG)
fn gelu_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { out4[i] = gelu_v(inp4[i]); }
  }
}

@compute @workgroup_size(WG)
fn gelu_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { dinp[i] = dgelu_f(inp[i]) * dout[i]; }
  }
}

@compute @workgroup_size(WG)
fn gelu_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { dinp4[i] = dgelu_v(inp4[i]) * dout4[i]; }
  }
}
