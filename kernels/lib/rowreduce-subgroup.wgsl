enable subgroups;

// Workgroup-wide reductions for the row kernels, subgroup version: the same functions and
// contract as lib/rowreduce.wgsl, for workgroups that are a single subgroup. The row kernel's
// launcher swaps this file in for lib/rowreduce.wgsl (the linker hoists the `enable` directive to
// the top of the module) only when the device has the 'subgroups' feature AND the workgroup size
// is at most the adapter's smallest subgroup size, so the whole workgroup is one subgroup and a
// subgroup operation reduces the whole row.
//
// Why bother: no workgroup memory and no barrier. On lavapipe a barrier suspends each group of 8
// invocations as a coroutine and spills its live registers (here: the row cached in registers),
// so with WG = 8 (lavapipe's subgroup size) this version makes softmax about 1.5x faster. On a
// GPU it turns a one-warp-per-row kernel's reduction into a few shuffles.

fn wg_sum2(v: vec2f, lid: u32) -> vec2f {
  return subgroupAdd(v);
}

fn wg_sum(v: f32, lid: u32) -> f32 {
  return subgroupAdd(v);
}

fn wg_max_sum(v: vec2f, lid: u32) -> vec2f {
  let m = subgroupMax(v.x);
  return vec2f(m, subgroupAdd(v.y * exp(v.x - m)));
}
