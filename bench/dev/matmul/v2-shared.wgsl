// matmul v2 (bench/dev/matmul/NOTES.md): the classic shared-memory tiling of a GPU textbook.
// out[M, N] = a[M, K] · b[K, N], row-major f32, any shape. A workgroup of 16 x 16 invocations
// owns a 64 x 64 tile of out; each invocation owns 4 x 4 of its outputs (rows 4·ly.., columns
// 4·lx..). Per slab of BK = 16 k's, the 256 invocations copy a 64 x 16 tile of A and a 16 x 64
// tile of B into workgroup memory (4 elements of each per invocation), then every invocation
// reads 4 + 4 values from workgroup memory per k for its 16 multiply-adds.
// On a GPU this is the shape that matters (global loads shared by 64 invocations); on lavapipe
// every workgroup-memory access is a per-lane gather and the barriers are coroutine switches:
// the experiment this file was rewritten from ran 8x slower than the subgroup kernel there.
struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

const TILE = 64u;
const BK = 16u;
// Both tiles stored k-major, [BK][TILE]: an invocation's 4 rows (or columns) at one k are adjacent.
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn matmul_shared(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + 256u * i;
      // A tile element e: row e / BK, k e % BK (consecutive invocations read consecutive k).
      let am = m0 + e / BK;
      let ak = k0 + e % BK;
      var av = 0.0;
      if (am < p.M && ak < p.K) { av = a[am * p.K + ak]; }
      a_tile[(e % BK) * TILE + e / BK] = av;
      // B tile element e: k e / TILE, column e % TILE.
      let bk = k0 + e / TILE;
      let bn = n0 + e % TILE;
      var bv = 0.0;
      if (bk < p.K && bn < p.N) { bv = b[bk * p.N + bn]; }
      b_tile[e] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var ar: array<f32, 4>;
      var bc: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        ar[i] = a_tile[k * TILE + 4u * l.y + i];
        bc[i] = b_tile[k * TILE + 4u * l.x + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[4u * i + j] = fma(ar[i], bc[j], acc[4u * i + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * l.y + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * l.x + j;
      if (m < p.M && n < p.N) { out[m * p.N + n] = acc[4u * i + j]; }
    }
  }
}
