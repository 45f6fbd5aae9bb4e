// Seeded dropout: out = x · keep / (1 − p), keep = hash(seed, i) >= p·2³². The mask is never
// stored: the backward recomputes it from the same seed (what is saved for backward: the seed).
// Dispatch: one invocation per element, WG per workgroup, 2-D grid.

struct Params {
  n: u32,
  seed: u32,
  threshold: u32,   // p · 2^32, clamped
  scale: f32,       // 1 / (1 − p)
  row: u32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// A counter-based hash (PCG-style output permutation of seed-mixed index): stateless, so any
// element's bit is reproducible from (seed, i) alone, on any adapter.
fn hash(i: u32, seed: u32) -> u32 {
  var x = i * 747796405u + 2891336453u + seed * 277803737u;
  x = ((x >> ((x >> 28u) + 4u)) ^ x) * 277803737u;
  x = (x >> 22u) ^ x;
  x = (x * 2654435769u) ^ seed;
  x = ((x >> 16u) ^ x) * 73244475u;
  return (x >> 16u) ^ x;
}

@compute @workgroup_size(WG)
fn dropout(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let keep = hash(i, p.seed) >= p.threshold;
  out[i] = select(0.0, inp[i] * p.scale, keep);
}
