// One optimizer step with gradient accumulation, recorded into one command encoder:
//   zero the flat gradient → forward + backward per micro-batch (gradients add up in the flat
//   buffer) → global norm → AdamW (clipped on the GPU) → at most one readback (loss, grad norm).
import { backward, tidy, type Tensor } from '../engine/index.ts';
import { mixSeed, type GPT } from './gpt.ts';
import { readStats, type AdamW } from './optimizer.ts';

export interface MicroBatch {
  /** i32 [B, T]. */
  ids: Tensor;
  /** i32 [B, T]. */
  targets: Tensor;
}

export interface TrainStepOptions {
  lr: number;
  /** Seed of this step's dropout masks (micro-batch k uses mixSeed(dropoutSeed, k)). Default: the step number. */
  dropoutSeed?: number;
  /**
   * Read the loss and gradient norm back (one sync). false records the step and returns without
   * waiting (loss and gradNorm are NaN); the next readback waits for it. Default true.
   */
  read?: boolean;
  /**
   * Apply the update only if the loss and gradient norm are finite: the norm is read BEFORE the
   * AdamW dispatch is recorded (the update then runs with the next submit). Implies read. Default false.
   */
  skipNonFinite?: boolean;
}

export interface TrainStepResult {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global norm of the averaged gradient, before clipping. */
  gradNorm: number;
  /** True when the update was skipped (non-finite loss or norm; the optimizer step count did not advance). */
  skipped: boolean;
}

export async function trainStep(
  model: GPT,
  opt: AdamW,
  micro: readonly MicroBatch[],
  o: TrainStepOptions,
): Promise<TrainStepResult> {
  if (micro.length === 0) throw new Error('trainStep: no micro-batches');
  const gradScale = 1 / micro.length;
  const seed = o.dropoutSeed ?? opt.stepCount + 1;
  model.params.zeroGrads();
  const losses = micro.map((mb, k) =>
    tidy(() => {
      const { loss } = model.forward(mb.ids, mb.targets, { dropoutSeed: mixSeed(seed, k) });
      backward(loss!);
      return loss!;
    }),
  );
  try {
    if (o.skipNonFinite) {
      opt.computeNorm(gradScale);
      const s = await readStats(losses, opt);
      const ok = Number.isFinite(s.loss) && Number.isFinite(s.gradNorm);
      if (ok) opt.apply({ lr: o.lr, gradScale });
      return { ...s, skipped: !ok };
    }
    opt.step({ lr: o.lr, gradScale });
    if (o.read === false) return { loss: NaN, gradNorm: NaN, skipped: false };
    return { ...(await readStats(losses, opt)), skipped: false };
  } finally {
    for (const l of losses) l.dispose();
  }
}
