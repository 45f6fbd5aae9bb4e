// One comparison for every test: |actual - expected| <= atol + rtol·|expected| elementwise,
// NaN or Inf in either side fails (unless both are the same infinity), and a failure names the
// worst element so a reader can see how far off a kernel is and where.

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Named presets: pick by how the value was computed, not by what makes a test pass. */
export const TOL = {
  /** Bit-exact (copies, gathers, integer outputs). */
  exact: { atol: 0, rtol: 0 },
  /** One f32 rounding per element (elementwise arithmetic). */
  f32: { atol: 1e-6, rtol: 1e-5 },
  /** f32 transcendentals (exp, tanh, log) whose GPU versions are a few ulps off. */
  f32Math: { atol: 1e-5, rtol: 1e-4 },
  /** f32 accumulation over up to a few thousand terms (matmul, reductions, norms). */
  f32Reduce: { atol: 1e-4, rtol: 1e-4 },
  /** Chains of reductions and transcendentals (attention backward, whole-model gradients). */
  f32Chain: { atol: 5e-4, rtol: 2e-3 },
  /** float64 reference against finite differences. */
  fd: { atol: 1e-6, rtol: 1e-5 },
} as const satisfies Record<string, Tolerance>;

export type TolName = keyof typeof TOL;

export interface CloseReport {
  ok: boolean;
  worstIndex: number;
  worstExcess: number;
  message: string;
}

export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance | TolName,
  label = 'value',
): CloseReport {
  const t = typeof tol === 'string' ? TOL[tol] : tol;
  const tolName = typeof tol === 'string' ? tol : `atol=${t.atol} rtol=${t.rtol}`;
  if (actual.length !== expected.length) {
    return {
      ok: false,
      worstIndex: -1,
      worstExcess: Infinity,
      message: `${label}: length ${actual.length} != expected ${expected.length}`,
    };
  }
  let worst = -1;
  let worstExcess = -Infinity;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let excess: number;
    if (Number.isNaN(a) || Number.isNaN(e)) excess = Infinity;
    else if (!Number.isFinite(a) || !Number.isFinite(e)) excess = a === e ? -Infinity : Infinity;
    else excess = Math.abs(a - e) - (t.atol + t.rtol * Math.abs(e));
    if (excess > 0) bad++;
    if (excess > worstExcess || worst < 0) {
      worstExcess = excess;
      worst = i;
    }
  }
  const ok = bad === 0;
  const message = ok
    ? `${label}: ok (${actual.length} elements, ${tolName})`
    : `${label}: ${bad} of ${actual.length} elements outside ${tolName}; worst at [${worst}]: actual ${actual[worst]} expected ${expected[worst]} (|diff| ${Math.abs(actual[worst]! - expected[worst]!)})`;
  return { ok, worstIndex: worst, worstExcess, message };
}

/** Throws with the worst element when the arrays differ beyond the tolerance. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance | TolName,
  label = 'value',
): void {
  const r = compare(actual, expected, tol, label);
  if (!r.ok) throw new Error(r.message);
}
