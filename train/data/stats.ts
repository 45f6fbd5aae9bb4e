// Token statistics for the report: counts per id, unigram entropy and cross-entropy (the trainer's
// context-free baseline), and a growable token buffer for the encoded splits.

/** Adds the ids in `tokens` to `counts` (indexed by id). */
export function countTokens(tokens: ArrayLike<number>, counts: Float64Array): void {
  for (let i = 0; i < tokens.length; i++) counts[tokens[i] as number]! += 1;
}

/**
 * Unigram entropy in nats per token: H = -sum_i p_i ln p_i with p_i = count_i / total. This is the
 * cross-entropy loss of the best model that ignores context (it predicts the token frequencies), i.e.
 * the baseline that a language model's training loss must beat. 0 for an empty stream.
 */
export function unigramEntropy(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total === 0) return 0;
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0) {
      const p = c / total;
      h -= p * Math.log(p);
    }
  }
  return h;
}

/**
 * Cross-entropy in nats per token of the `evalCounts` stream under the unigram distribution of
 * `trainCounts`, smoothed by adding `alpha` to every id's count (so unseen ids have finite loss).
 * The context-free baseline for a validation loss.
 */
export function unigramCrossEntropy(
  evalCounts: ArrayLike<number>,
  trainCounts: ArrayLike<number>,
  alpha = 0.1,
): number {
  const V = trainCounts.length;
  let trainTotal = 0;
  for (let i = 0; i < V; i++) trainTotal += trainCounts[i] as number;
  const denom = trainTotal + alpha * V;
  let evalTotal = 0;
  let sum = 0;
  for (let i = 0; i < evalCounts.length; i++) {
    const c = evalCounts[i] as number;
    if (c === 0) continue;
    evalTotal += c;
    sum -= c * Math.log(((trainCounts[i] ?? 0) + alpha) / denom);
  }
  return evalTotal === 0 ? 0 : sum / evalTotal;
}

/** A growable array of token ids. */
export class TokenBuffer {
  private buf = new Uint32Array(1 << 16);
  length = 0;

  push(id: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = id;
  }

  pushAll(ids: readonly number[]): void {
    if (this.length + ids.length > this.buf.length) this.grow(this.length + ids.length);
    for (let i = 0; i < ids.length; i++) this.buf[this.length + i] = ids[i] as number;
    this.length += ids.length;
  }

  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }

  private grow(min: number): void {
    let cap = this.buf.length * 2;
    while (cap < min) cap *= 2;
    const next = new Uint32Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}
