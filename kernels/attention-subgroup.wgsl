enable subgroups;
// Fused causal attention for CPU SIMD adapters (lavapipe): the same forward, backward (dq pass,
// then dk/dv pass) and decoding as kernels/attention.wgsl, whose header gives the math, the
// layout, the bindings and the uniform struct; both include lib/attention-io.wgsl (Params, HS,
// MASKED, the bindings). attention.ts picks this variant on software adapters whose subgroups
// have at least 8 invocations; it needs the 'subgroups' feature.
//
// ---- Why a second mapping ------------------------------------------------------------------------
// lavapipe runs 8 invocations as the 8 lanes of one AVX2 register (a subgroup of 8), and its cost
// model (Mesa 25.0, measured in bench/dev/attention/NOTES.md) is far from a GPU's:
//   - Inside a loop every load from storage or workgroup memory is a per-lane gather with a mask
//     test and a bounds check per component, even when all lanes read the same address: ~4
//     instructions per float per lane, against 1 instruction for a multiply on all 8 lanes.
//     The tiled kernel's inner loop reads two operands from workgroup memory per multiply-add.
//   - Private arrays indexed with a non-constant index live in per-lane scratch memory (gathers
//     again); indexed with constants they are plain registers and stack slots.
//   - NIR unrolls a loop only if it runs at most 32 times and its unrolled body stays under ~800
//     scalar operations; a loop it does not unroll indexes its arrays dynamically.
// So here: every invocation owns 4 rows at once (the 4 components of every vec4 below are 4 rows:
// a multiply then serves 4 rows x 8 lanes); the rows of the other operand are loaded once per
// subgroup, spread over its 8 lanes (lane l loads vec4 chunks l, l+8, ..) and handed to every lane
// by subgroupShuffle (one permute per float, not a gather); and all arithmetic on the private row
// arrays is expanded with literal indices (the *_chunk / *_rows functions: 8 lanes x up to 4
// chunks as straight-line calls instead of loops, which NIR would not unroll for HS >= 64).
// Measured on this 2-core machine (forward, B=4 NH=4 T=512 HS=64): ~18 GFLOP/s against ~2 for
// the tiled kernel.
//
// ---- Work decomposition -------------------------------------------------------------------------
// forward, dq: invocation i of workgroup w owns query rows 4(w·WG + i) .. +3 of head wg.y; it keeps
//   their q (pre-scaled), dout (dq pass) and accumulators transposed in private arrays:
//   xT[h] = (row0[h], row1[h], row2[h], row3[h]). Keys advance 4 per step (a "step" of 4 rows of
//   k and v, spread over the lanes); the 4x4 scores of a step are one mat4x4f (column = key,
//   component = row), so the online-softmax rescale happens once per 4 keys. Every workgroup
//   stops at the last key its last row sees (causal).
// dkv: invocation i owns key rows 4(w·WG + i) .. +3 (k, v, dk, dv transposed in private arrays);
//   queries from the workgroup's first key to T advance 4 per step.
// Per step, dot_rows computes S = X·Yᵀ (X: the invocation's 4 rows, Y: the step's 4 rows) and
// axpy_rows Z = c·Z + W·Y, one lane's chunk (4 dims) at a time as a 4x4 matrix product.
// The invocation's own rows are loaded and stored once, through `stage`, in loops bounded by the
// runtime copy p.hs4 of HS/4 so that they stay loops: unrolled, those per-lane gathers and
// scatters (with robustness checks) were most of the code and made LLVM take minutes.
// Private state per invocation: 2 (forward), 3 (dq) or 4 (dkv) arrays of HS vec4.
// Dispatch: forward and dq (ceil(T / (4·WG)), B·NH) workgroups; dkv the same over key rows.
// Subgroups of any size >= 8 work (lanes 8.. repeat lanes 0..7's loads; shuffles read lanes 0..7).
// Cost of the unrolling: lavapipe takes ~5 s (HS = 16) to ~60 s (HS = 128) to compile each entry
// point the first time on this machine; Mesa's shader cache makes later runs start at once.

//! include lib/attention-io.wgsl

override WG: u32 = 8u;               // invocations per workgroup (each owns 4 rows)
override CH: u32 = (HS4 + 7u) / 8u;  // chunks of a step row each lane holds
override LANES: u32 = min(HS4, 8u);  // lanes holding a chunk (fewer than 8 when HS < 32)
const MAX_HS: u32 = 128u;
const MAX_CH: u32 = 4u;

// An invocation's 4 rows, transposed: [h] = dim h of rows 0..3. Only ever indexed with constants.
alias Rows = array<vec4f, MAX_HS>;
// A step's 4 rows spread over the subgroup: [t][i] = chunk 8t + (lane & 7) of step row i.
alias Step = array<mat4x4f, MAX_CH>;

var<private> qT: Rows;
var<private> oT: Rows;
var<private> dT: Rows;
var<private> dqT: Rows;
var<private> kT: Rows;
var<private> vT: Rows;
var<private> dkT: Rows;
var<private> dvT: Rows;
var<private> stepA: Step;
var<private> stepB: Step;
// Staging for the one-time loads and stores: [c] = chunk c of the 4 rows (columns).
var<private> stage: array<mat4x4f, MAX_HS / 4u>;

// ---- The two products of a step, for the 4 dims of chunk 8t + l (held by lane l)
// acc += X·Yᵀ restricted to those dims: acc[i] (column i = step row i) gets Σ_d x[h+d]·y_i[h+d].

fn dot_lane(acc: mat4x4f, x: ptr<private, Rows>, y: mat4x4f, t: u32, l: u32) -> mat4x4f {
  let h = 4u * (8u * t + l);
  let X = mat4x4f((*x)[h], (*x)[h + 1u], (*x)[h + 2u], (*x)[h + 3u]);
  let Y = mat4x4f(subgroupShuffle(y[0], l), subgroupShuffle(y[1], l), subgroupShuffle(y[2], l), subgroupShuffle(y[3], l));
  return acc + X * Y;
}

// z[h+d] = c·z[h+d] + Σ_i w[i]·y_i[h+d]: C = W·Yᵀ has column d = Σ_i w[i]·Y[i][d].
fn axpy_lane(z: ptr<private, Rows>, c: vec4f, w: mat4x4f, y: mat4x4f, t: u32, l: u32) {
  let h = 4u * (8u * t + l);
  let Y = mat4x4f(subgroupShuffle(y[0], l), subgroupShuffle(y[1], l), subgroupShuffle(y[2], l), subgroupShuffle(y[3], l));
  let C = w * transpose(Y);
  (*z)[h] = (*z)[h] * c + C[0];
  (*z)[h + 1u] = (*z)[h + 1u] * c + C[1];
  (*z)[h + 2u] = (*z)[h + 2u] * c + C[2];
  (*z)[h + 3u] = (*z)[h + 3u] * c + C[3];
}

// stage (chunk c of 4 rows as columns) <-> Rows (transposed), for chunk c = 8t + l.
fn stage_to_rows_lane(x: ptr<private, Rows>, t: u32, l: u32) {
  let h = 4u * (8u * t + l);
  let mt = transpose(stage[8u * t + l]);
  (*x)[h] = mt[0];
  (*x)[h + 1u] = mt[1];
  (*x)[h + 2u] = mt[2];
  (*x)[h + 3u] = mt[3];
}
fn rows_to_stage_lane(x: ptr<private, Rows>, t: u32, l: u32) {
  let h = 4u * (8u * t + l);
  stage[8u * t + l] = transpose(mat4x4f((*x)[h], (*x)[h + 1u], (*x)[h + 2u], (*x)[h + 3u]));
}

// ---- Expansion over every chunk of a row: (t, l) = (0..CH-1, 0..LANES-1) as literal arguments.
// Straight-line calls rather than loops: see the header. `if` on an override folds away.

fn dot_chunk(acc: mat4x4f, x: ptr<private, Rows>, y: mat4x4f, t: u32) -> mat4x4f {
  var a = dot_lane(acc, x, y, t, 0u);
  if (LANES > 1u) { a = dot_lane(a, x, y, t, 1u); }
  if (LANES > 2u) { a = dot_lane(a, x, y, t, 2u); }
  if (LANES > 3u) { a = dot_lane(a, x, y, t, 3u); }
  if (LANES > 4u) { a = dot_lane(a, x, y, t, 4u); }
  if (LANES > 5u) { a = dot_lane(a, x, y, t, 5u); }
  if (LANES > 6u) { a = dot_lane(a, x, y, t, 6u); }
  if (LANES > 7u) { a = dot_lane(a, x, y, t, 7u); }
  return a;
}
fn dot_rows(x: ptr<private, Rows>, y: ptr<private, Step>) -> mat4x4f {
  var a = dot_chunk(mat4x4f(), x, (*y)[0], 0u);
  if (CH > 1u) { a = dot_chunk(a, x, (*y)[1], 1u); }
  if (CH > 2u) { a = dot_chunk(a, x, (*y)[2], 2u); }
  if (CH > 3u) { a = dot_chunk(a, x, (*y)[3], 3u); }
  return a;
}

fn axpy_chunk(z: ptr<private, Rows>, c: vec4f, w: mat4x4f, y: mat4x4f, t: u32) {
  axpy_lane(z, c, w, y, t, 0u);
  if (LANES > 1u) { axpy_lane(z, c, w, y, t, 1u); }
  if (LANES > 2u) { axpy_lane(z, c, w, y, t, 2u); }
  if (LANES > 3u) { axpy_lane(z, c, w, y, t, 3u); }
  if (LANES > 4u) { axpy_lane(z, c, w, y, t, 4u); }
  if (LANES > 5u) { axpy_lane(z, c, w, y, t, 5u); }
  if (LANES > 6u) { axpy_lane(z, c, w, y, t, 6u); }
  if (LANES > 7u) { axpy_lane(z, c, w, y, t, 7u); }
}
fn axpy_rows(z: ptr<private, Rows>, c: vec4f, w: mat4x4f, y: ptr<private, Step>) {
  axpy_chunk(z, c, w, (*y)[0], 0u);
  if (CH > 1u) { axpy_chunk(z, c, w, (*y)[1], 1u); }
  if (CH > 2u) { axpy_chunk(z, c, w, (*y)[2], 2u); }
  if (CH > 3u) { axpy_chunk(z, c, w, (*y)[3], 3u); }
}

fn stage_to_rows_chunk(x: ptr<private, Rows>, t: u32) {
  stage_to_rows_lane(x, t, 0u);
  if (LANES > 1u) { stage_to_rows_lane(x, t, 1u); }
  if (LANES > 2u) { stage_to_rows_lane(x, t, 2u); }
  if (LANES > 3u) { stage_to_rows_lane(x, t, 3u); }
  if (LANES > 4u) { stage_to_rows_lane(x, t, 4u); }
  if (LANES > 5u) { stage_to_rows_lane(x, t, 5u); }
  if (LANES > 6u) { stage_to_rows_lane(x, t, 6u); }
  if (LANES > 7u) { stage_to_rows_lane(x, t, 7u); }
}
fn stage_to_rows(x: ptr<private, Rows>) {
  stage_to_rows_chunk(x, 0u);
  if (CH > 1u) { stage_to_rows_chunk(x, 1u); }
  if (CH > 2u) { stage_to_rows_chunk(x, 2u); }
  if (CH > 3u) { stage_to_rows_chunk(x, 3u); }
}

fn rows_to_stage_chunk(x: ptr<private, Rows>, t: u32) {
  rows_to_stage_lane(x, t, 0u);
  if (LANES > 1u) { rows_to_stage_lane(x, t, 1u); }
  if (LANES > 2u) { rows_to_stage_lane(x, t, 2u); }
  if (LANES > 3u) { rows_to_stage_lane(x, t, 3u); }
  if (LANES > 4u) { rows_to_stage_lane(x, t, 4u); }
  if (LANES > 5u) { rows_to_stage_lane(x, t, 5u); }
  if (LANES > 6u) { rows_to_stage_lane(x, t, 6u); }
  if (LANES > 7u) { rows_to_stage_lane(x, t, 7u); }
}
fn rows_to_stage(x: ptr<private, Rows>) {
  rows_to_stage_chunk(x, 0u);
  if (CH > 1u) { rows_to_stage_chunk(x, 1u); }
  if (CH > 2u) { rows_to_stage_chunk(x, 2u); }
  if (CH > 3u) { rows_to_stage_chunk(x, 3u); }
}

// ---- A step's 4 rows (element offsets `base`), spread over the lanes: lane sl loads chunks
// 8t + sl. Lanes past the row (HS < 32) load its last chunk again; nobody shuffles from them.

fn load_k_step(base: vec4u, sl: u32) {
  for (var t = 0u; t < CH; t++) {
    let c = min(8u * t + sl, HS4 - 1u);
    stepA[t] = mat4x4f(k[base.x + c], k[base.y + c], k[base.z + c], k[base.w + c]);
  }
}
fn load_v_step(base: vec4u, sl: u32) {
  for (var t = 0u; t < CH; t++) {
    let c = min(8u * t + sl, HS4 - 1u);
    stepB[t] = mat4x4f(v[base.x + c], v[base.y + c], v[base.z + c], v[base.w + c]);
  }
}
fn load_q_step(base: vec4u, sl: u32) {
  for (var t = 0u; t < CH; t++) {
    let c = min(8u * t + sl, HS4 - 1u);
    stepA[t] = mat4x4f(q[base.x + c], q[base.y + c], q[base.z + c], q[base.w + c]);
  }
}
fn load_dout_step(base: vec4u, sl: u32) {
  for (var t = 0u; t < CH; t++) {
    let c = min(8u * t + sl, HS4 - 1u);
    stepB[t] = mat4x4f(dout[base.x + c], dout[base.y + c], dout[base.z + c], dout[base.w + c]);
  }
}

// The forward for this invocation's 4 rows: writes their output, returns their lse.
fn attend(wg: vec3u, lid: u32, lane: u32) -> vec4f {
  let sl = lane & 7u;
  let row0 = (wg.x * WG + lid) * 4u;
  let rows = min(vec4u(row0) + QUAD, vec4u(p.T - 1u));
  let base = (vec4u(wg.y * p.T) + rows) * HS4;
  for (var c = 0u; c < p.hs4; c++) {
    stage[c] = mat4x4f(q[base.x + c], q[base.y + c], q[base.z + c], q[base.w + c]) * p.scale;
  }
  stage_to_rows(&qT);
  let pos = vec4u(p.qOffset) + rows;
  let kEnd = p.qOffset + min((wg.x + 1u) * WG * 4u, p.T);
  let kvb = wg.y * p.kvStride;
  var m = vec4f(MASKED);
  var l = vec4f(0.0);
  for (var j = 0u; j < kEnd; j += 4u) {
    let keys = min(vec4u(j) + QUAD, vec4u(kEnd - 1u));
    load_k_step((vec4u(kvb) + keys) * HS4, sl);
    var s = dot_rows(&qT, &stepA);
    s[0] = select(vec4f(MASKED), s[0], vec4u(j) <= pos);
    s[1] = select(vec4f(MASKED), s[1], vec4u(j + 1u) <= pos);
    s[2] = select(vec4f(MASKED), s[2], vec4u(j + 2u) <= pos);
    s[3] = select(vec4f(MASKED), s[3], vec4u(j + 3u) <= pos);
    let mNew = max(m, max(max(s[0], s[1]), max(s[2], s[3])));
    let corr = exp(m - mNew);
    let pm = mat4x4f(exp(s[0] - mNew), exp(s[1] - mNew), exp(s[2] - mNew), exp(s[3] - mNew));
    l = l * corr + (pm[0] + pm[1]) + (pm[2] + pm[3]);
    m = mNew;
    load_v_step((vec4u(kvb) + keys) * HS4, sl);
    axpy_rows(&oT, corr, pm, &stepB);
  }
  rows_to_stage(&oT);
  let inv = 1.0 / l;
  let live = vec4u(row0) + QUAD < vec4u(p.T);
  for (var c = 0u; c < p.hs4; c++) {
    let m = stage[c];
    if (live.x) { out[base.x + c] = m[0] * inv.x; }
    if (live.y) { out[base.y + c] = m[1] * inv.y; }
    if (live.z) { out[base.z + c] = m[2] * inv.z; }
    if (live.w) { out[base.w + c] = m[3] * inv.w; }
  }
  return m + log(l);
}

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let r = attend(wg, lid, lane);
  let row0 = (wg.x * WG + lid) * 4u;
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < p.T) { lse[wg.y * p.T + row0 + i] = r[i]; }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let sl = lane & 7u;
  let bT = wg.y * p.T;
  let row0 = (wg.x * WG + lid) * 4u;
  let rows = min(vec4u(row0) + QUAD, vec4u(p.T - 1u));
  let base = (vec4u(bT) + rows) * HS4;
  let live = vec4u(row0) + QUAD < vec4u(p.T);
  for (var c = 0u; c < p.hs4; c++) {
    stage[c] = mat4x4f(q[base.x + c], q[base.y + c], q[base.z + c], q[base.w + c]) * p.scale;
  }
  stage_to_rows(&qT);
  var D = vec4f(0.0);
  for (var c = 0u; c < p.hs4; c++) {
    let g = mat4x4f(dout[base.x + c], dout[base.y + c], dout[base.z + c], dout[base.w + c]);
    stage[c] = g;
    D += vec4f(dot(g[0], o[base.x + c]), dot(g[1], o[base.y + c]), dot(g[2], o[base.z + c]), dot(g[3], o[base.w + c]));
  }
  stage_to_rows(&dT);
  for (var i = 0u; i < 4u; i++) {
    if (live[i]) { dvec[bT + row0 + i] = D[i]; }
  }
  let L = vec4f(lse_in[bT + rows.x], lse_in[bT + rows.y], lse_in[bT + rows.z], lse_in[bT + rows.w]);
  let kEnd = min((wg.x + 1u) * WG * 4u, p.T);
  for (var j = 0u; j < kEnd; j += 4u) {
    let keys = min(vec4u(j) + QUAD, vec4u(kEnd - 1u));
    load_k_step((vec4u(bT) + keys) * HS4, sl);
    load_v_step((vec4u(bT) + keys) * HS4, sl);
    let s = dot_rows(&qT, &stepA);
    let dp = dot_rows(&dT, &stepB);
    let p0 = select(vec4f(0.0), exp(s[0] - L), vec4u(j) <= rows);
    let p1 = select(vec4f(0.0), exp(s[1] - L), vec4u(j + 1u) <= rows);
    let p2 = select(vec4f(0.0), exp(s[2] - L), vec4u(j + 2u) <= rows);
    let p3 = select(vec4f(0.0), exp(s[3] - L), vec4u(j + 3u) <= rows);
    let ds = mat4x4f(p0 * (dp[0] - D), p1 * (dp[1] - D), p2 * (dp[2] - D), p3 * (dp[3] - D));
    axpy_rows(&dqT, vec4f(1.0), ds, &stepA);
  }
  rows_to_stage(&dqT);
  for (var c = 0u; c < p.hs4; c++) {
    let m = stage[c] * p.scale;
    if (live.x) { dq[base.x + c] = m[0]; }
    if (live.y) { dq[base.y + c] = m[1]; }
    if (live.z) { dq[base.z + c] = m[2]; }
    if (live.w) { dq[base.w + c] = m[3]; }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let sl = lane & 7u;
  let bT = wg.y * p.T;
  let key0 = (wg.x * WG + lid) * 4u;
  let keys = min(vec4u(key0) + QUAD, vec4u(p.T - 1u));
  let base = (vec4u(bT) + keys) * HS4;
  let live = vec4u(key0) + QUAD < vec4u(p.T);
  for (var c = 0u; c < p.hs4; c++) {
    stage[c] = mat4x4f(k[base.x + c], k[base.y + c], k[base.z + c], k[base.w + c]);
  }
  stage_to_rows(&kT);
  for (var c = 0u; c < p.hs4; c++) {
    stage[c] = mat4x4f(v[base.x + c], v[base.y + c], v[base.z + c], v[base.w + c]);
  }
  stage_to_rows(&vT);
  for (var i0 = wg.x * WG * 4u; i0 < p.T; i0 += 4u) {
    let qs = min(vec4u(i0) + QUAD, vec4u(p.T - 1u));
    load_q_step((vec4u(bT) + qs) * HS4, sl);
    load_dout_step((vec4u(bT) + qs) * HS4, sl);
    let L = vec4f(lse_in[bT + qs.x], lse_in[bT + qs.y], lse_in[bT + qs.z], lse_in[bT + qs.w]);
    let D = vec4f(dvec_in[bT + qs.x], dvec_in[bT + qs.y], dvec_in[bT + qs.z], dvec_in[bT + qs.w]);
    let s = dot_rows(&kT, &stepA) * p.scale;
    let dp = dot_rows(&vT, &stepB);
    let p0 = select(vec4f(0.0), exp(s[0] - L.x), (keys <= vec4u(i0)) & vec4<bool>(i0 < p.T));
    let p1 = select(vec4f(0.0), exp(s[1] - L.y), (keys <= vec4u(i0 + 1u)) & vec4<bool>(i0 + 1u < p.T));
    let p2 = select(vec4f(0.0), exp(s[2] - L.z), (keys <= vec4u(i0 + 2u)) & vec4<bool>(i0 + 2u < p.T));
    let p3 = select(vec4f(0.0), exp(s[3] - L.w), (keys <= vec4u(i0 + 3u)) & vec4<bool>(i0 + 3u < p.T));
    let pm = mat4x4f(p0, p1, p2, p3);
    let ds = mat4x4f(p0 * (dp[0] - D.x), p1 * (dp[1] - D.y), p2 * (dp[2] - D.z), p3 * (dp[3] - D.w));
    axpy_rows(&dvT, vec4f(1.0), pm, &stepB);
    axpy_rows(&dkT, vec4f(1.0), ds, &stepA);
  }
  rows_to_stage(&dkT);
  for (var c = 0u; c < p.hs4; c++) {
    let m = stage[c] * p.scale;
    if (live.x) { dk[base.x + c] = m[0]; }
    if (live.y) { dk[base.y + c] = m[1]; }
    if (live.z) { dk[base.z + c] = m[2]; }
    if (live.w) { dk[base.w + c] = m[3]; }
  }
  rows_to_stage(&dvT);
  for (var c = 0u; c < p.hs4; c++) {
    let m = stage[c];
    if (live.x) { dv[base.x + c] = m[0]; }
    if (live.y) { dv[base.y + c] = m[1]; }
    if (live.z) { dv[base.z + c] = m[2]; }
    if (live.w) { dv[base.w + c] = m[3]; }
  }
}
