// Batched matrix multiply with fused epilogue:
//   out[b, m, n] (+)= act( Σ_k A[b, m, k] · B[b, k, n] + bias[n] )
// A is stored [batchA, M, K], or [batchA, K, M] when TRANS_A (read transposed, never copied);
// B is stored [batchB, K, N], or [batchB, N, K] when TRANS_B. A batch of 1 broadcasts (stride 0).
// With GELU, the pre-activation is also written to `preact` for the backward.
//
// Tiling: a workgroup of WG_X × WG_Y invocations owns a TM·WG_Y × TN·WG_X tile of `out`; each
// invocation accumulates a TM × TN block in registers (2-D register blocking: every A value
// loaded from workgroup memory is reused TN times, every B value TM times). The K loop walks
// tiles of TK: the workgroup stages A[tile rows, TK] and B[TK, tile cols] in workgroup memory
// (bounds-checked, zero-padded, so any M, N, K works), then every invocation runs TK rank-1
// updates of its block. Workgroup memory holds A transposed (k-major) so both inner reads are
// contiguous across the block.
//
// Dispatch: (ceil(N / (TN·WG_X)), ceil(M / (TM·WG_Y)), batch). Nothing is saved for backward
// except the optional pre-activation.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32,   // elements between batches of A (0 = broadcast)
  strideB: u32,
  strideC: u32,
}

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override TK: u32 = 16;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override GELU: bool = false;
override ACCUMULATE: bool = false;

const TM: u32 = 4;
const TN: u32 = 4;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;

// Tile sizes are fixed by the defaults of the overrides above; workgroup arrays need sizes
// known at pipeline creation, which override expressions provide.
var<workgroup> As: array<f32, TK * TM * WG_Y>;   // [TK][rows]
var<workgroup> Bs: array<f32, TK * TN * WG_X>;   // [TK][cols]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return a[base + k * p.M + m]; }
  return a[base + m * p.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return b[base + n * p.K + k]; }
  return b[base + k * p.N + n];
}

// GELU, tanh approximation, written as x·σ(2u) = 0.5·x·(1 + tanh(u)): no tanh call, no overflow.
fn gelu(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * u));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rows = TM * WG_Y;
  let cols = TN * WG_X;
  let row0 = wid.y * rows;
  let col0 = wid.x * cols;
  let baseA = wid.z * p.strideA;
  let baseB = wid.z * p.strideB;
  let tid = lid.y * WG_X + lid.x;
  let nthreads = WG_X * WG_Y;

  var acc: array<array<f32, TN>, TM>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // Stage the A and B tiles; each invocation loads a strided share.
    for (var i = tid; i < TK * rows; i += nthreads) {
      let r = i / TK;
      let kk = i % TK;
      As[kk * rows + r] = loadA(baseA, row0 + r, k0 + kk);
    }
    for (var i = tid; i < TK * cols; i += nthreads) {
      let kk = i / cols;
      let c = i % cols;
      Bs[kk * cols + c] = loadB(baseB, k0 + kk, col0 + c);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, TM>;
      var bv: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { av[i] = As[kk * rows + lid.y * TM + i]; }
      for (var j = 0u; j < TN; j++) { bv[j] = Bs[kk * cols + lid.x * TN + j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let m = row0 + lid.y * TM + i;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < TN; j++) {
      let n = col0 + lid.x * TN + j;
      if (n >= p.N) { continue; }
      let o = wid.z * p.strideC + m * p.N + n;
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      if (GELU) {
        preact[o] = v;
        v = gelu(v);
      }
      if (ACCUMULATE) { v += out[o]; }
      out[o] = v;
    }
  }
}
