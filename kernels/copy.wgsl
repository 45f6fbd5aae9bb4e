// General strided copy: out[outOffset + Σ idx_d·so_d] = inp[inOffset + Σ idx_d·si_d] for every
// index of an iteration shape of rank <= 6. One kernel serves transpose, permute, slice,
// broadcast (stride 0), materialising a view with an unaligned offset, concat (each input copied
// into its slice of the output) and the backward of slice (copied into a zeroed gradient).
// Works on 32-bit words, so it copies f32, i32 and u32 alike.
//
// The shape is split into an outer part (up to 5 dimensions, dim 0 outermost) and the innermost
// dimension (`inner` long, strides siInner / soInner). Each invocation copies VPI consecutive
// elements of one inner row, so it turns its index into addresses once per VPI elements.
// Why: that index arithmetic is an integer division and remainder per outer dimension, which a
// GPU does in a few cycles but a CPU adapter (lavapipe) runs lane by lane as scalar divisions —
// with VPI = 1 a permute on lavapipe ran ~40x slower than a plain copy. GPUs keep VPI = 1, so
// neighbouring invocations touch neighbouring elements (coalesced).
//
// Dispatch: one invocation per (outer row, chunk of VPI) pair, n = rows · chunks of them,
// WG per workgroup, 2-D grid (`row` = invocations per grid row).

struct Params {
  n: u32,          // invocations doing work: rows * chunks
  row: u32,        // invocations per row of the 2-D grid
  chunks: u32,     // ceil(inner / VPI)
  outerRank: u32,  // outer dimensions used, 0..5 (dims outerRank..4 have shape 1)
  inOffset: u32,
  outOffset: u32,
  inner: u32,
  siInner: u32,
  soInner: u32,
  shape0: u32, shape1: u32, shape2: u32, shape3: u32, shape4: u32,
  si0: u32, si1: u32, si2: u32, si3: u32, si4: u32,
  so0: u32, so1: u32, so2: u32, so3: u32, so4: u32,
}

override WG: u32 = 256;
override VPI: u32 = 1;  // inner elements per invocation

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

// Peels one outer dimension (extent s, strides a in, b out) off `rem`, adding its offsets.
fn peel(rem: ptr<function, u32>, off: ptr<function, vec2u>, s: u32, a: u32, b: u32) {
  let q = *rem / s;
  let c = *rem - q * s;
  *rem = q;
  *off += c * vec2u(a, b);
}

@compute @workgroup_size(WG)
fn strided_copy(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  var rem = i / p.chunks;
  let j0 = (i - rem * p.chunks) * VPI;
  var off = vec2u(p.inOffset, p.outOffset) + j0 * vec2u(p.siInner, p.soInner);
  // Unrolled, innermost outer dimension first; the rank tests are uniform (no divergence).
  if (p.outerRank > 4u) { peel(&rem, &off, p.shape4, p.si4, p.so4); }
  if (p.outerRank > 3u) { peel(&rem, &off, p.shape3, p.si3, p.so3); }
  if (p.outerRank > 2u) { peel(&rem, &off, p.shape2, p.si2, p.so2); }
  if (p.outerRank > 1u) { peel(&rem, &off, p.shape1, p.si1, p.so1); }
  if (p.outerRank > 0u) { off += rem * vec2u(p.si0, p.so0); }
  let cnt = min(VPI, p.inner - j0);
  for (var k = 0u; k < cnt; k++) {
    out[off.y + k * p.soInner] = inp[off.x + k * p.siInner];
  }
}
