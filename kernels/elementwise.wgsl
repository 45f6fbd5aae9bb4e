// Elementwise kernels of the tensor engine: unary maps, broadcasting binary maps, in-place
// accumulation and fill.
//
// Shapes: every entry point walks a flat index over n output elements, one per invocation, in
// workgroups of WG invocations laid out on a 2-D grid (x + y·65535·WG) so n may exceed the
// per-dimension workgroup limit. The op is an override constant, so each op is its own pipeline
// with the branch folded away at pipeline creation.
//
// Broadcasting: shapes are collapsed on the host to rank <= 6; out index -> per-dim index via the
// output shape, then into each input through its strides (0 on a broadcast dimension).
//
// Nothing is saved for backward here: the engine composes backward passes from these same maps.

struct Unary {
  n: u32,
  s: f32,        // scalar operand (pow exponent, added or multiplied scalar, fill value)
  row: u32,      // grid row pitch in invocations (workgroups in x times WG)
}

struct Binary {
  n: u32,
  rank: u32,
  row: u32,
  value: f32,    // maskedFill's fill value
  shape0: u32, shape1: u32, shape2: u32, shape3: u32, shape4: u32, shape5: u32,
  sa0: u32, sa1: u32, sa2: u32, sa3: u32, sa4: u32, sa5: u32,
  sb0: u32, sb1: u32, sb2: u32, sb3: u32, sb4: u32, sb5: u32,
}


override WG: u32 = 256;
// Unary: 0 neg, 1 exp, 2 log, 3 sqrt, 4 tanh, 5 relu, 6 pow(x, s), 7 x + s, 8 x * s, 9 copy.
// Binary: 0 add, 1 sub, 2 mul, 3 div, 4 maskedFill (b != 0 ? value : a),
//         5 relu backward (a = dout, b = x: b > 0 ? a : 0), 6 tanh backward (a = dout, b = tanh(x)).
override OP: u32 = 0;

fn unary_op(x: f32, s: f32) -> f32 {
  switch OP {
    case 0u: { return -x; }
    case 1u: { return exp(x); }
    case 2u: { return log(x); }
    case 3u: { return sqrt(x); }
    case 4u: {
      // WGSL's tanh overflows to NaN for |x| > ~44 on some drivers; tanh saturates long before.
      return tanh(clamp(x, -20.0, 20.0));
    }
    case 5u: { return max(x, 0.0); }
    case 6u: {
      // pow(x, s) is undefined for x < 0 in WGSL; integer exponents (x², x³) must still work.
      let r = pow(abs(x), s);
      let odd = abs(s - 2.0 * round(s * 0.5)) == 1.0;
      return select(r, -r, x < 0.0 && odd);
    }
    case 7u: { return x + s; }
    case 8u: { return x * s; }
    default: { return x; }
  }
}

fn binary_op(a: f32, b: f32, value: f32) -> f32 {
  switch OP {
    case 0u: { return a + b; }
    case 1u: { return a - b; }
    case 2u: { return a * b; }
    case 3u: { return a / b; }
    case 4u: { return select(a, value, b != 0.0); }
    case 5u: { return select(0.0, a, b > 0.0); }
    case 6u: { return a * (1.0 - b * b); }
    default: { return a; }
  }
}

@group(0) @binding(0) var<uniform> u: Unary;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn unary(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * u.row;
  if (i >= u.n) { return; }
  out[i] = unary_op(inp[i], u.s);
}

// Binary with broadcasting. Bindings: 0 Binary, 1 a, 2 b, 3 out (n elements of the output shape).
@group(0) @binding(0) var<uniform> bp: Binary;
@group(0) @binding(1) var<storage, read> ba: array<f32>;
@group(0) @binding(2) var<storage, read> bb: array<f32>;
@group(0) @binding(3) var<storage, read_write> bout: array<f32>;

@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * bp.row;
  if (i >= bp.n) { return; }
  let shape = array<u32, 6>(bp.shape0, bp.shape1, bp.shape2, bp.shape3, bp.shape4, bp.shape5);
  let sa = array<u32, 6>(bp.sa0, bp.sa1, bp.sa2, bp.sa3, bp.sa4, bp.sa5);
  let sb = array<u32, 6>(bp.sb0, bp.sb1, bp.sb2, bp.sb3, bp.sb4, bp.sb5);
  // Peel output coordinates from the innermost dimension outwards.
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(bp.rank) - 1; d >= 0; d--) {
    let c = rem % shape[d];
    rem = rem / shape[d];
    ia += c * sa[d];
    ib += c * sb[d];
  }
  bout[i] = binary_op(ba[ia], bb[ib], bp.value);
}

// Same-shape fast path (no index arithmetic): the common case in a training step.
@compute @workgroup_size(WG)
fn binary_same(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * bp.row;
  if (i >= bp.n) { return; }
  bout[i] = binary_op(ba[i], bb[i], bp.value);
}

// acc += src, for gradient accumulation: the accumulator is bound once, read-write.
@group(0) @binding(0) var<uniform> ap: Unary;
@group(0) @binding(1) var<storage, read> asrc: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;

@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ap.row;
  if (i >= ap.n) { return; }
  acc[i] = acc[i] + asrc[i] * ap.s;
}

// out[i] = s. Fills by bit pattern too: integer tensors pass their value's f32 bit pattern.
@group(0) @binding(0) var<uniform> fp: Unary;
@group(0) @binding(1) var<storage, read_write> fout: array<f32>;

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * fp.row;
  if (i >= fp.n) { return; }
  fout[i] = fp.s;
}
