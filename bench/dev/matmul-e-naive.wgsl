struct P { M: u32, N: u32, K: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= p.N || g.y >= p.M) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s += a[g.y * p.K + k] * b[k * p.N + g.x]; }
  out[g.y * p.N + g.x] = s;
}
