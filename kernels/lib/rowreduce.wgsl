// Workgroup-wide reductions for the row kernels (softmax, layernorm, crossentropy), portable
// version: a tree in workgroup memory. Not a kernel on its own: a row kernel includes it with
// `//! include lib/rowreduce.wgsl`, and its launcher (rowreduce.ts loadRowKernel) swaps in
// lib/rowreduce-subgroup.wgsl instead, which defines the same functions with subgroup operations,
// when the adapter has them.
//
// Contract shared by both versions:
//  - the kernel declares `override WG: u32` (its workgroup size, a power of two);
//  - every invocation of the workgroup calls the function, in workgroup-uniform control flow;
//  - every invocation gets the same result (summation order fixed: deterministic);
//  - a reduction may follow another directly (each ends with a barrier before its memory is
//    reused).
//
// Shape: each invocation stores its value; pairs are added while more than RR_TAIL partial
// results remain (a tree, one barrier per level); then every invocation adds the last RR_TAIL
// itself, in the same order. log2(WG / RR_TAIL) + 2 barriers: 2 for WG <= 8, 7 for WG = 256. On a
// GPU that is noise next to a row's memory traffic; on lavapipe (Mesa's CPU Vulkan driver) every
// barrier suspends and resumes each group of 8 invocations as a coroutine, which is why the
// kernels prefer the subgroup version there.

const RR_TAIL = 8u;

var<workgroup> rr_buf: array<vec2f, WG>;

// Componentwise sum of a vec2 over the workgroup.
fn wg_sum2(v: vec2f, lid: u32) -> vec2f {
  rr_buf[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s >= RR_TAIL; s >>= 1u) {
    if (lid < s) {
      rr_buf[lid] += rr_buf[lid + s];
    }
    workgroupBarrier();
  }
  var r = rr_buf[0];
  for (var i = 1u; i < min(WG, RR_TAIL); i++) {
    r += rr_buf[i];
  }
  workgroupBarrier();
  return r;
}

fn wg_sum(v: f32, lid: u32) -> f32 {
  return wg_sum2(vec2f(v, 0.0), lid).x;
}

// Two softmax statistics (m, s), s = sum of exp(x - m) over some elements, merged into one.
fn rr_merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Merges per-invocation softmax statistics into the row's (max, sum of exp(x - max)).
fn wg_max_sum(v: vec2f, lid: u32) -> vec2f {
  rr_buf[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s >= RR_TAIL; s >>= 1u) {
    if (lid < s) {
      rr_buf[lid] = rr_merge(rr_buf[lid], rr_buf[lid + s]);
    }
    workgroupBarrier();
  }
  var r = rr_buf[0];
  for (var i = 1u; i < min(WG, RR_TAIL); i++) {
    r = rr_merge(r, rr_buf[i]);
  }
  workgroupBarrier();
  return r;
}
