// Naive residual baseline for the bench: one invocation per element, 64 per workgroup.
struct Params { n: u32, row: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp1: array<f32>;
@group(0) @binding(3) var<storage, read> inp2: array<f32>;

@compute @workgroup_size(64)
fn naive_forward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  out[i] = inp1[i] + inp2[i];
}
