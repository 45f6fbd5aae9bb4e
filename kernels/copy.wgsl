// General strided copy: out[outOffset + Σ idx_d·so_d] = inp[inOffset + Σ idx_d·si_d] for every
// index of an iteration shape of rank <= 6. One kernel serves transpose, permute, slice,
// broadcast (stride 0), materialising a view with an unaligned offset, concat (each input copied
// into its slice of the output) and the backward of slice (copied into a zeroed gradient).
// Works on 32-bit words, so it copies f32, i32 and u32 alike.
//
// Dispatch: one invocation per element of the iteration shape, WG per workgroup, 2-D grid.

struct Copy {
  n: u32,
  rank: u32,
  row: u32,
  inOffset: u32,
  outOffset: u32,
  shape0: u32, shape1: u32, shape2: u32, shape3: u32, shape4: u32, shape5: u32,
  si0: u32, si1: u32, si2: u32, si3: u32, si4: u32, si5: u32,
  so0: u32, so1: u32, so2: u32, so3: u32, so4: u32, so5: u32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> p: Copy;
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn strided_copy(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.n) { return; }
  let shape = array<u32, 6>(p.shape0, p.shape1, p.shape2, p.shape3, p.shape4, p.shape5);
  let si = array<u32, 6>(p.si0, p.si1, p.si2, p.si3, p.si4, p.si5);
  let so = array<u32, 6>(p.so0, p.so1, p.so2, p.so3, p.so4, p.so5);
  var rem = i;
  var ii = p.inOffset;
  var io = p.outOffset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let c = rem % shape[d];
    rem = rem / shape[d];
    ii += c * si[d];
    io += c * so[d];
  }
  out[io] = inp[ii];
}
