// Python string semantics the reference scorers rely on, so that our numbers match theirs on any
// input, not only ASCII:
//   pySplit(s)  = Python's str.split() with no argument: split on runs of Unicode whitespace
//                 (str.isspace), dropping empty pieces. JavaScript's \s differs: it lacks
//                 U+001C..U+001F and U+0085 and adds U+FEFF.
//   pyRstrip(s) = str.rstrip() with no argument (the same whitespace set).
// Lower-casing uses String.prototype.toLowerCase, which agrees with Python's str.lower() on the
// full Unicode case mappings both implement (both map 'İ' to 'i̇', neither folds 'ß').

/** The characters Python's str.isspace() accepts (Unicode White_Space plus the four ASCII separators). */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');
const PY_WS_TAIL = new RegExp(`[${PY_WS}]+$`, 'u');

export function pySplit(s: string): string[] {
  return s.split(PY_WS_RUN).filter((t) => t.length > 0);
}

export function pyRstrip(s: string): string {
  return s.replace(PY_WS_TAIL, '');
}

/** Counts of each distinct item (Python's collections.Counter). */
export function counter<T>(items: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Σ min(a[k], b[k]): the size of the multiset intersection (Counter & Counter). */
export function overlap<T>(a: ReadonlyMap<T, number>, b: ReadonlyMap<T, number>): number {
  let n = 0;
  for (const [k, c] of a) n += Math.min(c, b.get(k) ?? 0);
  return n;
}

/** Thrown for input of the wrong shape (mismatched counts, no references, an empty corpus). */
export class MetricInputError extends Error {
  override name = 'MetricInputError';
}

/** Checks that two parallel lists have the same length, naming both in the error. */
export function checkSameLength(a: readonly unknown[], aName: string, b: readonly unknown[], bName: string): void {
  if (a.length !== b.length)
    throw new MetricInputError(`${aName} and ${bName} differ in length: ${a.length} ${aName} but ${b.length} ${bName}`);
}
