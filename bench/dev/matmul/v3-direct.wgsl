// matmul v3 (bench/dev/matmul/NOTES.md): no workgroup memory at all. out[M, N] = a[M, K] · b[K, N],
// row-major f32, N % 4 == 0 (b and out are read as vec4 columns). Each invocation owns 8 rows x
// one vec4 of columns: per k it loads one vec4 of B straight from global memory and 8 scalars of A,
// and runs 8 vec4 multiply-adds. Loads per multiply-add: (4 + 8) / 32, against v2's 8 / 16 plus
// its tile copies and barriers. On lavapipe the experiment this file was rewritten from ran 1.4x
// faster than v2; it still loads every element of A once per lane, which the subgroup kernel
// removes by sharing rows of A through shuffles.
struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b4: array<vec4f>;

const ROWS = 8u;

@compute @workgroup_size(8, 8)
fn matmul_direct(@builtin(global_invocation_id) g: vec3u) {
  let N4 = p.N / 4u;
  let c = g.x;
  let m0 = g.y * ROWS;
  if (c >= N4 || m0 >= p.M) { return; }
  // The array has exactly the loop's trip count: Mesa unrolls the loop and keeps it in registers.
  var acc: array<vec4f, 8>;
  for (var k = 0u; k < p.K; k++) {
    let bv = b4[k * N4 + c];
    for (var r = 0u; r < ROWS; r++) {
      // Rows past M read a valid row and are never stored: no branch inside the hot loop.
      let m = min(m0 + r, p.M - 1u);
      acc[r] = fma(vec4f(a[m * p.K + k]), bv, acc[r]);
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    if (m0 + r < p.M) { out4[(m0 + r) * N4 + c] = acc[r]; }
  }
}
