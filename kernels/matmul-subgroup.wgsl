// matmul for CPU adapters (lavapipe/llvmpipe): out = epilogue(A·B + bias), one SIMD group per
// workgroup, the rows of A shared between its lanes with subgroup shuffles.
//
// Same contract, bindings and params as matmul.wgsl (read its header first), from the same
// lib/matmul-io.wgsl (Params, bindings, epilogue flags, finish(), lib/gelu.wgsl), which this
// file includes; it exists only because it needs `enable subgroups`, which would stop the
// portable kernels from compiling on an adapter without the feature.
//
// Why it looks like this (measured on lavapipe, Mesa 25, AVX2, 8 lanes):
//  - lavapipe runs the 8 invocations of a subgroup as the 8 lanes of AVX registers. A load whose
//    address is not built from constants alone (and a workgroup id or a loop counter is not)
//    becomes a loop over the lanes with a bounds check per element: ~3 cycles per element, far
//    more than the FMA it feeds. Workgroup memory is no cheaper, and barriers are expensive.
//  - subgroupShuffle of a 32-bit value is one `vpermd`. So the 8 lanes each load a DIFFERENT
//    row of A (vec4 along k) and every lane gets every row by shuffles: each element of A is
//    loaded once per workgroup instead of once per lane. Each lane loads only its own columns of
//    B, which no other lane needs.
//  - Each lane keeps ROWS x (4·TN) accumulators: per 4 k's it loads 16 + 16·TN elements and
//    runs 128·TN FMAs: ~21 FMAs per element loaded at TN = 2.
//    The register tile is plain loops over arrays whose sizes equal the trip counts: Mesa then
//    unrolls them and keeps the arrays in registers. More than 32 rows, an accumulator array with
//    more rows than its loop, nested row loops or helper functions taking pointers all stopped
//    the unrolling in experiments (bench/dev/matmul/NOTES.md) and ran 2-3x slower.
//  - On a GPU this would be a poor kernel (no data reuse between subgroups): GPUs use
//    matmul.wgsl's matmul_tiled*.
//
// Dispatch: workgroup_size 8 (must equal the subgroup size; the host checks subgroupMinSize ==
// subgroupMaxSize == 8), workgroups (ceil(N / (32·TN)), ceil(M / ROWS), batch).
// Lane l owns output rows m0..m0+31 and the columns n0 + 4·(l + 8·j) + c, j < TN, c < 4.
enable subgroups;

//! include lib/matmul-io.wgsl

const LANES = 8u;
const ROWS = 32u;          // output rows per workgroup, shared by its 8 lanes
const TN_MAX = 4u;
override TN: u32 = 2u;     // vec4 column groups per lane (1, 2 or 4): 32·TN columns per workgroup


// Row i (0 <= i < ROWS) of the workgroup's A block at k..k+3, gathered from the lane that loaded it.
// Not transposed: lane l loaded rows l + 8q as av[q] (vec4 along k).
// Transposed: lane l loaded rows 4l..4l+3 at k + t as av[t] (vec4 along m).
fn a_row(av: array<vec4f, 4>, i: u32) -> vec4f {
  if (TRANS_A) {
    let src = i / 4u;
    let c = i % 4u;
    return vec4f(subgroupShuffle(av[0][c], src), subgroupShuffle(av[1][c], src),
                 subgroupShuffle(av[2][c], src), subgroupShuffle(av[3][c], src));
  }
  let v = av[i / 8u];
  let src = i % 8u;
  return vec4f(subgroupShuffle(v.x, src), subgroupShuffle(v.y, src),
               subgroupShuffle(v.z, src), subgroupShuffle(v.w, src));
}

// Row k + t of B at a lane's 4 columns, from the 4 vec4 loads of matmul_subgroup_vec4.
fn b_row(bq: array<vec4f, 4>, t: u32) -> vec4f {
  if (TRANS_B) { return vec4f(bq[0][t], bq[1][t], bq[2][t], bq[3][t]); }
  return bq[t];
}

// vec4 path: needs K % 4 == 0, M % 4 == 0 when TRANS_A, N % 4 == 0 unless TRANS_B (the host checks).
@compute @workgroup_size(LANES)
fn matmul_subgroup_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * ROWS;
  let n0 = wg.x * LANES * 4u * TN;
  let batch = wg.z;
  // In vec4 units; the host guarantees both strides are multiples of 4.
  let a_base = batch * p.batch_stride_a / 4u;
  let b_base = batch * p.batch_stride_b / 4u;
  let K4 = p.K / 4u;
  let M4 = p.M / 4u;
  let N4 = p.N / 4u;

  var acc: array<array<vec4f, TN_MAX>, ROWS>;
  for (var k4 = 0u; k4 < K4; k4++) {
    // Rows past M and columns past N are clamped (their results are never stored).
    var av: array<vec4f, 4>;
    for (var q = 0u; q < 4u; q++) {
      if (TRANS_A) {
        av[q] = a4[a_base + (4u * k4 + q) * M4 + min(m0 / 4u + lane, M4 - 1u)];
      } else {
        av[q] = a4[a_base + min(m0 + 8u * q + lane, p.M - 1u) * K4 + k4];
      }
    }
    // bq[j]: this lane's 4 columns of group j at k..k+3, as 4 vec4 loads: rows k + q of B, or
    // with TRANS_B columns n + q of the stored [N, K] matrix (b_row transposes them for free:
    // in SIMD registers a vec4 is 4 separate registers). One loop shape for both layouts keeps
    // Mesa unrolling everything; different shapes here made it stop unrolling the row loop.
    var bq: array<array<vec4f, 4>, TN_MAX>;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + 4u * (lane + LANES * j);
      for (var q = 0u; q < 4u; q++) {
        if (TRANS_B) {
          bq[j][q] = b4[b_base + min(n + q, p.N - 1u) * K4 + k4];
        } else {
          bq[j][q] = b4[b_base + (4u * k4 + q) * N4 + min(n / 4u, N4 - 1u)];
        }
      }
    }
    for (var i = 0u; i < ROWS; i++) {
      let ar = a_row(av, i);
      for (var j = 0u; j < TN; j++) {
        acc[i][j] = fma(vec4f(ar.w), b_row(bq[j], 3u), fma(vec4f(ar.z), b_row(bq[j], 2u),
                    fma(vec4f(ar.y), b_row(bq[j], 1u), fma(vec4f(ar.x), b_row(bq[j], 0u), acc[i][j]))));
      }
    }
  }

  for (var i = 0u; i < ROWS; i++) {
    let m = m0 + i;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + 4u * (lane + LANES * j);
      for (var c = 0u; c < 4u; c++) {
        if (m < p.M && n + c < p.N) { finish(batch, m, n + c, acc[i][j][c]); }
      }
    }
  }
}

// Scalar path: any M, N, K and any alignment; one k per iteration, element strides for the
// transposes. About half the speed of the vec4 path.
@compute @workgroup_size(LANES)
fn matmul_subgroup_scalar(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * ROWS;
  let n0 = wg.x * LANES * 4u * TN;
  let batch = wg.z;
  let a_base = batch * p.batch_stride_a;
  let b_base = batch * p.batch_stride_b;
  // A[m, k] = a[a_base + m * a_sm + k * a_sk], B[k, n] = b[b_base + k * b_sk + n * b_sn]
  let a_sm = select(p.K, 1u, TRANS_A);
  let a_sk = select(1u, p.M, TRANS_A);
  let b_sk = select(p.N, 1u, TRANS_B);
  let b_sn = select(1u, p.K, TRANS_B);

  var acc: array<array<vec4f, TN_MAX>, ROWS>;
  for (var k = 0u; k < p.K; k++) {
    var av: array<f32, 4>;  // rows lane + 8q
    for (var q = 0u; q < 4u; q++) {
      av[q] = a[a_base + min(m0 + 8u * q + lane, p.M - 1u) * a_sm + k * a_sk];
    }
    var bv: array<vec4f, TN_MAX>;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + 4u * (lane + LANES * j);
      for (var c = 0u; c < 4u; c++) { bv[j][c] = b[b_base + k * b_sk + min(n + c, p.N - 1u) * b_sn]; }
    }
    for (var i = 0u; i < ROWS; i++) {
      let s = vec4f(subgroupShuffle(av[i / 8u], i % 8u));
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(s, bv[j], acc[i][j]); }
    }
  }

  for (var i = 0u; i < ROWS; i++) {
    let m = m0 + i;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + 4u * (lane + LANES * j);
      for (var c = 0u; c < 4u; c++) {
        if (m < p.M && n + c < p.N) { finish(batch, m, n + c, acc[i][j][c]); }
      }
    }
  }
}
