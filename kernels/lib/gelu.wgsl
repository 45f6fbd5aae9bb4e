// GELU, tanh approximation (the one GPT-2 was trained with), forward and derivative: the one
// formula behind gelu.wgsl and the matmul epilogue (lib/matmul-io.wgsl). Not a kernel: included
// with `//! include lib/gelu.wgsl`.
//
//   gelu(x)  = 0.5·x·(1 + tanh(u)),   u = sqrt(2/π)·(x + 0.044715·x³)
//   gelu'(x) = 0.5·(1 + tanh(u)) + 0.5·x·(1 - tanh²(u))·sqrt(2/π)·(1 + 3·0.044715·x²)
//
// Why no tanh() below: 0.5·(1 + tanh(u)) is exactly the logistic sigmoid s = 1 / (1 + e),
// e = exp(-2u), and 1 - tanh²(u) = 4·s·(1 - s). Some drivers compute tanh(u) as
// (e^2u - 1)/(e^2u + 1), which turns into inf/inf = NaN once e^2u overflows (|u| > ~44); and WGSL
// lets an implementation assume that no infinity ever appears, so no formula may rely on one.
// Clamping the exponent to ±80 keeps e finite and normal (and 1 + e far from overflow); past
// |2u| = 80 the sigmoid is saturated far below f32 precision, so the clamp changes nothing that
// matters. The complement s' = 1 - s is computed as e·s (= e / (1 + e)), not by the cancellation
// 1 - s, which would lose most digits of s·(1 - s) where s is near 1:
//   gelu(x)  = x·s
//   gelu'(x) = s + 2·sqrt(2/π)·x·s·s'·(1 + 3·0.044715·x²)
// One exp and one division per element in each direction.
//
// The formula is written once, four lanes wide (gelu4, dgelu4); gelu and dgelu are its first lane
// for one float. The compilers scalarise vector arithmetic and drop the unused lanes, so the f32
// versions cost one element's work.

const GELU_K0: f32 = 0.7978845608028654;   // sqrt(2/π)
const GELU_K1: f32 = 0.044715;

// e = exp(-2u), clamped (see above).
fn gelu_exp4(x: vec4f) -> vec4f {
  return exp(clamp(-2.0 * GELU_K0 * (x + GELU_K1 * x * x * x), vec4f(-80.0), vec4f(80.0)));
}

fn gelu4(x: vec4f) -> vec4f {
  return x / (1.0 + gelu_exp4(x));
}

fn dgelu4(x: vec4f) -> vec4f {
  let e = gelu_exp4(x);
  let s = 1.0 / (1.0 + e);
  let sc = e * s;
  return s + 2.0 * GELU_K0 * x * s * sc * (1.0 + 3.0 * GELU_K1 * x * x);
}

fn gelu(x: f32) -> f32 {
  return gelu4(vec4f(x)).x;
}

fn dgelu(x: f32) -> f32 {
  return dgelu4(vec4f(x)).x;
}
