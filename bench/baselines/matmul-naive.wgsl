// Naive matmul baseline for bench/matmul.bench.ts: one invocation per output element, reading
// A and B straight from global memory through element strides (so it serves every transpose).
struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch_stride_a: u32,
  batch_stride_b: u32,
  a_sm: u32,  // A[m, k] = a[m * a_sm + k * a_sk]
  a_sk: u32,
  b_sk: u32,  // B[k, n] = b[k * b_sk + n * b_sn]
  b_sn: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(8, 8)
fn naive_matmul(@builtin(global_invocation_id) g: vec3u) {
  let n = g.x;
  let m = g.y;
  if (m >= p.M || n >= p.N) { return; }
  let a0 = g.z * p.batch_stride_a + m * p.a_sm;
  let b0 = g.z * p.batch_stride_b + n * p.b_sn;
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s += a[a0 + k * p.a_sk] * b[b0 + k * p.b_sk]; }
  out[(g.z * p.M + m) * p.N + n] = s;
}
