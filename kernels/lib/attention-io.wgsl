// What the two fused-attention kernels (attention.wgsl, attention-subgroup.wgsl) share: the
// uniform Params, the head-size override, the masking constants and the bindings of the three
// entry points. Not a kernel: included with `//! include lib/attention-io.wgsl`. The layout and
// the math are in attention.wgsl's header.
//
// Bindings (after @binding(0) Params); entry points may give the same number to different names:
//   attention_forward       1 out (rw)  2 q  3 k  4 v  5 lse (rw)
//   attention_backward_dq   1 dq (rw)   2 q  3 k  4 v  5 dout  6 out  7 lse  8 D (rw)
//   attention_backward_dkv  1 dk (rw)   2 q  3 k  4 v  5 dout  6 dv (rw)  7 lse  8 D

struct Params {
  T: u32,         // query rows per head (Tq when decoding)
  qOffset: u32,   // absolute position of query row 0 (0 in training)
  kvStride: u32,  // rows between heads in k and v (T in training, maxT for a KV cache)
  scale: f32,     // 1 / sqrt(HS)
  hs4: u32,       // HS / 4 at run time: bounds the subgroup kernel's loops that must not be
                  // unrolled (unused by the tiled kernel)
}

override HS: u32 = 64u;              // head size: a multiple of 4, at most 32, or 64, 96, 128 (limits.ts)
override HS4: u32 = HS / 4u;         // vec4 chunks per row
const MASKED: f32 = -1.0e30;         // a masked score: exp(MASKED - m) == 0 for any finite m
const QUAD = vec4u(0u, 1u, 2u, 3u);

@group(0) @binding(0) var<uniform> p: Params;
// forward
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(2) var<storage, read> q: array<vec4f>;
@group(0) @binding(3) var<storage, read> k: array<vec4f>;
@group(0) @binding(4) var<storage, read> v: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
// backward: dq pass (q, k, v as above)
@group(0) @binding(1) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(5) var<storage, read> dout: array<vec4f>;
@group(0) @binding(6) var<storage, read> o: array<vec4f>;
@group(0) @binding(7) var<storage, read> lse_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> dvec: array<f32>;
// backward: dk/dv pass (q, k, v, dout, lse_in as above)
@group(0) @binding(1) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<storage, read> dvec_in: array<f32>;
