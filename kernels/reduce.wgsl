// Reductions over one axis of a tensor viewed as [outer, R, inner]:
//   out[o, i] = scale · Σ_r inp[o, r, i]          (OP 0: sum; mean is sum with scale 1/R)
//   out[o, i] = max_r inp[o, r, i], arg[o, i] = first r reaching it   (OP 1: max)
// Saved for backward: max keeps `arg` so its backward routes dout to the first maximal element.
//
// Two geometries, picked on the host:
//   reduce_rows     inner == 1 (a row per output, e.g. sum over the last axis or over everything):
//                   one workgroup per row; WG invocations stride over the row, then a tree
//                   reduction in workgroup memory. Rows are indexed on a 2-D grid of workgroups.
//   reduce_strided  inner > 1: one invocation per output (o, i) walks r; neighbouring invocations
//                   read neighbouring addresses (i is innermost), so loads coalesce.

struct Params {
  outer: u32,
  R: u32,
  inner: u32,
  scale: f32,
  row: u32,      // grid row pitch: workgroups (reduce_rows) or invocations (others) per grid row
}

override WG: u32 = 256;
override OP: u32 = 0;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

var<workgroup> wval: array<f32, WG>;
var<workgroup> warg: array<u32, WG>;

// Keeps the larger value; on a tie, the smaller index, so "first maximum" is well defined.
fn better(v: f32, a: u32, bv: f32, ba: u32) -> bool {
  return v > bv || (v == bv && a < ba);
}

@compute @workgroup_size(WG)
fn reduce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = wid.x + wid.y * p.row;
  if (o >= p.outer) { return; }   // uniform per workgroup, so barriers below stay uniform
  let base = o * p.R;
  var acc = select(0.0, bitcast<f32>(0xff7fffffu), OP == 1u);
  var best = 0xffffffffu;
  for (var r = lid.x; r < p.R; r += WG) {
    let v = inp[base + r];
    if (OP == 1u) {
      if (best == 0xffffffffu || better(v, r, acc, best)) { acc = v; best = r; }
    } else {
      acc += v;
    }
  }
  wval[lid.x] = acc;
  warg[lid.x] = best;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid.x < s) {
      if (OP == 1u) {
        let ob = warg[lid.x + s];
        if (ob != 0xffffffffu && (warg[lid.x] == 0xffffffffu || better(wval[lid.x + s], ob, wval[lid.x], warg[lid.x]))) {
          wval[lid.x] = wval[lid.x + s];
          warg[lid.x] = ob;
        }
      } else {
        wval[lid.x] += wval[lid.x + s];
      }
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    out[o] = wval[0] * select(p.scale, 1.0, OP == 1u);
    if (OP == 1u) { arg[o] = warg[0]; }
  }
}

@compute @workgroup_size(WG)
fn reduce_strided(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x + gid.y * p.row;
  if (idx >= p.outer * p.inner) { return; }
  let o = idx / p.inner;
  let i = idx % p.inner;
  var acc = select(0.0, bitcast<f32>(0xff7fffffu), OP == 1u);
  var best = 0u;
  for (var r = 0u; r < p.R; r++) {
    let v = inp[(o * p.R + r) * p.inner + i];
    if (OP == 1u) {
      if (r == 0u || v > acc) { acc = v; best = r; }
    } else {
      acc += v;
    }
  }
  out[idx] = acc * select(p.scale, 1.0, OP == 1u);
  if (OP == 1u) { arg[idx] = best; }
}

// dinp[o, r, i] = r == arg[o, i] ? dout[o, i] : 0 — one invocation per input element, so the
// gradient is written whole and needs no zeroing first.
@group(0) @binding(0) var<uniform> q: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> dinp: array<f32>;

@compute @workgroup_size(WG)
fn max_backward(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x + gid.y * q.row;
  if (idx >= q.outer * q.R * q.inner) { return; }
  let i = idx % q.inner;
  let r = (idx / q.inner) % q.R;
  let o = idx / (q.inner * q.R);
  let oi = o * q.inner + i;
  dinp[idx] = select(0.0, dout[oi], argmax[oi] == r);
}
