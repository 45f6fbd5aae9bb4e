enable subgroups;
// DRAFT v2 sg variant (comments to be finalised)

struct Attn {
  T: u32,
  qOffset: u32,
  kvStride: u32,
  scale: f32,
}

override HS: u32 = 64u;
override WG: u32 = 8u;
override HS4: u32 = HS / 4u;
override CH: u32 = (HS4 + 7u) / 8u;
override LANES: u32 = min(HS4, 8u);
const MAX_HS: u32 = 128u;
const MAX_CH: u32 = 4u;
const MASKED: f32 = -1.0e30;

@group(0) @binding(0) var<uniform> p: Attn;
// forward and decode
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(2) var<storage, read> q: array<vec4f>;
@group(0) @binding(3) var<storage, read> k: array<vec4f>;
@group(0) @binding(4) var<storage, read> v: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
// backward, dQ pass (q, k, v as above)
@group(0) @binding(1) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(5) var<storage, read> dout: array<vec4f>;
@group(0) @binding(6) var<storage, read> o: array<vec4f>;
@group(0) @binding(7) var<storage, read> lse_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> dvec: array<f32>;
// backward, dK/dV pass (q, k, v, dout, lse_in as above)
@group(0) @binding(1) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<storage, read> dvec_in: array<f32>;

alias Rows = array<vec4f, MAX_HS>;
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
var<private> stage: array<mat4x4f, MAX_HS / 4u>;

// ---- the two products of every step, one lane's chunk (4 dims) at a time

fn dot_lane(acc: mat4x4f, x: ptr<private, Rows>, y: mat4x4f, t: u32, l: u32) -> mat4x4f {
  let h = 4u * (8u * t + l);
  let X = mat4x4f((*x)[h], (*x)[h + 1u], (*x)[h + 2u], (*x)[h + 3u]);
  let Y = mat4x4f(subgroupShuffle(y[0], l), subgroupShuffle(y[1], l), subgroupShuffle(y[2], l), subgroupShuffle(y[3], l));
  return acc + X * Y;
}

fn axpy_lane(z: ptr<private, Rows>, c: vec4f, w: mat4x4f, y: mat4x4f, t: u32, l: u32) {
  let h = 4u * (8u * t + l);
  let Y = mat4x4f(subgroupShuffle(y[0], l), subgroupShuffle(y[1], l), subgroupShuffle(y[2], l), subgroupShuffle(y[3], l));
  let C = w * transpose(Y);
  (*z)[h] = (*z)[h] * c + C[0];
  (*z)[h + 1u] = (*z)[h + 1u] * c + C[1];
  (*z)[h + 2u] = (*z)[h + 2u] * c + C[2];
  (*z)[h + 3u] = (*z)[h + 3u] * c + C[3];
}

// Row chunk c of the invocation's 4 rows, as matrix columns, staged for the copy into a Rows array.
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

// ---- expansion over every (chunk t, lane l) of a row with literal indices

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

// ---- a step's 4 rows, spread over the 8 lanes of the subgroup

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

const QUAD = vec4u(0u, 1u, 2u, 3u);

fn attend(wg: vec3u, lid: u32, lane: u32) -> vec4f {
  let sl = lane & 7u;
  let row0 = (wg.x * WG + lid) * 4u;
  let rows = min(vec4u(row0) + QUAD, vec4u(p.T - 1u));
  let base = (vec4u(wg.y * p.T) + rows) * HS4;
  for (var c = 0u; c < HS4; c++) {
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
  for (var c = 0u; c < HS4; c++) {
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
fn attention_decode(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  _ = attend(wg, lid, lane);
}

@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let sl = lane & 7u;
  let bT = wg.y * p.T;
  let row0 = (wg.x * WG + lid) * 4u;
  let rows = min(vec4u(row0) + QUAD, vec4u(p.T - 1u));
  let base = (vec4u(bT) + rows) * HS4;
  let live = vec4u(row0) + QUAD < vec4u(p.T);
  for (var c = 0u; c < HS4; c++) {
    stage[c] = mat4x4f(q[base.x + c], q[base.y + c], q[base.z + c], q[base.w + c]) * p.scale;
  }
  stage_to_rows(&qT);
  var D = vec4f(0.0);
  for (var c = 0u; c < HS4; c++) {
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
  for (var c = 0u; c < HS4; c++) {
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
  for (var c = 0u; c < HS4; c++) {
    stage[c] = mat4x4f(k[base.x + c], k[base.y + c], k[base.z + c], k[base.w + c]);
  }
  stage_to_rows(&kT);
  for (var c = 0u; c < HS4; c++) {
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
  for (var c = 0u; c < HS4; c++) {
    let m = stage[c] * p.scale;
    if (live.x) { dk[base.x + c] = m[0]; }
    if (live.y) { dk[base.y + c] = m[1]; }
    if (live.z) { dk[base.z + c] = m[2]; }
    if (live.w) { dk[base.w + c] = m[3]; }
  }
  rows_to_stage(&dvT);
  for (var c = 0u; c < HS4; c++) {
    let m = stage[c];
    if (live.x) { dv[base.x + c] = m[0]; }
    if (live.y) { dv[base.y + c] = m[1]; }
    if (live.z) { dv[base.z + c] = m[2]; }
    if (live.w) { dv[base.w + c] = m[3]; }
  }
}
