// Layer normalisation over the last axis, forward and backward (llm.c's layernorm).
//
// Shapes: inp, out, dout, dinp: (N, C) row-major; weight, bias, dweight, dbias: (C); mean, rstd: (N).
// Forward:  mean = sum_c x / C;  rstd = 1 / sqrt(sum_c (x - mean)^2 / C + eps)   (biased variance)
//           out = (x - mean) * rstd * weight + bias.  Saved for backward: mean and rstd.
// Backward: norm = (x - mean) * rstd, dnorm = weight * dout,
//           dinp = rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm))      (written)
//           dweight = sum_rows dout * norm, dbias = sum_rows dout                 (two stages:)
//   stage 1 (layernorm_backward*) writes each workgroup's column sums over its rows into a
//   scratch buffer `partial` (dweight part: G x C floats, then dbias part: G x C floats, G the
//   number of workgroups); stage 2 (layernorm_backward_params*) sums the G partials of each column
//   in a fixed order. No float atomics: the result is deterministic.
//
// Bindings: @binding(0) Params;
//   forward:           1 out (rw), 2 mean (rw), 3 rstd (rw), 4 inp, 5 weight, 6 bias
//   backward stage 1:  1 dinp (rw), 2 partial (rw), 3 dout, 4 inp, 5 weight, 6 mean, 7 rstd
//   backward stage 2:  1 dweight (rw), 2 dbias (rw), 3 partial
// Every entry point exists twice: `*_vec4` moves vec4s and needs C % 4 == 0; `*_scalar` takes
// any C (stage 2's scalar version: one column per invocation). Plus layernorm_forward_cached
// (vec4, the forward's bindings, C <= 4 * WG * VPT; see above it).
//
// Dispatch (stage 1 and forward): one workgroup of WG invocations per block of ROWS consecutive
// rows, rows beyond 65535 workgroups spill into y. Each invocation owns the 4-column chunks
// lid, lid + WG, ... and walks them in an outer loop with the ROWS rows unrolled inside, so a chunk
// of weight and bias is loaded once per block instead of once per row, and each invocation's
// per-row state is ROWS scalars, not a row. (On lavapipe every buffer access is an 8-way loop over
// the SIMD lanes, so loads saved are time saved; on a GPU the block's rows stay in L1.)
//   forward:  pass 1 reads x once for the statistics: each chunk's exact two-pass statistics
//             (mean, sum of squared deviations) merge into the invocation's running pair with
//             Chan, Golub & LeVeque's formula, then across the workgroup: mean first, then the
//             squared deviations about it (two reductions, no E[x^2] - E[x]^2 cancellation).
//             Pass 2 reads x again and writes out.
//   backward: pass 1 reads dout and x for the two row means; pass 2 reads them again, writes
//             dinp and accumulates dweight / dbias for the chunk over the block's rows in two
//             registers, stored once per chunk into `partial`.
// Stage 2: one invocation per vec4 of columns (or per column), a loop over the G partials.
// The reductions across the workgroup are wg_sum / wg_sum2 (ROWS + ROWS or ROWS reductions a
// block).
// Reading x twice is what the streaming forward does (any C). On lavapipe the forward of rows up
// to 4 * WG * 32 columns is layernorm_forward_cached instead, which keeps the row (and weight and
// bias, over ROWS rows) in private arrays: 2 storage accesses per element instead of ~3.5, 3.5
// against 3.0 GB/s at [4096 x 768]. (An earlier register version that cached the row but
// re-loaded weight and bias per row, bench/dev/layernorm/NOTES.md, was slower than streaming.)
//
// Includes: lib/rows.wgsl (row_index, sum4, MAX_VPT) and lib/rowreduce.wgsl (wg_sum, wg_sum2),
// for which layernorm.ts swaps in lib/rowreduce-subgroup.wgsl when the adapter allows.

//! include lib/rows.wgsl
//! include lib/rowreduce.wgsl

struct Params {
  N: u32,      // rows
  C: u32,      // row length
  eps: f32,    // forward: added to the variance
  G: u32,      // backward: number of row blocks (workgroups of stage 1); stage 2's loop bound
  accumulate: u32, // stage 2: 1 = dweight/dbias +=, 0 = overwrite
}

const MAX_ROWS = 16u;

override WG: u32 = 64u;   // invocations per workgroup, a power of two (lib/rowreduce.wgsl)
override ROWS: u32 = 4u;  // rows per workgroup, <= MAX_ROWS (unrolled)

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> saved_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> saved_rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> inp4: array<vec4f>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> weight4: array<vec4f>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> bias4: array<vec4f>;

// backward stage 1 (binding 4 inp and 5 weight as above)
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial4: array<vec4f>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> dout4: array<vec4f>;
@group(0) @binding(6) var<storage, read> mean_in: array<f32>;
@group(0) @binding(7) var<storage, read> rstd_in: array<f32>;

// backward stage 2
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(1) var<storage, read_write> dweight4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias4: array<vec4f>;
@group(0) @binding(3) var<storage, read> partial_in: array<f32>;
@group(0) @binding(3) var<storage, read> partial_in4: array<vec4f>;

// ---------------------------------------------------------------------------------------------
// Helpers on values

// Merges a chunk of nb values (lanes 0..nb-1 of x) into running statistics st = (mean, M2) of
// cnt values, M2 the sum of squared deviations from the mean; w = nb / (cnt + nb). The chunk's
// own statistics are exact (two-pass over 4 values); Chan et al.'s merge keeps the whole exact.
fn merge_chunk(st: vec2f, x: vec4f, nb: f32, cnt: f32, w: f32) -> vec2f {
  let valid = vec4f(0.0, 1.0, 2.0, 3.0) < vec4f(nb);
  let mc = sum4(select(vec4f(0.0), x, valid)) / nb;
  let d = select(vec4f(0.0), x - vec4f(mc), valid);
  let delta = mc - st.x;
  return vec2f(st.x + delta * w, st.y + dot(d, d) + delta * delta * cnt * w);
}

// Merges the invocations' statistics (cnt values each; cnt may differ by one chunk) into the
// row's (mean, rstd).
fn row_stats(st: vec2f, cnt: f32, lid: u32) -> vec2f {
  let C = f32(p.C);
  let mean = wg_sum(cnt * st.x, lid) / C;
  let d = st.x - mean;
  let m2 = wg_sum(st.y + cnt * d * d, lid);
  return vec2f(mean, inverseSqrt(m2 / C + p.eps));
}

// Scalar access to chunk c (columns 4c..4c+3) of a row starting at `base`, bounded by C.
fn load_chunk_inp(base: u32, c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = inp[base + 4u * c + i];
    }
  }
  return x;
}

fn load_chunk_dout(base: u32, c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = dout[base + 4u * c + i];
    }
  }
  return x;
}

fn load_chunk_weight(c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = weight[4u * c + i];
    }
  }
  return x;
}

fn load_chunk_bias(c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = bias[4u * c + i];
    }
  }
  return x;
}

fn store_chunk_out(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      out[base + 4u * c + i] = y[i];
    }
  }
}

fn store_chunk_dinp(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      dinp[base + 4u * c + i] = y[i];
    }
  }
}

fn store_chunk_partial(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      partial[base + 4u * c + i] = y[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

@compute @workgroup_size(WG)
fn layernorm_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                            @builtin(local_invocation_index) lid: u32) {
  let row0 = row_index(wid, nwg) * ROWS;
  if (row0 >= p.N) {
    return;
  }
  let nrows = min(ROWS, p.N - row0);
  let nc = (p.C + 3u) / 4u;

  var st: array<vec2f, MAX_ROWS>;
  var cnt = 0.0;
  for (var c = lid; c < nc; c += WG) {
    let nb = f32(min(4u, p.C - 4u * c));
    let w = nb / (cnt + nb);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        st[r] = merge_chunk(st[r], load_chunk_inp((row0 + r) * p.C, c), nb, cnt, w);
      }
    }
    cnt += nb;
  }
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      st[r] = row_stats(st[r], cnt, lid);
      if (lid == 0u) {
        saved_mean[row0 + r] = st[r].x;
        saved_rstd[row0 + r] = st[r].y;
      }
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = load_chunk_weight(c);
    let bc = load_chunk_bias(c);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let base = (row0 + r) * p.C;
        store_chunk_out(base, c, (load_chunk_inp(base, c) - vec4f(st[r].x)) * st[r].y * wc + bc);
      }
    }
  }
}

@compute @workgroup_size(WG)
fn layernorm_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                          @builtin(local_invocation_index) lid: u32) {
  let row0 = row_index(wid, nwg) * ROWS;
  if (row0 >= p.N) {
    return;
  }
  let nrows = min(ROWS, p.N - row0);
  let nc = p.C / 4u;

  var st: array<vec2f, MAX_ROWS>;
  var cnt = 0.0;
  for (var c = lid; c < nc; c += WG) {
    let w = 4.0 / (cnt + 4.0);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        st[r] = merge_chunk(st[r], inp4[(row0 + r) * nc + c], 4.0, cnt, w);
      }
    }
    cnt += 4.0;
  }
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      st[r] = row_stats(st[r], cnt, lid);
      if (lid == 0u) {
        saved_mean[row0 + r] = st[r].x;
        saved_rstd[row0 + r] = st[r].y;
      }
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = weight4[c];
    let bc = bias4[c];
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let i = (row0 + r) * nc + c;
        out4[i] = (inp4[i] - vec4f(st[r].x)) * st[r].y * wc + bc;
      }
    }
  }
}

// Forward, register-cached (vec4, C <= 4 * WG * VPT): each invocation keeps its VPT chunks of
// the row in a private array, so x is read from memory once, and its chunks of weight and bias
// once per workgroup, which walks ROWS consecutive rows in a loop. Statistics are exact two-pass
// ones over the cached values (mean, then the squared deviations about it).
// Why (lavapipe): a storage access is a per-lane gather or scatter, while the private array lives
// in registers and stack slots read with plain vector loads; so memory traffic per element drops
// from 3 storage accesses (+ weight and bias per ROWS rows) to 2, as in softmax's forward.

override VPT: u32 = 0u;     // cached chunks per invocation (layernorm_forward_cached only), <= MAX_VPT

@compute @workgroup_size(WG)
fn layernorm_forward_cached(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                            @builtin(local_invocation_index) lid: u32) {
  let row0 = row_index(wid, nwg) * ROWS;
  if (row0 >= p.N) {
    return;
  }
  let nrows = min(ROWS, p.N - row0);
  let nc = p.C / 4u;
  let invC = 1.0 / f32(p.C);

  var w: array<vec4f, MAX_VPT>;
  var b: array<vec4f, MAX_VPT>;
  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    if (c < nc) {
      w[k] = weight4[c];
      b[k] = bias4[c];
    }
  }
  var x: array<vec4f, MAX_VPT>;
  for (var r = 0u; r < nrows; r++) {
    let base = (row0 + r) * nc;
    var s = vec4f(0.0);
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      x[k] = vec4f(0.0);
      if (c < nc) {
        x[k] = inp4[base + c];
      }
      s += x[k];
    }
    let mean = wg_sum(sum4(s), lid) * invC;
    var q = vec4f(0.0);
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      let d = select(vec4f(0.0), x[k] - vec4f(mean), c < nc);
      q = fma(d, d, q);
    }
    let rstd = inverseSqrt(wg_sum(sum4(q), lid) * invC + p.eps);
    if (lid == 0u) {
      saved_mean[row0 + r] = mean;
      saved_rstd[row0 + r] = rstd;
    }
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        out4[base + c] = (x[k] - vec4f(mean)) * rstd * w[k] + b[k];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward, stage 1: dinp, and this block's column sums for dweight / dbias.

@compute @workgroup_size(WG)
fn layernorm_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                             @builtin(local_invocation_index) lid: u32) {
  let g = row_index(wid, nwg);
  let row0 = g * ROWS;
  if (row0 >= p.N) {
    return;
  }
  let nrows = min(ROWS, p.N - row0);
  let nc = (p.C + 3u) / 4u;

  var mr: array<vec2f, MAX_ROWS>;   // the row's (mean, rstd)
  var acc: array<vec2f, MAX_ROWS>;  // sums of dnorm and dnorm * norm
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      mr[r] = vec2f(mean_in[row0 + r], rstd_in[row0 + r]);
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = load_chunk_weight(c);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let base = (row0 + r) * p.C;
        let norm = (load_chunk_inp(base, c) - vec4f(mr[r].x)) * mr[r].y;
        let dnorm = wc * load_chunk_dout(base, c);
        acc[r] += vec2f(sum4(dnorm), dot(dnorm, norm));
      }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      acc[r] = wg_sum2(acc[r], lid) / f32(p.C);
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = load_chunk_weight(c);
    var dw = vec4f(0.0);
    var db = vec4f(0.0);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let base = (row0 + r) * p.C;
        let norm = (load_chunk_inp(base, c) - vec4f(mr[r].x)) * mr[r].y;
        let d = load_chunk_dout(base, c);
        store_chunk_dinp(base, c, (wc * d - vec4f(acc[r].x) - norm * acc[r].y) * mr[r].y);
        dw += d * norm;
        db += d;
      }
    }
    store_chunk_partial(g * p.C, c, dw);
    store_chunk_partial((p.G + g) * p.C, c, db);
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                           @builtin(local_invocation_index) lid: u32) {
  let g = row_index(wid, nwg);
  let row0 = g * ROWS;
  if (row0 >= p.N) {
    return;
  }
  let nrows = min(ROWS, p.N - row0);
  let nc = p.C / 4u;

  var mr: array<vec2f, MAX_ROWS>;
  var acc: array<vec2f, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      mr[r] = vec2f(mean_in[row0 + r], rstd_in[row0 + r]);
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = weight4[c];
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let i = (row0 + r) * nc + c;
        let norm = (inp4[i] - vec4f(mr[r].x)) * mr[r].y;
        let dnorm = wc * dout4[i];
        acc[r] += vec2f(sum4(dnorm), dot(dnorm, norm));
      }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    if (r < nrows) {
      acc[r] = wg_sum2(acc[r], lid) / f32(p.C);
    }
  }
  for (var c = lid; c < nc; c += WG) {
    let wc = weight4[c];
    var dw = vec4f(0.0);
    var db = vec4f(0.0);
    for (var r = 0u; r < ROWS; r++) {
      if (r < nrows) {
        let i = (row0 + r) * nc + c;
        let norm = (inp4[i] - vec4f(mr[r].x)) * mr[r].y;
        let d = dout4[i];
        dinp4[i] = (wc * d - vec4f(acc[r].x) - norm * acc[r].y) * mr[r].y;
        dw += d * norm;
        db += d;
      }
    }
    partial4[g * nc + c] = dw;
    partial4[(p.G + g) * nc + c] = db;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward, stage 2: dweight / dbias = (or +=) the sum over the G blocks' partials, in order.
// One invocation per column (per vec4 of columns); workgroups of WG along the columns.

@compute @workgroup_size(WG)
fn layernorm_backward_params_scalar(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.C) {
    return;
  }
  var dw = 0.0;
  var db = 0.0;
  for (var g = 0u; g < p.G; g++) {
    dw += partial_in[g * p.C + col];
    db += partial_in[(p.G + g) * p.C + col];
  }
  if (p.accumulate != 0u) {
    dw += dweight[col];
    db += dbias[col];
  }
  dweight[col] = dw;
  dbias[col] = db;
}

@compute @workgroup_size(WG)
fn layernorm_backward_params_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let nc = p.C / 4u;
  let c = gid.x;
  if (c >= nc) {
    return;
  }
  var dw = vec4f(0.0);
  var db = vec4f(0.0);
  for (var g = 0u; g < p.G; g++) {
    dw += partial_in4[g * nc + c];
    db += partial_in4[(p.G + g) * nc + c];
  }
  if (p.accumulate != 0u) {
    dw += dweight4[c];
    db += dbias4[c];
  }
  dweight4[c] = dw;
  dbias4[c] = db;
}
