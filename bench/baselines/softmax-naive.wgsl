// Naive softmax baseline for the bench: one invocation per row, three scalar passes over it
// (max, sum of exp, normalise), 64 rows per workgroup: what a first port of the math looks like.
struct Params { N: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> outb: array<f32>;

@compute @workgroup_size(64)
fn naive_forward(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var m = inp[base];
  for (var c = 1u; c < p.C; c++) { m = max(m, inp[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += exp(inp[base + c] - m); }
  for (var c = 0u; c < p.C; c++) { out[base + c] = exp(inp[base + c] - m) / s; }
}

@compute @workgroup_size(64)
fn naive_backward(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var d = 0.0;
  for (var c = 0u; c < p.C; c++) { d += dout[base + c] * outb[base + c]; }
  for (var c = 0u; c < p.C; c++) { dinp[base + c] = outb[base + c] * (dout[base + c] - d); }
}
