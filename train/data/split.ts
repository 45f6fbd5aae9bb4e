// The train/validation split by document (seeded, reproducible).
import { Rng } from '../../kernels/random.ts';

/**
 * Train/validation split by document, seeded and reproducible: documents are visited in a seeded
 * random order and moved to validation while that brings the validation share of characters closer
 * to `valFraction` (at least one document goes to validation when there are two or more, and at least
 * one stays in training). Returns one flag per document: true for validation. Depends only on the
 * document lengths, their order and the seed.
 */
export function splitByDocument(lengths: readonly number[], valFraction: number, seed: number): boolean[] {
  const n = lengths.length;
  const isVal: boolean[] = new Array<boolean>(n).fill(false);
  if (!(valFraction > 0) || n < 2) return isVal;
  let total = 0;
  for (const l of lengths) total += l;
  const target = valFraction * total;
  const order = new Rng(seed ^ 0x5a17, 'sfc32').shuffle(Array.from({ length: n }, (_, i) => i));
  let valChars = 0;
  let valDocs = 0;
  for (const i of order) {
    if (valDocs === n - 1) break;
    const len = lengths[i] as number;
    if (valDocs === 0 || valChars + len / 2 < target) {
      isVal[i] = true;
      valChars += len;
      valDocs++;
    }
    if (valChars >= target) break;
  }
  return isVal;
}
