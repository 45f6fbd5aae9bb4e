// Naive embedding baselines for the bench.
// forward: one invocation per output element, flat index divided into (b·t, c).
// backward: one invocation per channel c walks every position in order (deterministic, no
// atomics, but only C-way parallel): dwte[inp[p], c] += dout[p, c]; dwpe[t, c] += dout[p, c].
struct Params { BT: u32, T: u32, C: u32, V: u32, n: u32, row: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<i32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read> wpe: array<f32>;

@group(0) @binding(1) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(2) var<storage, read_write> dwpe: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> ids: array<i32>;

@compute @workgroup_size(64)
fn naive_forward(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let bt = i / p.C;
  let c = i % p.C;
  out[i] = wte[u32(inp[bt]) * p.C + c] + wpe[(bt % p.T) * p.C + c];
}

@compute @workgroup_size(64)
fn naive_backward(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  for (var q = 0u; q < p.BT; q++) {
    let g = dout[q * p.C + c];
    dwte[u32(ids[q]) * p.C + c] += g;
    dwpe[(q % p.T) * p.C + c] += g;
  }
}
