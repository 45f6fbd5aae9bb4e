// Finite-difference and comparison helpers for the float64 reference tests.
// (Finite differences are only needed by the reference tests; kernels/check.ts holds allclose.)

export interface CloseOptions {
  /** relative tolerance, against max(|actual|, |expected|) */
  rtol?: number;
  /** absolute tolerance, for elements whose true value is ~0 */
  atol?: number;
  /** name printed in the failure message */
  label?: string;
}

export interface Worst {
  index: number;
  actual: number;
  expected: number;
  absErr: number;
  /** absErr / max(|actual|, |expected|), 0 when both are 0 */
  relErr: number;
}

/**
 * Throws unless |a - e| <= atol + rtol * max(|a|, |e|) for every element. The message names the
 * worst element (largest excess over its tolerance), so a failure says where to look. NaN in
 * either array always fails, even at the same position: a reference must never produce NaN.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: CloseOptions = {},
): Worst | null {
  const rtol = opts.rtol ?? 1e-6;
  const atol = opts.atol ?? 1e-7;
  const label = opts.label ?? 'arrays';
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst: Worst | null = null;
  let worstExcess = -Infinity;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      throw new Error(`${label}: NaN at index ${i} (actual ${a}, expected ${e})`);
    }
    const absErr = Math.abs(a - e);
    const scale = Math.max(Math.abs(a), Math.abs(e));
    // Equal infinities compare equal; Inf - Inf would otherwise be NaN.
    const excess = a === e ? -Infinity : absErr - (atol + rtol * scale);
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = { index: i, actual: a, expected: e, absErr, relErr: scale === 0 ? 0 : absErr / scale };
    }
  }
  if (worst && worstExcess > 0) {
    throw new Error(
      `${label}: worst element ${worst.index}: actual ${worst.actual}, expected ${worst.expected}, ` +
        `abs err ${worst.absErr.toExponential(3)}, rel err ${worst.relErr.toExponential(3)} ` +
        `(rtol ${rtol}, atol ${atol}, n=${actual.length})`,
    );
  }
  return worst;
}

/**
 * Central finite differences of a scalar function of x: (f(x + h e_i) - f(x - h e_i)) / 2h for
 * every i. Perturbs x in place (f must read x) and restores each element exactly afterwards.
 * With float64 and h = 1e-6 the truncation error is O(h^2) ~ 1e-12 and the rounding error about
 * 1e-16 |f| / h ~ 1e-10 |f|, comfortably inside rtol 1e-6 for O(1) gradients.
 */
export function numericalGradient(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const orig = x[i]!;
    x[i] = orig + h;
    const fp = f();
    x[i] = orig - h;
    const fm = f();
    x[i] = orig;
    grad[i] = (fp - fm) / (2 * h);
  }
  return grad;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dot: length ${a.length} != ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Checks an analytic gradient of f with respect to x against central finite differences. */
export function expectGradient(
  analytic: ArrayLike<number>,
  f: () => number,
  x: Float64Array,
  opts: CloseOptions & { h?: number } = {},
): void {
  expectClose(analytic, numericalGradient(f, x, opts.h), opts);
}
