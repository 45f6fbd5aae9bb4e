// Batched matrix multiply with a fused epilogue:
//
//   pre[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] + bias[n]
//   out[b, m, n] = act(pre)            (act = GELU (tanh approximation, lib/gelu.wgsl) or identity)
//   out[b, m, n] += act(pre)           (ACCUMULATE: gradient accumulation)
//   preact[b, m, n] = pre              (WRITE_PREACT with GELU: saved for the backward)
//
// Shapes: out [batch, M, N] contiguous. A [batchA, M, K], or [batchA, K, M] when TRANS_A;
// B [batchB, K, N], or [batchB, N, K] when TRANS_B; a batch of 1 is broadcast (batch stride 0).
// Transposed operands are read in place, never copied: the backward's dA = dC·Bᵀ is TRANS_B and
// dB = Aᵀ·dC is TRANS_A. bias [N]. Nothing else is saved for the backward.
//
// Bindings: @0 uniform Params, @1 out (rw), @2 a, @3 b, @4 bias, @5 preact (rw). Unused ones are
// bound to stand-ins by the host (bias to `a`, preact to a small scratch buffer). The flags are
// override constants, so each combination compiles to its own pipeline with dead code removed.
//
// This file: the portable kernel for GPUs (and any adapter), workgroup-memory tiling with 2-D
// register blocking. matmul-subgroup.wgsl holds the kernel for CPU adapters (lavapipe); both
// follow this contract.
//
// Tiling. A workgroup of WG_N × WG_M invocations owns a BM × BN tile of out (BM = WG_M·TM,
// BN = WG_N·TN). The K loop walks slabs of BK: the workgroup stages A[BM × BK] and B[BK × BN] in
// workgroup memory, zero-filled past M, N and K (so any shape works), then each invocation runs
// BK rank-1 updates of its TM × TN register block: every value read from workgroup memory feeds
// TN (or TM) FMAs. Workgroup memory holds A k-major ([k][m]) so that both operands are read as
// vec4. An invocation's rows are 4·(ty + WG_M·i) + r and its columns 4·(tx + WG_N·j) + c: at one
// k, neighbouring invocations read neighbouring vec4s (no bank conflicts) and write neighbouring
// vec4s of out.
//
// Two entry points: matmul_tiled_vec4 loads global memory as vec4 and needs K % 4 == 0,
// M % 4 == 0 when TRANS_A and N % 4 == 0 unless TRANS_B (the host checks); matmul_tiled_scalar
// reads scalars and takes any shape.
//
// Dispatch: workgroup_size (WG_N, WG_M); workgroups (ceil(N / BN), ceil(M / BM), batch).
//
// Includes: lib/matmul-io.wgsl (Params, the bindings, the epilogue flags and finish(), which
// includes lib/gelu.wgsl), shared with matmul-subgroup.wgsl.

//! include lib/matmul-io.wgsl

override WG_M: u32 = 16u;  // invocations along m
override WG_N: u32 = 16u;  // invocations along n
override TM: u32 = 8u;     // rows per invocation: 4 or 8
override TN: u32 = 8u;     // columns per invocation: 4 or 8
override BK: u32 = 8u;     // k depth of a workgroup-memory slab, a multiple of 4
const TM_MAX = 8u;
const TN_MAX = 8u;

// Derived sizes (the host never sets these).
override BM = WG_M * TM;
override BN = WG_N * TN;
override THREADS = WG_M * WG_N;

var<workgroup> As: array<vec4f, BK * WG_M * TM / 4u>;  // [k][m / 4]
var<workgroup> Bs: array<vec4f, BK * WG_N * TN / 4u>;  // [k][n / 4]

// acc[4·i + r][j]: the invocation's rows 4·(ty + WG_M·i) + r, columns 4·(tx + WG_N·j) + 0..3.
var<private> acc: array<array<vec4f, TN_MAX / 4u>, TM_MAX>;

fn set_a(kk: u32, mm: u32, v: f32) { As[kk * (BM / 4u) + mm / 4u][mm % 4u] = v; }
fn set_b(kk: u32, nn: u32, v: f32) { Bs[kk * (BN / 4u) + nn / 4u][nn % 4u] = v; }

// Scalar staging of the slab k0..k0+BK, zero past the edges. Consecutive invocations take
// consecutive elements along the operand's contiguous dimension, so global reads coalesce.
fn stage_scalar(tid: u32, batch: u32, m0: u32, n0: u32, k0: u32) {
  let a_base = batch * p.batch_stride_a;
  let b_base = batch * p.batch_stride_b;
  for (var e = tid; e < BM * BK; e += THREADS) {
    var mm = e / BK;
    var kk = e % BK;
    if (TRANS_A) { kk = e / BM; mm = e % BM; }
    let m = m0 + mm;
    let k = k0 + kk;
    var v = 0.0;
    if (m < p.M && k < p.K) { v = a[a_base + select(m * p.K + k, k * p.M + m, TRANS_A)]; }
    set_a(kk, mm, v);
  }
  for (var e = tid; e < BK * BN; e += THREADS) {
    var kk = e / BN;
    var nn = e % BN;
    if (TRANS_B) { nn = e / BK; kk = e % BK; }
    let n = n0 + nn;
    let k = k0 + kk;
    var v = 0.0;
    if (n < p.N && k < p.K) { v = b[b_base + select(k * p.N + n, n * p.K + k, TRANS_B)]; }
    set_b(kk, nn, v);
  }
}

// vec4 staging: the alignment conditions make every vec4 either wholly inside or wholly outside
// the matrix, so one bounds check per vec4 suffices.
fn stage_vec4(tid: u32, batch: u32, m0: u32, n0: u32, k0: u32) {
  let a_base = batch * p.batch_stride_a / 4u;
  let b_base = batch * p.batch_stride_b / 4u;
  for (var e = tid; e < BM * BK / 4u; e += THREADS) {
    if (TRANS_A) {
      // A stored [K, M]: a vec4 is 4 rows at one k, stored as is.
      let kk = e / (BM / 4u);
      let m4 = e % (BM / 4u);
      let m = m0 + 4u * m4;
      let k = k0 + kk;
      var v = vec4f();
      if (m < p.M && k < p.K) { v = a4[a_base + (k * p.M + m) / 4u]; }
      As[kk * (BM / 4u) + m4] = v;
    } else {
      // A stored [M, K]: a vec4 is 4 k's of one row, scattered into 4 k-rows.
      let mm = e / (BK / 4u);
      let kk = 4u * (e % (BK / 4u));
      let m = m0 + mm;
      let k = k0 + kk;
      var v = vec4f();
      if (m < p.M && k < p.K) { v = a4[a_base + (m * p.K + k) / 4u]; }
      for (var c = 0u; c < 4u; c++) { set_a(kk + c, mm, v[c]); }
    }
  }
  for (var e = tid; e < BK * BN / 4u; e += THREADS) {
    if (TRANS_B) {
      // B stored [N, K]: a vec4 is 4 k's of one column, scattered into 4 k-rows.
      let nn = e / (BK / 4u);
      let kk = 4u * (e % (BK / 4u));
      let n = n0 + nn;
      let k = k0 + kk;
      var v = vec4f();
      if (n < p.N && k < p.K) { v = b4[b_base + (n * p.K + k) / 4u]; }
      for (var c = 0u; c < 4u; c++) { set_b(kk + c, nn, v[c]); }
    } else {
      // B stored [K, N]: a vec4 is 4 columns at one k, stored as is.
      let kk = e / (BN / 4u);
      let n4 = e % (BN / 4u);
      let n = n0 + 4u * n4;
      let k = k0 + kk;
      var v = vec4f();
      if (n < p.N && k < p.K) { v = b4[b_base + (k * p.N + n) / 4u]; }
      Bs[kk * (BN / 4u) + n4] = v;
    }
  }
}

// BK rank-1 updates of the register block from the staged slab.
fn multiply_slab(tx: u32, ty: u32) {
  for (var kk = 0u; kk < BK; kk++) {
    var av: array<vec4f, TM_MAX / 4u>;
    var bv: array<vec4f, TN_MAX / 4u>;
    for (var i = 0u; i < TM / 4u; i++) { av[i] = As[kk * (BM / 4u) + ty + WG_M * i]; }
    for (var j = 0u; j < TN / 4u; j++) { bv[j] = Bs[kk * (BN / 4u) + tx + WG_N * j]; }
    for (var i = 0u; i < TM / 4u; i++) {
      for (var r = 0u; r < 4u; r++) {
        let s = vec4f(av[i][r]);
        for (var j = 0u; j < TN / 4u; j++) { acc[4u * i + r][j] = fma(s, bv[j], acc[4u * i + r][j]); }
      }
    }
  }
}

fn store_block(batch: u32, m0: u32, n0: u32, tx: u32, ty: u32) {
  for (var i = 0u; i < TM / 4u; i++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + 4u * (ty + WG_M * i) + r;
      for (var j = 0u; j < TN / 4u; j++) {
        let n = n0 + 4u * (tx + WG_N * j);
        for (var c = 0u; c < 4u; c++) {
          if (m < p.M && n + c < p.N) { finish(batch, m, n + c, acc[4u * i + r][j][c]); }
        }
      }
    }
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn matmul_tiled_scalar(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let tid = lid.y * WG_N + lid.x;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    stage_scalar(tid, wg.z, m0, n0, k0);
    workgroupBarrier();
    multiply_slab(lid.x, lid.y);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y);
}

@compute @workgroup_size(WG_N, WG_M)
fn matmul_tiled_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let tid = lid.y * WG_N + lid.x;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    stage_vec4(tid, wg.z, m0, n0, k0);
    workgroupBarrier();
    multiply_slab(lid.x, lid.y);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y);
}
