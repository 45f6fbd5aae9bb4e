// Evaluation: the mean loss of a model over fixed batches (eval mode, no tape). The training
// loop's periodic evaluation (an objective's evaluate) and `webgpu-gpt eval` both use it.
import { concat, fromArray, noGrad, reshape, tidy, type Tensor } from '../engine/index.ts';
import type { GPT } from '../model/gpt.ts';

/**
 * Mean loss of the model over fixed batches (eval mode, no tape): each batch's mean over its
 * non-ignored targets, weighted by their count. Rows a batch repeats to fill up are ignored.
 */
export async function evaluateBatches(
  model: GPT,
  batches: readonly { inp: Int32Array; tgt: Int32Array; rows: number }[],
  B: number,
  T: number,
): Promise<number> {
  if (batches.length === 0) return NaN;
  const wasTraining = model.training;
  model.eval();
  const losses: Tensor[] = [];
  const weights: number[] = [];
  try {
    for (const b of batches) {
      let tgt = b.tgt;
      if (b.rows < B) {
        tgt = tgt.slice();
        tgt.fill(-1, b.rows * T);
      }
      losses.push(
        tidy(() =>
          noGrad(() => {
            const ids = fromArray(b.inp, [B, T], 'i32');
            const t = fromArray(tgt, [B, T], 'i32');
            return reshape(model.forward(ids, t, { train: false }).loss!, [1]);
          }),
        ),
      );
      weights.push(b.rows * T);
    }
    const all = tidy(() => concat(losses, 0));
    const vals = (await all.data()) as Float32Array;
    all.dispose();
    let sum = 0;
    let w = 0;
    vals.forEach((v, i) => {
      sum += v * weights[i]!;
      w += weights[i]!;
    });
    return sum / w;
  } finally {
    for (const l of losses) l.dispose();
    model.training = wasTraining;
  }
}
