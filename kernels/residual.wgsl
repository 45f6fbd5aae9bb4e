// Residual connection: out = inp1 + inp2, elementwise over n elements (GPT's x + attn(ln(x)) and
// x + mlp(ln(x))).
//
// Backward: the gradient of a sum reaches both summands unchanged, so the engine normally runs no
// kernel at all: it hands the same dout buffer to both branches (llm.c's residual_backward is
// dinp1 += dout; dinp2 += dout only because llm.c keeps a separate gradient buffer per
// activation). For the case where two gradient buffers must really be accumulated into,
// residual_backward does exactly that, ACCUMULATING: dinp1 += dout, dinp2 += dout.
// Saved for backward: nothing.
//
// Entry points and dispatch: …_vec4 (only when n % 4 == 0) works on vec4s, …_scalar on single
// floats. Each invocation handles VPT items, WG apart (a workgroup's loads stay contiguous on a
// GPU); workgroups sit on a 2-D grid (workgroup index wid.x + wid.y·row, row = workgroups per grid
// row) so n may exceed 65535·WG·VPT. The vec4 and scalar entry points declare the
// same bindings with different element types, which is legal because no entry point uses both.

struct Params {
  n: u32,        // elements (scalar) or vec4s (vec4)
  row: u32,      // workgroups per grid row
}

override WG: u32 = 256;
override VPT: u32 = 4;      // items per invocation (see kernels/residual.ts)

@group(0) @binding(0) var<uniform> p: Params;

// forward: (out, inp1, inp2)
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp1: array<f32>;
@group(0) @binding(3) var<storage, read> inp2: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(2) var<storage, read> inp14: array<vec4f>;
@group(0) @binding(3) var<storage, read> inp24: array<vec4f>;

// backward: (dinp1, dinp2, dout)
@group(0) @binding(1) var<storage, read_write> dinp1: array<f32>;
@group(0) @binding(2) var<storage, read_write> dinp2: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp14: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dinp24: array<vec4f>;
@group(0) @binding(3) var<storage, read> dout4: array<vec4f>;

@compute @workgroup_size(WG)
fn residual_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) {
      out[i] = inp1[i] + inp2[i];
    }
  }
}

@compute @workgroup_size(WG)
fn residual_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) {
      out4[i] = inp14[i] + inp24[i];
    }
  }
}

@compute @workgroup_size(WG)
fn residual_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) {
      let g = dout[i];
      dinp1[i] += g;
      dinp2[i] += g;
    }
  }
}

@compute @workgroup_size(WG)
fn residual_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let base = (wid.x + wid.y * p.row) * WG * VPT + lid.x;
  for (var j = 0u; j < VPT; j++) {
    let i = base + j * WG;
    if (i < p.n) {
      let g = dout4[i];
      dinp14[i] += g;
      dinp24[i] += g;
    }
  }
}
