// Row-wise softmax and log-softmax over the last axis, forward and backward.
//
// Shapes: inp, out, dout, dinp: (N, C), row-major; a row is C contiguous floats.
// Forward:  out[r, :] = softmax(inp[r, :])              (LOG: out = inp - logsumexp(inp[r, :]))
//           with causalT > 0, row r is row (row0 + r) % causalT of a causalT x causalT score
//           matrix and its columns j > (row0 + r) % causalT are masked: probability 0.
// Backward: dinp = out * (dout - sum_j dout[j] * out[j])  (LOG: dinp = dout - exp(out) * sum_j dout[j])
//           Only the forward OUTPUT is needed, so nothing else is saved for the backward pass.
//
// Bindings: @binding(0) Params; forward: 1 out (rw), 2 inp; backward: 1 dinp (rw), 2 dout, 3 out.
// Every entry point exists twice: `*_vec4` reads and writes vec4s and needs C % 4 == 0 (each row
// then starts on a 16-byte boundary); `*_scalar` takes any C and moves single floats.
//
// Dispatch: one workgroup of WG invocations per row (rows beyond 65535 workgroups spill into y).
// Invocation `lid` owns the "chunks" (groups of 4 consecutive columns) lid, lid + WG, lid + 2 WG...
// so that neighbouring invocations touch neighbouring memory (coalesced on a GPU).
//
// Includes: lib/rows.wgsl (row_index, max4, sum4, the online-softmax step `absorb`, mask_chunk,
// NEG_BIG) and lib/rowreduce.wgsl (the row's reductions wg_max_sum / wg_sum in workgroup
// memory), for which softmax.ts swaps in lib/rowreduce-subgroup.wgsl (one subgroup per row) when
// the adapter allows; and the generated gen/row-pass.wgsl: lib/row-pass.wgsl's row_pass, steps
// 1-3 below, once per variant (row_pass_scalar / row_pass_vec4, calling this file's
// load_row_chunk_scalar / load_row_chunk_vec4), shared with crossentropy.wgsl.
//
// The shape of the algorithm, chosen so that each element is read from memory once and written
// once, with one exp per element and a single workgroup reduction:
//  1. The first VPT chunks of each invocation are loaded into registers (`x`). Chunks beyond
//     them (rows longer than 4 * WG * VPT) are streamed with the online-softmax update
//     (Milakov & Gimelshein 2018): a running (max, sum of exp(x - max)) pair, rescaling the sum
//     whenever the max grows.
//  2. For the chunks in registers the invocation first takes its own max (no exp needed), then
//     replaces x by exp(x - own max) and sums it; the streamed chunks continue from that pair.
//  3. One workgroup reduction merges the pairs into the row's (M, S).
//  4. Register chunks are written as x * exp(own max - M) / S: no second exp per element.
//     Streamed chunks are read again: exp(x - M) / S.
// VPT is an override constant: the host picks it so that a whole row fits (C <= 4 * WG * VPT)
// whenever the register budget allows, and then the streaming loops never run.
//
// Tuning (softmax.ts): on a GPU, one warp-sized workgroup per row for rows up to 1024 columns, a
// wider workgroup beyond. On lavapipe, WG = 8 (one SIMD vector, one subgroup, no barrier) and for
// the forward VPT up to 32: there each load or store is an 8-way loop over the lanes and an exp
// costs about as much, so the row is read once, kept in (spilled) registers, and written once. The
// backward, which has no exp to save, streams instead (VPT = 0): re-reading is cheaper there than
// the register cache's code size.

//! include lib/rows.wgsl
//! include lib/rowreduce.wgsl
//! include gen/row-pass.wgsl

struct Params {
  N: u32,       // rows in this dispatch
  C: u32,       // row length
  causalT: u32, // 0: no mask; T: causal mask of a T x T matrix (see above)
  row0: u32,    // index of this dispatch's first row in the whole tensor (for the causal mask)
}

override WG: u32 = 64u;   // invocations per row; a power of two (lib/rowreduce.wgsl halves it)
override VPT: u32 = 4u;   // chunks of 4 columns each invocation keeps in registers, <= MAX_VPT (lib/rows.wgsl)
override LOG: bool = false;

@group(0) @binding(0) var<uniform> p: Params;

// Forward bindings, scalar and vec4 views (each entry point uses one view).
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(2) var<storage, read> inp4: array<vec4f>;

// Backward bindings.
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> outb: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dout4: array<vec4f>;
@group(0) @binding(3) var<storage, read> outb4: array<vec4f>;

// ---------------------------------------------------------------------------------------------
// Small helpers on values

// Columns of row `row` that take part in the softmax (all of them unless causally masked).
fn valid_columns(row: u32) -> u32 {
  if (p.causalT == 0u) {
    return p.C;
  }
  return min(p.C, (p.row0 + row) % p.causalT + 1u);
}

// ---------------------------------------------------------------------------------------------
// Chunk c of the forward's input row at `base`, its columns at or past cv NEG_BIG: the loaders
// the row pass (gen/row-pass.wgsl) calls, vec4 and scalar.

fn load_row_chunk_vec4(base: u32, c: u32, cv: u32) -> vec4f {
  return mask_chunk(inp4[base + c], c, cv);
}

fn load_row_chunk_scalar(base: u32, c: u32, cv: u32) -> vec4f {
  var x = vec4f(NEG_BIG);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < cv) {
      x[i] = inp[base + 4u * c + i];
    }
  }
  return x;
}

// Scalar access to chunk c of a row (any C): four loads or stores, bounded by the row length.

fn store_out(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      out[base + 4u * c + i] = y[i];
    }
  }
}

fn load_dout(base: u32, c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = dout[base + 4u * c + i];
    }
  }
  return x;
}

fn load_outb(base: u32, c: u32) -> vec4f {
  var x = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      x[i] = outb[base + 4u * c + i];
    }
  }
  return x;
}

fn store_dinp(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.C) {
      dinp[base + 4u * c + i] = y[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward. The two entry points differ only in how a chunk is loaded and stored.

@compute @workgroup_size(WG)
fn softmax_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                          @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let base = row * p.C;
  let cv = valid_columns(row);
  let nc = (p.C + 3u) / 4u;      // chunks in the row
  let ncv = (cv + 3u) / 4u;      // chunks holding a column that takes part

  var x: array<vec4f, MAX_VPT>;
  let r = row_pass_scalar(base, lid, ncv, cv, &x, !LOG);
  let m = r.x;      // this invocation's max over its register chunks
  let tot = r.yz;   // the row's (max, sum of exps)

  if (LOG) {
    let lse = tot.x + log(tot.y);
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        store_out(base, c, x[k] - vec4f(lse));
      }
    }
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      store_out(base, c, load_row_chunk_scalar(base, c, cv) - vec4f(lse));
    }
  } else {
    let scale = exp(m - tot.x) / tot.y;
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        store_out(base, c, x[k] * scale);
      }
    }
    let inv = 1.0 / tot.y;
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      store_out(base, c, exp(load_row_chunk_scalar(base, c, cv) - vec4f(tot.x)) * inv);
    }
  }
}

@compute @workgroup_size(WG)
fn softmax_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                        @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let nc = p.C / 4u;
  let base = row * nc;
  let cv = valid_columns(row);
  let ncv = (cv + 3u) / 4u;

  var x: array<vec4f, MAX_VPT>;
  let r = row_pass_vec4(base, lid, ncv, cv, &x, !LOG);
  let m = r.x;      // this invocation's max over its register chunks
  let tot = r.yz;   // the row's (max, sum of exps)

  if (LOG) {
    let lse = tot.x + log(tot.y);
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        out4[base + c] = x[k] - vec4f(lse);
      }
    }
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      out4[base + c] = inp4[base + c] - vec4f(lse);
    }
  } else {
    let scale = exp(m - tot.x) / tot.y;
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        out4[base + c] = x[k] * scale;
      }
    }
    let inv = 1.0 / tot.y;
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      var y = vec4f(0.0);
      if (c < ncv) {
        y = exp(load_row_chunk_vec4(base, c, cv) - vec4f(tot.x)) * inv;
      }
      out4[base + c] = y;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward: one sum per row (of dout * out, or of dout for LOG), then an elementwise pass.

@compute @workgroup_size(WG)
fn softmax_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                           @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let base = row * p.C;
  let nc = (p.C + 3u) / 4u;

  var g: array<vec4f, MAX_VPT>;
  var y: array<vec4f, MAX_VPT>;
  var s = 0.0;
  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    g[k] = vec4f(0.0);
    y[k] = vec4f(0.0);
    if (c < nc) {
      g[k] = load_dout(base, c);
      y[k] = load_outb(base, c);
    }
    s += select(dot(g[k], y[k]), sum4(g[k]), LOG);
  }
  for (var c = lid + VPT * WG; c < nc; c += WG) {
    let gc = load_dout(base, c);
    s += select(dot(gc, load_outb(base, c)), sum4(gc), LOG);
  }
  let tot = wg_sum(s, lid);

  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    if (c < nc) {
      store_dinp(base, c, select(y[k] * (g[k] - vec4f(tot)), g[k] - exp(y[k]) * tot, LOG));
    }
  }
  for (var c = lid + VPT * WG; c < nc; c += WG) {
    let gc = load_dout(base, c);
    let yc = load_outb(base, c);
    store_dinp(base, c, select(yc * (gc - vec4f(tot)), gc - exp(yc) * tot, LOG));
  }
}

@compute @workgroup_size(WG)
fn softmax_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                         @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let nc = p.C / 4u;
  let base = row * nc;

  var g: array<vec4f, MAX_VPT>;
  var y: array<vec4f, MAX_VPT>;
  var s = 0.0;
  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    g[k] = vec4f(0.0);
    y[k] = vec4f(0.0);
    if (c < nc) {
      g[k] = dout4[base + c];
      y[k] = outb4[base + c];
    }
    s += select(dot(g[k], y[k]), sum4(g[k]), LOG);
  }
  for (var c = lid + VPT * WG; c < nc; c += WG) {
    let gc = dout4[base + c];
    s += select(dot(gc, outb4[base + c]), sum4(gc), LOG);
  }
  let tot = wg_sum(s, lid);

  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    if (c < nc) {
      dinp4[base + c] = select(y[k] * (g[k] - vec4f(tot)), g[k] - exp(y[k]) * tot, LOG);
    }
  }
  for (var c = lid + VPT * WG; c < nc; c += WG) {
    let gc = dout4[base + c];
    let yc = outb4[base + c];
    dinp4[base + c] = select(yc * (gc - vec4f(tot)), gc - exp(yc) * tot, LOG);
  }
}
