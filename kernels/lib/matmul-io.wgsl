// What the two matmul kernels (matmul.wgsl, matmul-subgroup.wgsl) share: the uniform Params, the
// bindings, the epilogue flags and finish(), the epilogue for one output element. Not a kernel:
// included with `//! include lib/matmul-io.wgsl`; the contract (shapes, bindings, what each flag
// does) is in matmul.wgsl's header.
//
// The flags are override constants, so each combination compiles to its own pipeline with the
// dead branches of finish() removed. The fused GELU is lib/gelu.wgsl's, the same formula as
// gelu.wgsl, whose backward the engine runs on `preact`.

//! include lib/gelu.wgsl

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch_stride_a: u32,  // elements between batches of A: 0 when broadcast, else M·K
  batch_stride_b: u32,  // elements between batches of B: 0 when broadcast, else K·N
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> preact: array<f32>;
// vec4 views of the same buffers, for the *_vec4 entry points only.
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;
@group(0) @binding(3) var<storage, read> b4: array<vec4f>;

override TRANS_A: bool = false;       // A stored [batchA, K, M]
override TRANS_B: bool = false;       // B stored [batchB, N, K]
override HAS_BIAS: bool = false;
override GELU: bool = false;
override WRITE_PREACT: bool = false;  // with GELU: also store a·b + bias to `preact`
override ACCUMULATE: bool = false;    // out += result

// Bias, activation and store for one output element; m < M and n < N are checked by the caller.
fn finish(batch: u32, m: u32, n: u32, acc: f32) {
  let idx = (batch * p.M + m) * p.N + n;
  var v = acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (GELU) {
    if (WRITE_PREACT) { preact[idx] = v; }
    v = gelu(v);
  }
  if (ACCUMULATE) { v += out[idx]; }
  out[idx] = v;
}
