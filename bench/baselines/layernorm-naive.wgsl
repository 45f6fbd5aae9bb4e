// Naive layernorm baseline for the bench: one invocation per row (forward, backward's dinp) or
// per column (backward's dweight / dbias, a loop over all rows), scalar loads, 64 per workgroup.
struct Params { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> mean_in: array<f32>;
@group(0) @binding(6) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> dout_c: array<f32>;
@group(0) @binding(5) var<storage, read> mean_c: array<f32>;
@group(0) @binding(6) var<storage, read> rstd_c: array<f32>;

@compute @workgroup_size(64)
fn naive_forward(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var m = 0.0;
  for (var c = 0u; c < p.C; c++) { m += inp[base + c]; }
  m /= f32(p.C);
  var v = 0.0;
  for (var c = 0u; c < p.C; c++) { let d = inp[base + c] - m; v += d * d; }
  let s = inverseSqrt(v / f32(p.C) + p.eps);
  for (var c = 0u; c < p.C; c++) { out[base + c] = (inp[base + c] - m) * s * weight[c] + bias[c]; }
  mean[row] = m;
  rstd[row] = s;
}

@compute @workgroup_size(64)
fn naive_backward_dinp(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let m = mean_in[row];
  let s = rstd_in[row];
  var a = 0.0;
  var b = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let dn = weight[c] * dout[base + c];
    a += dn;
    b += dn * (inp[base + c] - m) * s;
  }
  a /= f32(p.C);
  b /= f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    let norm = (inp[base + c] - m) * s;
    dinp[base + c] = (weight[c] * dout[base + c] - a - norm * b) * s;
  }
}

@compute @workgroup_size(64)
fn naive_backward_params(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.C) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.N; r++) {
    let d = dout_c[r * p.C + col];
    dw += d * (inp[r * p.C + col] - mean_c[r]) * rstd_c[r];
    db += d;
  }
  dweight[col] = dw;
  dbias[col] = db;
}
