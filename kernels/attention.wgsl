// Fused causal self-attention, FlashAttention-2 style: forward, backward and KV-cache decoding.
// This is the portable ("tiled") variant, written for GPUs; kernels/attention-subgroup.wgsl
// computes the same thing with a mapping that suits CPU SIMD adapters (lavapipe). attention.ts
// picks one.
// (On lavapipe this variant runs at ~2 GFLOP/s and, fully unrolled, takes LLVM seconds to minutes
// to compile as HS grows: its tests there use HS <= 16.)
//
// ---- The math -------------------------------------------------------------------------------
// For one (batch, head) with q, k, v of shape (T, HS) and scale = 1/sqrt(HS):
//   S[i, j] = scale · q_i · k_j            for j <= i (causal: a query never sees later keys)
//   lse_i   = log Σ_{j<=i} exp(S[i, j])    (natural log; the only statistic saved for backward)
//   P[i, j] = exp(S[i, j] - lse_i)
//   out_i   = Σ_{j<=i} P[i, j] v_j
// The forward never forms S or P in memory. It walks the keys in tiles and keeps, per query row, a
// running maximum m, a running denominator l and an unnormalised output o (online softmax):
//   m' = max(m, max_j S[i, j]);  c = exp(m - m');  l' = c·l + Σ_j exp(S[i, j] - m');
//   o' = c·o + Σ_j exp(S[i, j] - m') v_j;   and at the end out_i = o / l, lse_i = m + log l.
// The backward recomputes P from lse instead of storing it (FlashAttention-2):
//   D_i      = Σ_h dout[i, h] · out[i, h]    (= Σ_j P[i, j] dP[i, j], the softmax Jacobian's term)
//   dP[i, j] = dout_i · v_j
//   dS[i, j] = P[i, j] · (dP[i, j] - D_i)
//   dv_j = Σ_{i>=j} P[i, j] dout_i      dk_j = scale · Σ_{i>=j} dS[i, j] q_i
//   dq_i = scale · Σ_{j<=i} dS[i, j] k_j
// No float atomics: dk and dv are sums over queries and dq a sum over keys, so the backward is two
// passes, each owning the rows it writes. The dq pass runs first and also writes D (it has dout_i
// and out_i in hand); the dk/dv pass reads D.
//
// ---- Layout and bindings ----------------------------------------------------------------------
// q, k, v, out, dq, dk, dv, dout: (B, NH, T, HS) contiguous f32, bound as array<vec4f> (HS % 4 == 0).
// lse, D: (B, NH, T). Uniform struct Params { T, qOffset, kvStride, scale, hs4 }.
//   attention_forward       1 out (rw)  2 q  3 k  4 v  5 lse (rw)
//   attention_backward_dq   1 dq (rw)   2 q  3 k  4 v  5 dout  6 out  7 lse  8 D (rw)
//   attention_backward_dkv  1 dk (rw)   2 q  3 k  4 v  5 dout  6 dv (rw)  7 lse  8 D
// Decoding with a KV cache is the forward with T = Tq query rows at absolute positions
// qOffset .. qOffset+Tq-1, attending to keys 0 .. qOffset+Tq-1 of k and v whose heads are
// kvStride (= maxT, the cache length) rows apart. Training passes qOffset = 0, kvStride = T.
// Dispatch: forward and dq (ceil(T / BR), B·NH) workgroups of BR; dkv (ceil(T / BC), B·NH) of BC.
// Includes: lib/attention-io.wgsl (Params, HS, MASKED, the bindings above), shared with
// attention-subgroup.wgsl.
//
// ---- Work decomposition ------------------------------------------------------------------------
// forward, dq: a workgroup owns BR consecutive query rows of one (batch, head)
//   (workgroups = (ceil(T / BR), B·NH)); invocation i owns query row i: it keeps that row of q
//   (pre-multiplied by scale), its accumulators (o, or dq) and its softmax statistics in registers.
//   The keys the block can see (0 .. its last row) stream through workgroup memory in tiles of BC
//   rows of k and v, loaded cooperatively once per tile and then read by every invocation: each
//   key row is fetched from global memory once per BR queries instead of once per query.
//   Every invocation reads the same tile element at the same time (a broadcast: no bank conflicts).
// dkv: a workgroup owns BC consecutive key rows; invocation j owns key row j (k_j, v_j and the
//   dk_j, dv_j accumulators in registers). Queries i >= the block's first key stream through
//   workgroup memory in tiles of BR rows of q and dout, with their lse and D.
// Inner loops take 4 keys (or queries) per step so that four independent dot products are in
// flight (the scores of a step are one vec4) and the online-softmax rescale happens once per step.
// Rows past T (ragged last block) are clamped to row T-1 for the arithmetic and never stored;
// tile rows past the end are zero-filled and masked out. All loop bounds that contain a barrier
// depend only on the workgroup id and the uniforms, so the barriers are in uniform control flow.
// Register use: 2·HS floats per invocation in the forward, 3·HS in dq, 4·HS in dkv (at HS = 128
// the dkv pass exceeds a GPU's 255 registers per thread and spills; splitting HS over several
// invocations per row would be the next step there).

//! include lib/attention-io.wgsl

override BR: u32 = 64u;       // query rows per tile (forward/dq: invocations per workgroup)
override BC: u32 = 32u;       // key rows per tile (dkv: invocations per workgroup)
const MAX_HS4: u32 = 32u;     // register arrays are sized for HS = 128; HS4 bounds every loop

// forward, dq: a tile of BC key rows of k and v. dkv: a tile of BR query rows of q and dout.
var<workgroup> tileA: array<vec4f, BC * HS4>;
var<workgroup> tileB: array<vec4f, BC * HS4>;
var<workgroup> tileQ: array<vec4f, BR * HS4>;
var<workgroup> tileG: array<vec4f, BR * HS4>;
var<workgroup> tileL: array<f32, BR>;
var<workgroup> tileD: array<f32, BR>;

// Keys kt .. kt+BC-1 of one head into tileA (k) and tileB (v); rows >= kEnd become zeros.
fn load_kv_tile(lid: u32, kvBase: u32, kt: u32, kEnd: u32) {
  for (var e = lid; e < BC * HS4; e += BR) {
    let j = kt + e / HS4;
    var kk = vec4f(0.0);
    var vv = vec4f(0.0);
    if (j < kEnd) {
      let g = (kvBase + j) * HS4 + e % HS4;
      kk = k[g];
      vv = v[g];
    }
    tileA[e] = kk;
    tileB[e] = vv;
  }
}

// The 4 scores q·k for tile rows j .. j+3 (q is this invocation's row, held in registers).
fn scores4(qr: ptr<function, array<vec4f, MAX_HS4>>, j: u32) -> vec4f {
  let j0 = j * HS4;
  var s = vec4f(0.0);
  for (var c = 0u; c < HS4; c++) {
    let qc = (*qr)[c];
    s += vec4f(dot(qc, tileA[j0 + c]), dot(qc, tileA[j0 + HS4 + c]), dot(qc, tileA[j0 + 2u * HS4 + c]), dot(qc, tileA[j0 + 3u * HS4 + c]));
  }
  return s;
}

// The forward for this invocation's query row: writes the output row, returns its lse.
fn attend(wg: vec3u, lid: u32) -> f32 {
  let row = wg.x * BR + lid;
  let r = min(row, p.T - 1u);
  let pos = p.qOffset + r;                        // sees keys 0 .. pos
  let qBase = (wg.y * p.T + r) * HS4;
  var qr: array<vec4f, MAX_HS4>;
  var acc: array<vec4f, MAX_HS4>;
  for (var c = 0u; c < HS4; c++) {
    qr[c] = q[qBase + c] * p.scale;
    acc[c] = vec4f(0.0);
  }
  var m = MASKED;
  var l = 0.0;
  let kEnd = p.qOffset + min(wg.x * BR + BR, p.T);  // keys the block's last row sees
  let kvBase = wg.y * p.kvStride;
  for (var kt = 0u; kt < kEnd; kt += BC) {
    workgroupBarrier();                            // everyone is done with the previous tile
    load_kv_tile(lid, kvBase, kt, kEnd);
    workgroupBarrier();
    let n = min(BC, kEnd - kt);
    for (var j = 0u; j < n; j += 4u) {
      let s = select(vec4f(MASKED), scores4(&qr, j), vec4u(kt + j) + QUAD <= vec4u(pos));
      let mNew = max(m, max(max(s.x, s.y), max(s.z, s.w)));
      let corr = exp(m - mNew);
      let pr = exp(s - vec4f(mNew));
      l = l * corr + (pr.x + pr.y) + (pr.z + pr.w);
      m = mNew;
      let j0 = j * HS4;
      for (var c = 0u; c < HS4; c++) {
        acc[c] = acc[c] * corr + pr.x * tileB[j0 + c] + pr.y * tileB[j0 + HS4 + c] + pr.z * tileB[j0 + 2u * HS4 + c] + pr.w * tileB[j0 + 3u * HS4 + c];
      }
    }
  }
  if (row < p.T) {
    let inv = 1.0 / l;
    for (var c = 0u; c < HS4; c++) {
      out[qBase + c] = acc[c] * inv;
    }
  }
  return m + log(l);
}

@compute @workgroup_size(BR)
fn attention_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let l = attend(wg, lid);
  let row = wg.x * BR + lid;
  if (row < p.T) {
    lse[wg.y * p.T + row] = l;
  }
}

@compute @workgroup_size(BR)
fn attention_backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x * BR + lid;
  let r = min(row, p.T - 1u);
  let base = (wg.y * p.T + r) * HS4;
  var qr: array<vec4f, MAX_HS4>;
  var gr: array<vec4f, MAX_HS4>;
  var acc: array<vec4f, MAX_HS4>;
  var D = 0.0;
  for (var c = 0u; c < HS4; c++) {
    qr[c] = q[base + c] * p.scale;
    gr[c] = dout[base + c];
    acc[c] = vec4f(0.0);
    D += dot(gr[c], o[base + c]);
  }
  if (row < p.T) {
    dvec[wg.y * p.T + row] = D;
  }
  let L = lse_in[wg.y * p.T + r];
  let kEnd = min(wg.x * BR + BR, p.T);
  let kvBase = wg.y * p.T;
  for (var kt = 0u; kt < kEnd; kt += BC) {
    workgroupBarrier();
    load_kv_tile(lid, kvBase, kt, kEnd);
    workgroupBarrier();
    let n = min(BC, kEnd - kt);
    for (var j = 0u; j < n; j += 4u) {
      let j0 = j * HS4;
      var dp = vec4f(0.0);
      for (var c = 0u; c < HS4; c++) {
        let gc = gr[c];
        dp += vec4f(dot(gc, tileB[j0 + c]), dot(gc, tileB[j0 + HS4 + c]), dot(gc, tileB[j0 + 2u * HS4 + c]), dot(gc, tileB[j0 + 3u * HS4 + c]));
      }
      let pr = select(vec4f(0.0), exp(scores4(&qr, j) - vec4f(L)), vec4u(kt + j) + QUAD <= vec4u(r));
      let ds = pr * (dp - vec4f(D));
      for (var c = 0u; c < HS4; c++) {
        acc[c] += ds.x * tileA[j0 + c] + ds.y * tileA[j0 + HS4 + c] + ds.z * tileA[j0 + 2u * HS4 + c] + ds.w * tileA[j0 + 3u * HS4 + c];
      }
    }
  }
  if (row < p.T) {
    for (var c = 0u; c < HS4; c++) {
      dq[base + c] = acc[c] * p.scale;
    }
  }
}

@compute @workgroup_size(BC)
fn attention_backward_dkv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let key = wg.x * BC + lid;
  let kr = min(key, p.T - 1u);
  let base = (wg.y * p.T + kr) * HS4;
  var krow: array<vec4f, MAX_HS4>;
  var vrow: array<vec4f, MAX_HS4>;
  var dkAcc: array<vec4f, MAX_HS4>;
  var dvAcc: array<vec4f, MAX_HS4>;
  for (var c = 0u; c < HS4; c++) {
    krow[c] = k[base + c];
    vrow[c] = v[base + c];
    dkAcc[c] = vec4f(0.0);
    dvAcc[c] = vec4f(0.0);
  }
  let headRow = wg.y * p.T;
  // Queries before the block's first key see none of its keys.
  for (var qt = wg.x * BC; qt < p.T; qt += BR) {
    workgroupBarrier();
    for (var e = lid; e < BR * HS4; e += BC) {
      let i = qt + e / HS4;
      var qq = vec4f(0.0);
      var gg = vec4f(0.0);
      if (i < p.T) {
        let g = (headRow + i) * HS4 + e % HS4;
        qq = q[g] * p.scale;
        gg = dout[g];
      }
      tileQ[e] = qq;
      tileG[e] = gg;
    }
    for (var e = lid; e < BR; e += BC) {
      let i = min(qt + e, p.T - 1u);
      tileL[e] = lse_in[headRow + i];
      tileD[e] = dvec_in[headRow + i];
    }
    workgroupBarrier();
    let n = min(BR, p.T - qt);
    for (var i = 0u; i < n; i += 4u) {
      let i0 = i * HS4;
      var s = vec4f(0.0);
      var dp = vec4f(0.0);
      for (var c = 0u; c < HS4; c++) {
        let kc = krow[c];
        let vc = vrow[c];
        s += vec4f(dot(kc, tileQ[i0 + c]), dot(kc, tileQ[i0 + HS4 + c]), dot(kc, tileQ[i0 + 2u * HS4 + c]), dot(kc, tileQ[i0 + 3u * HS4 + c]));
        dp += vec4f(dot(vc, tileG[i0 + c]), dot(vc, tileG[i0 + HS4 + c]), dot(vc, tileG[i0 + 2u * HS4 + c]), dot(vc, tileG[i0 + 3u * HS4 + c]));
      }
      let qi = vec4u(qt + i) + QUAD;
      let L = vec4f(tileL[i], tileL[i + 1u], tileL[i + 2u], tileL[i + 3u]);
      let D = vec4f(tileD[i], tileD[i + 1u], tileD[i + 2u], tileD[i + 3u]);
      // Query rows past T are zero-filled: mask them as well as the keys after each query.
      let pr = select(vec4f(0.0), exp(s - L), (vec4u(kr) <= qi) & (qi < vec4u(p.T)));
      let ds = pr * (dp - D);
      for (var c = 0u; c < HS4; c++) {
        dvAcc[c] += pr.x * tileG[i0 + c] + pr.y * tileG[i0 + HS4 + c] + pr.z * tileG[i0 + 2u * HS4 + c] + pr.w * tileG[i0 + 3u * HS4 + c];
        dkAcc[c] += ds.x * tileQ[i0 + c] + ds.y * tileQ[i0 + HS4 + c] + ds.z * tileQ[i0 + 2u * HS4 + c] + ds.w * tileQ[i0 + 3u * HS4 + c];
      }
    }
  }
  if (key < p.T) {
    for (var c = 0u; c < HS4; c++) {
      dk[base + c] = dkAcc[c];
      dv[base + c] = dvAcc[c];
    }
  }
}
