// The float64 reference of a LoRA-adapted linear layer, forward and backward, written out loop by
// loop: the specification the GPU composition (model/lora-store.ts) is tested against, and itself
// checked by finite differences (tests/model/lora.test.ts).
//   y[m, j] = Σ_i x[m, i]·W[i, j] + b[j] + scale · Σ_k h[m, k]·B[k, j],  h[m, k] = Σ_i x[m, i]·A[i, k]
// x [M, IN], W [IN, OUT], b [OUT], A [IN, R], B [R, OUT], all row-major.

export interface LoraLinearInputs {
  x: Float64Array;
  W: Float64Array;
  b: Float64Array;
  A: Float64Array;
  B: Float64Array;
  M: number;
  IN: number;
  OUT: number;
  R: number;
  scale: number;
}

/** a [M, K] · b [K, N] (optionally aᵀ when a is [K, M], or bᵀ when b is [N, K]). */
function mm(a: Float64Array, b: Float64Array, M: number, K: number, N: number, tA = false, tB = false): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? a[k * M + m]! : a[m * K + k]!) * (tB ? b[n * K + k]! : b[k * N + n]!);
      out[m * N + n] = s;
    }
  return out;
}

/** y [M, OUT] and the saved h = x·A [M, R]. */
export function loraLinearForward(p: LoraLinearInputs): { y: Float64Array; h: Float64Array } {
  const { M, IN, OUT, R } = p;
  const y = mm(p.x, p.W, M, IN, OUT);
  const h = mm(p.x, p.A, M, IN, R);
  const low = mm(h, p.B, M, R, OUT);
  for (let m = 0; m < M; m++) for (let j = 0; j < OUT; j++) y[m * OUT + j]! += p.b[j]! + p.scale * low[m * OUT + j]!;
  return { y, h };
}

/**
 * Gradients for dy [M, OUT]: dx = dy·Wᵀ + scale·(dy·Bᵀ)·Aᵀ, dA = xᵀ·(scale·dy·Bᵀ), dB = scale·hᵀ·dy
 * (and dW = xᵀ·dy, db = Σ_m dy, which a frozen base does not need but the reference gives).
 */
export function loraLinearBackward(
  p: LoraLinearInputs,
  dy: Float64Array,
): { dx: Float64Array; dA: Float64Array; dB: Float64Array; dW: Float64Array; db: Float64Array } {
  const { M, IN, OUT, R, scale } = p;
  const { h } = loraLinearForward(p);
  const dh = mm(dy, p.B, M, OUT, R, false, true).map((v) => v * scale); // [M, R]
  const dx = mm(dy, p.W, M, OUT, IN, false, true);
  const viaA = mm(dh, p.A, M, R, IN, false, true);
  for (let i = 0; i < dx.length; i++) dx[i]! += viaA[i]!;
  const dA = mm(p.x, dh, IN, M, R, true); // [IN, R]
  const dB = mm(h, dy, R, M, OUT, true).map((v) => v * scale); // [R, OUT]
  const dW = mm(p.x, dy, IN, M, OUT, true);
  const db = new Float64Array(OUT);
  for (let m = 0; m < M; m++) for (let j = 0; j < OUT; j++) db[j]! += dy[m * OUT + j]!;
  return { dx, dA, dB, dW, db };
}
