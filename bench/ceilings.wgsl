// Probes of the adapter's own ceilings, measured once per bench run so that every kernel's speed
// can be read as a percentage of what this adapter can actually do (not of a datasheet number).
//
// copy_vec4   bandwidth: out[i] = inp[i] over vec4<f32>; bytes moved = 2 · 16 · n4 (read + write).
//             Each invocation copies PER_THREAD vec4s. Strided by the whole grid (the default),
//             neighbouring invocations touch neighbouring 16-byte words in every step: coalesced on
//             a GPU. CONTIGUOUS gives each invocation its own run of PER_THREAD vec4s with one range
//             check: a CPU adapter (lavapipe) runs neighbouring invocations as SIMD lanes and pays
//             for every loop trip and branch, so it wants long branch-free runs instead.
//   params    n4: vec4 elements to copy; threads: invocations in the grid (the stride)
//   bindings  1 inp (read) array<vec4f>, 2 out (rw) array<vec4f>
//   dispatch  workgroups = ceil(n4 / (WG · PER_THREAD)) spread over x and y (grid())
//
// fma_probe   compute: CHAINS independent vec4 fused multiply-add chains per invocation, `iters`
//             steps each: flops = 2 · 4 · CHAINS · iters per invocation. Independent chains hide
//             the FMA latency (a GPU needs many in flight per thread, a CPU SIMD unit ~8); the
//             multiplier and addend come from the uniform struct so nothing folds at compile time,
//             and each invocation stores its sum so nothing is dead code. x ← x·m + a with
//             m = 0.999, a = 0.001 stays near 1: no overflow, no denormals.
//   params    iters, m, a
//   bindings  1 out (rw) array<f32>, one float per invocation
//   dispatch  any grid big enough to fill the device (the host picks it)
//
// noop        an empty dispatch: the harness opens a pass with it when it must place a timestamp
//             around work that spans several passes.

override WG: u32 = 256;
override PER_THREAD: u32 = 1;
override CONTIGUOUS: bool = false;
override CHAINS: u32 = 4;
override UNROLL: u32 = 8;

struct CopyParams {
  n4: u32,
  threads: u32,
}

struct FmaParams {
  iters: u32,
  m: f32,
  a: f32,
}

@group(0) @binding(0) var<uniform> cp: CopyParams;
@group(0) @binding(1) var<storage, read> inp: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG)
fn copy_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let tid = (wid.x + wid.y * nwg.x) * WG + lid;
  if (CONTIGUOUS) {
    let base = tid * PER_THREAD;
    if (base + PER_THREAD <= cp.n4) {
      for (var k = 0u; k < PER_THREAD; k++) {
        out[base + k] = inp[base + k];
      }
    } else {
      for (var i = base; i < cp.n4; i++) {
        out[i] = inp[i];
      }
    }
    return;
  }
  for (var k = 0u; k < PER_THREAD; k++) {
    let i = tid + k * cp.threads;
    if (i < cp.n4) {
      out[i] = inp[i];
    }
  }
}

@group(0) @binding(0) var<uniform> fp: FmaParams;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn fma_probe(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let tid = (wid.x + wid.y * nwg.x) * WG + lid;
  let m = vec4f(fp.m);
  let a = vec4f(fp.a);
  // Distinct starting values per chain and per invocation, so no two chains are provably equal.
  let s = f32(tid & 1023u) * 1e-4;
  var x0 = vec4f(s, s + 0.01, s + 0.02, s + 0.03);
  var x1 = x0 + 0.1;
  var x2 = x0 + 0.2;
  var x3 = x0 + 0.3;
  var x4 = x0 + 0.4;
  var x5 = x0 + 0.5;
  var x6 = x0 + 0.6;
  var x7 = x0 + 0.7;
  // CHAINS is an override, so the unused chains' branches vanish when the pipeline is compiled.
  for (var k = 0u; k < fp.iters; k++) {
    // UNROLL dependent steps per chain and per loop trip: a CPU adapter such as lavapipe pays a
    // vector mask update for every trip of a loop it cannot prove uniform, so trips must be rare.
    for (var u = 0u; u < UNROLL; u++) {
      x0 = fma(x0, m, a);
      if (CHAINS > 1u) { x1 = fma(x1, m, a); }
      if (CHAINS > 2u) { x2 = fma(x2, m, a); x3 = fma(x3, m, a); }
      if (CHAINS > 4u) { x4 = fma(x4, m, a); x5 = fma(x5, m, a); x6 = fma(x6, m, a); x7 = fma(x7, m, a); }
    }
  }
  let t = (x0 + x1) + (x2 + x3) + (x4 + x5) + (x6 + x7);
  sums[tid] = t.x + t.y + t.z + t.w;
}

@compute @workgroup_size(1)
fn noop() {}
