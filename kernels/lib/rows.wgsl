// Helpers on values shared by the row kernels (softmax.wgsl, crossentropy.wgsl, layernorm.wgsl).
// Not a kernel: a kernel pulls it in with `//! include lib/rows.wgsl` (kernels/gpu/wgsl.ts).
//
// A row kernel works on "chunks", groups of 4 consecutive columns held in a vec4f: chunk c holds
// columns 4c..4c+3. Invocation `lid` of a workgroup owns the chunks lid, lid + WG, lid + 2 WG...
// (coalesced on a GPU); the workgroup reductions over a row are in lib/rowreduce.wgsl.
//
// The online softmax (Milakov & Gimelshein 2018) carries a running pair (m, s): the max m of the
// values seen and s = Σ exp(x - m). `absorb` takes four more values, rescaling s when m grows;
// the workgroup then merges the invocations' pairs with wg_max_sum. Masked columns are NEG_BIG,
// a finite stand-in for -infinity (WGSL has no infinity literal, and an implementation may assume
// none appears): exp(NEG_BIG - m) is exactly 0 for any m a real row can have, and
// NEG_BIG - NEG_BIG is 0, not the NaN that inf - inf gives.

const NEG_BIG = -3.0e38;

// Register budget of a row kernel: its private arrays have this many vec4s, of which the override
// VPT are used (WGSL sizes private arrays with constants only; the unused tail is removed once VPT
// is substituted and the loops over it unrolled). rowreduce.ts's MAX_VPT is the host's copy.
const MAX_VPT = 32u;

// The row (or block of rows) of a workgroup on a 2-D grid: rows beyond 65535 workgroups spill
// into y.
fn row_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn max4(x: vec4f) -> f32 {
  return max(max(x.x, x.y), max(x.z, x.w));
}

// Pairwise, in a fixed order (deterministic).
fn sum4(x: vec4f) -> f32 {
  return (x.x + x.y) + (x.z + x.w);
}

// One online-softmax step: the (max, sum of exp(x - max)) pair absorbs four more values.
fn absorb(st: vec2f, x: vec4f) -> vec2f {
  let m = max(st.x, max4(x));
  return vec2f(m, st.y * exp(st.x - m) + sum4(exp(x - vec4f(m))));
}

// Replaces the lanes of chunk `c` (columns 4c..4c+3) at or past column `cv` by NEG_BIG.
fn mask_chunk(x: vec4f, c: u32, cv: u32) -> vec4f {
  let col = vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u);
  return select(x, vec4f(NEG_BIG), col >= vec4u(cv));
}
