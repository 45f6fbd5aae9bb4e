// GELU, tanh approximation (the one GPT-2 was trained with), forward and backward.
//
//   gelu(x)  = 0.5·x·(1 + tanh(u)),   u = sqrt(2/π)·(x + 0.044715·x³)
//   gelu'(x) = 0.5·(1 + tanh(u)) + 0.5·x·(1 - tanh²(u))·sqrt(2/π)·(1 + 3·0.044715·x²)
//
// The formula, and why it has no tanh() (some drivers overflow it to NaN), is in
// lib/gelu.wgsl, which this kernel includes (gelu4 / dgelu4 / gelu / dgelu); the matmul
// epilogue's fused GELU uses the same file, so the two agree exactly.
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

//! include lib/gelu.wgsl

struct Params {
  n: u32,        // elements (scalar) or vec4s (vec4) to process
  row: u32,      // workgroups per grid row
}

override WG: u32 = 256;
override VPT: u32 = 4;      // items per invocation (see kernels/gelu.ts for the measured choice)

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

@compute @workgroup_size(WG)
fn gelu_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { out[i] = gelu(inp[i]); }
  }
}

@compute @workgroup_size(WG)
fn gelu_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { out4[i] = gelu4(inp4[i]); }
  }
}

@compute @workgroup_size(WG)
fn gelu_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { dinp[i] = dgelu(inp[i]) * dout[i]; }
  }
}

@compute @workgroup_size(WG)
fn gelu_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) { dinp4[i] = dgelu4(inp4[i]) * dout4[i]; }
  }
}
