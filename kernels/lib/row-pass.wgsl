// The first pass of a row kernel's online softmax (softmax.wgsl, crossentropy.wgsl), written once.
// Not a kernel, and not included as it is: a kernel has a scalar and a vec4 variant that load
// their chunks from different bindings, and WGSL cannot pass a storage buffer to a function at
// full speed on lavapipe (see rowreduce.ts chunkAccessors). So rowreduce.ts rowPass()
// instantiates this file once per variant v, renaming `row_pass` to `row_pass_<v>` and
// `load_row_chunk` to `load_row_chunk_<v>`, and the kernel includes the copies as
// gen/row-pass.wgsl. The kernel defines, per variant,
// `fn load_row_chunk_<v>(base: u32, c: u32, cv: u32) -> vec4f`: chunk c of the row at `base`,
// its columns at or past cv NEG_BIG. Uses lib/rows.wgsl, lib/rowreduce.wgsl and the kernel's
// overrides WG and VPT.
//
// The pass, over the chunks [0, ncv) holding the row's valid columns (the shape of the algorithm
// is explained at the top of softmax.wgsl):
//  1. the invocation's first VPT chunks go into registers, x[0..VPT), while it takes their max m;
//  2. their exps against m are summed, and with keep_exp they replace x (x * exp(m - M) / S is
//     then the softmax of a register chunk, without a second exp);
//  3. the streamed chunks past them are absorbed into the pair (m, s);
//  4. the workgroup merges the pairs into the row's (M, S).
// Returns (m, M, S). `x` points to the kernel's function variable (a private register array;
// pointers to the function address space are core WGSL, and Mesa inlines the call: the same
// speed as the four hand-written copies this replaced).

fn row_pass(base: u32, lid: u32, ncv: u32, cv: u32, x: ptr<function, array<vec4f, MAX_VPT>>,
            keep_exp: bool) -> vec3f {
  var m = NEG_BIG;
  for (var k = 0u; k < VPT; k++) {
    let c = lid + k * WG;
    (*x)[k] = vec4f(NEG_BIG);
    if (c < ncv) {
      (*x)[k] = load_row_chunk(base, c, cv);
    }
    m = max(m, max4((*x)[k]));
  }
  var s = 0.0;
  for (var k = 0u; k < VPT; k++) {
    let e = exp((*x)[k] - vec4f(m));
    s += sum4(e);
    if (keep_exp) {
      (*x)[k] = e;
    }
  }
  var st = vec2f(m, s);
  for (var c = lid + VPT * WG; c < ncv; c += WG) {
    st = absorb(st, load_row_chunk(base, c, cv));
  }
  return vec3f(m, wg_max_sum(st, lid));
}
