// GPT's input embedding ("encoder" in llm.c): token embedding plus position embedding.
//
// Shapes: inp (B, T) i32 token ids; wte (V, C); wpe (maxT, C) with maxT >= T; out (B, T, C).
//   forward:  out[b, t, :] = wte[inp[b, t], :] + wpe[t, :]          (embedding_forward_*)
//             out[b, t, :] = wte[inp[b, t], :]                      (embedding_lookup_*, no wpe)
//   backward: dwte[inp[b, t], :] += dout[b, t, :]                   (ACCUMULATES: with tied
//             dwpe[t, :]         += Σ_b dout[b, t, :]                 weights, dwte already holds
//                                                                     the LM head's gradient)
// Saved for backward: nothing beyond the token ids.
//
// Out-of-range token ids (id < 0 or id >= V) read as a ZERO row of wte in the forward (so
// out = wpe[t]) and send no gradient to dwte in the backward (they still reach dwpe). The engine
// validates ids on the host when it can; this only guarantees no out-of-bounds access.
//
// Deterministic backward, no float atomics. Several positions may hold the same token, and their
// dout rows must be summed into one dwte row. Float atomics would make the sum's order (and so
// its rounding) change from run to run; instead each token's positions are chained in position
// order and ONE invocation per (token, channel) walks the chain, in three dispatches:
//   1. embedding_backward_link: for every position p, whether it is the first occurrence of its
//      token ("head") and the next position q > p with the same token (or NONE). Each workgroup
//      stages tiles of ids in workgroup memory and every invocation compares the ids of its 4
//      positions with all B·T ids: O((B·T)²) integer compares. That is meant for B·T up to
//      ≈ 16k (268M compares: well under a millisecond on a GPU); on lavapipe B·T = 4096 costs
//      ~15 ms and B·T = 512 ~0.3 ms. Far beyond that, sorting (id, position) pairs (a radix
//      sort) would be the way.
//   2. embedding_backward_wte_*: per position row; at heads, each channel walks the chain, summing
//      dout rows in position order, and adds the sum into dwte[token]. Rows that are not heads
//      are skipped. A token repeated k times costs its head k dependent steps.
//   3. embedding_backward_wpe_*: per t row; each channel sums dout over b in order.
//
// Dispatch: all but the link kernel work on whole rows: a workgroup takes RPW consecutive rows
// (positions for forward and dwte, t for dwpe) and its WG invocations stride over the row's
// channels (…_vec4: C/4 vec4s, only when C % 4 == 0; …_scalar: C floats), so loads and stores of
// a row are contiguous, the token id and the head test are uniform across the workgroup (a
// workgroup whose positions are not heads costs almost nothing) and no invocation divides by C.
// Workgroups sit on a 2-D grid: workgroup index wid.x + wid.y·row, row = workgroups per grid row.
// The link kernel uses one invocation per 4 positions, LINK_WG per workgroup, 1-D
// (B·T <= 65535·4·LINK_WG).
// The vec4 and scalar entry points declare the same bindings with different element types, which
// is legal because no entry point uses both.

struct Params {
  BT: u32,
  T: u32,
  Cw: u32,       // row width in elements of the bound arrays: C (scalar) or C/4 (vec4)
  V: u32,
  n: u32,        // rows to process: B·T (forward, link, dwte) or T (dwpe)
  row: u32,      // workgroups per grid row
}

override WG: u32 = 64;       // invocations per workgroup; they stride over a row's channels
override RPW: u32 = 4;       // rows (positions or t) per workgroup
override LINK_WG: u32 = 64;  // link kernel: invocations per workgroup = ids per workgroup-memory tile

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;

// forward: (out, inp, wte, wpe)
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<i32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read> wpe: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(3) var<storage, read> wte4: array<vec4f>;
@group(0) @binding(4) var<storage, read> wpe4: array<vec4f>;

// link: (links, inp); links[p] = (next position with the same token or NONE, 1 if head else 0)
@group(0) @binding(1) var<storage, read_write> links: array<vec2u>;

// dwte: (dwte, dout, inp, links); inp and links again under other names, since here they sit at
// other binding numbers
@group(0) @binding(1) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp_b: array<i32>;
@group(0) @binding(4) var<storage, read> links_b: array<vec2u>;
@group(0) @binding(1) var<storage, read_write> dwte4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dout4: array<vec4f>;

// dwpe: (dwpe, dout)
@group(0) @binding(1) var<storage, read_write> dwpe: array<f32>;
@group(0) @binding(1) var<storage, read_write> dwpe4: array<vec4f>;

/** The wte row of a token id, or NONE when the id is out of range. */
fn token_row(id: i32) -> u32 {
  return select(NONE, u32(id), id >= 0 && u32(id) < p.V);
}

// ---------------------------------------------------------------------------------------------
// forward

@compute @workgroup_size(WG)
fn embedding_forward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp[r]);
    let pos = (r % p.T) * p.Cw;
    for (var c = lid.x; c < p.Cw; c += WG) {
      var e = 0.0;
      if (tok != NONE) { e = wte[tok * p.Cw + c]; }
      out[r * p.Cw + c] = e + wpe[pos + c];
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_forward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp[r]);
    let pos = (r % p.T) * p.Cw;
    for (var c = lid.x; c < p.Cw; c += WG) {
      var e = vec4f(0.0);
      if (tok != NONE) { e = wte4[tok * p.Cw + c]; }
      out4[r * p.Cw + c] = e + wpe4[pos + c];
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_lookup_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp[r]);
    for (var c = lid.x; c < p.Cw; c += WG) {
      var e = 0.0;
      if (tok != NONE) { e = wte[tok * p.Cw + c]; }
      out[r * p.Cw + c] = e;
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_lookup_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp[r]);
    for (var c = lid.x; c < p.Cw; c += WG) {
      var e = vec4f(0.0);
      if (tok != NONE) { e = wte4[tok * p.Cw + c]; }
      out4[r * p.Cw + c] = e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// backward 1: chain the positions of each token

var<workgroup> tile: array<i32, LINK_WG>;

// Each invocation links 4 positions (lid, lid + LINK_WG, lid + 2·LINK_WG, lid + 3·LINK_WG of its
// workgroup's block), held as one vec4: every id read from workgroup memory is compared with 4
// positions at once, and the bookkeeping runs only on a match (any(hit)), which is rare.
@compute @workgroup_size(LINK_WG)
fn embedding_backward_link(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pos = vec4u(wid.x * 4u * LINK_WG + lid.x) + vec4u(0u, 1u, 2u, 3u) * LINK_WG;
  let last = p.BT - 1u;
  // Positions past the end take a real id (clamped) and are never written: every invocation must
  // stay to load tiles and reach every barrier.
  let id = vec4i(inp[min(pos.x, last)], inp[min(pos.y, last)], inp[min(pos.z, last)], inp[min(pos.w, last)]);
  var next = vec4u(NONE);
  var seen_before = vec4<bool>(false);
  for (var start = 0u; start < p.BT; start += LINK_WG) {
    tile[lid.x] = inp[min(start + lid.x, last)];
    workgroupBarrier();
    let len = min(LINK_WG, p.BT - start);
    for (var j = 0u; j < len; j++) {
      let hit = id == vec4i(tile[j]);
      if (any(hit)) {
        let q = vec4u(start + j);
        seen_before = seen_before | (hit & (q < pos));
        // Tiles go up in q, so the first match after a position is the nearest one.
        next = select(next, q, hit & (q > pos) & (next == vec4u(NONE)));
      }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < 4u; k++) {
    if (pos[k] < p.BT) { links[pos[k]] = vec2u(next[k], select(0u, 1u, !seen_before[k])); }
  }
}

// ---------------------------------------------------------------------------------------------
// backward 2: each token's first occurrence sums its chain into dwte

@compute @workgroup_size(WG)
fn embedding_backward_wte_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp_b[r]);
    if (links_b[r].y == 0u || tok == NONE) { continue; }   // uniform: the whole workgroup skips
    for (var c = lid.x; c < p.Cw; c += WG) {
      var acc = 0.0;
      var q = r;
      loop {
        acc += dout[q * p.Cw + c];
        q = links_b[q].x;
        if (q == NONE) { break; }
      }
      dwte[tok * p.Cw + c] += acc;
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_backward_wte_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var r = first; r < min(first + RPW, p.n); r++) {
    let tok = token_row(inp_b[r]);
    if (links_b[r].y == 0u || tok == NONE) { continue; }
    for (var c = lid.x; c < p.Cw; c += WG) {
      var acc = vec4f(0.0);
      var q = r;
      loop {
        acc += dout4[q * p.Cw + c];
        q = links_b[q].x;
        if (q == NONE) { break; }
      }
      dwte4[tok * p.Cw + c] += acc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// backward 3: dwpe[t] sums dout over the batch, in order of b

@compute @workgroup_size(WG)
fn embedding_backward_wpe_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var t = first; t < min(first + RPW, p.n); t++) {
    for (var c = lid.x; c < p.Cw; c += WG) {
      var acc = 0.0;
      for (var r = t; r < p.BT; r += p.T) { acc += dout[r * p.Cw + c]; }
      dwpe[t * p.Cw + c] += acc;
    }
  }
}

@compute @workgroup_size(WG)
fn embedding_backward_wpe_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = (wid.x + wid.y * p.row) * RPW;
  for (var t = first; t < min(first + RPW, p.n); t++) {
    for (var c = lid.x; c < p.Cw; c += WG) {
      var acc = vec4f(0.0);
      for (var r = t; r < p.BT; r += p.T) { acc += dout4[r * p.Cw + c]; }
      dwpe4[t * p.Cw + c] += acc;
    }
  }
}
