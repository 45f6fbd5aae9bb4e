// One optimizer step with gradient accumulation, recorded into one command encoder — the only
// training step: pre-training, the training-step bench and the tests call it.
//   zero the flat gradient buffer (the adapters' with LoRA: the base then has none)
//   for each micro-batch: loss → backward (gradients add up in the flat buffer)
//   global norm of gradScale·grad (gradScale = 1/micro-batches), on the GPU
//   ONE readback: the micro-batch losses and the norm together
//   AdamW, clipped by the norm on the GPU
// With skipNonFinite the norm is read BEFORE the AdamW dispatch is recorded, and a non-finite
// loss or norm skips the update; the update then runs at the head of the next step's submit (on
// a software adapter the host and the "GPU" share the cores anyway).
import { backward, fromArray, tidy, type Tensor } from '../engine/index.ts';
import type { WaitPolicy } from '../kernels/gpu/runtime.ts';
import { mixSeed, type GPT } from './gpt.ts';
import { readStats, type AdamW } from './optimizer.ts';

export interface MicroBatch {
  /** i32 [B, T]. */
  ids: Tensor;
  /** i32 [B, T]. */
  targets: Tensor;
}

/** Host-side token batch, row-major (B, T): what the data samplers produce. */
export interface TokenBatch {
  inp: Int32Array;
  tgt: Int32Array;
}

/**
 * The scalar loss of one micro-batch (forward only: the step runs backward). Called inside a
 * tidy, so the tensors it makes on the way are freed.
 */
export type MicroLoss<M> = (model: GPT, mb: M, dropoutSeed: number) => Tensor;

/** The default loss: mean cross-entropy of the model's predictions of `targets` from `ids`. */
export const languageModelLoss: MicroLoss<MicroBatch> = (model, mb, dropoutSeed) =>
  model.forward(mb.ids, mb.targets, { dropoutSeed }).loss!;

/** The same loss for host batches of shape (B, T), uploaded inside the step's tidy. */
export function tokenBatchLoss(B: number, T: number): MicroLoss<TokenBatch> {
  return (model, b, dropoutSeed) =>
    languageModelLoss(
      model,
      { ids: fromArray(b.inp, [B, T], 'i32'), targets: fromArray(b.tgt, [B, T], 'i32') },
      dropoutSeed,
    );
}

interface CommonOptions {
  lr: number;
  /**
   * Dropout seeds: a number s gives micro-batch k the seed mixSeed(s, k); a function gives each
   * micro-batch its own (pre-training: mixSeed(seed, step·accum + k), so a resumed run draws the
   * same masks). Default: the number of the step (opt.stepCount + 1).
   */
  dropoutSeed?: number | ((micro: number) => number);
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
  /** How the host waits for the readback (kernels/gpu/runtime.ts). Default 'spin'. */
  wait?: WaitPolicy;
  /** Called after the backward passes, before the norm: fault injection in tests. */
  afterBackward?: () => void;
}

/** Micro-batches other than tensor pairs need their loss function. */
export type TrainStepOptions<M = MicroBatch> = CommonOptions &
  ([M] extends [MicroBatch] ? { loss?: MicroLoss<M> } : { loss: MicroLoss<M> });

export interface TrainStepResult {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global norm of the averaged gradient, before clipping. */
  gradNorm: number;
  /** True when the update was skipped (non-finite loss or norm; the optimizer step count did not advance). */
  skipped: boolean;
}

export async function trainStep<M = MicroBatch>(
  model: GPT,
  opt: AdamW,
  micro: readonly M[],
  o: TrainStepOptions<M>,
): Promise<TrainStepResult> {
  if (micro.length === 0) throw new Error('trainStep: no micro-batches');
  const gradScale = 1 / micro.length;
  const lossOf = (o.loss ?? languageModelLoss) as MicroLoss<M>;
  const s = o.dropoutSeed ?? opt.stepCount + 1;
  const seedOf = typeof s === 'function' ? s : (k: number) => mixSeed(s, k);
  model.zeroGrads();
  const losses = micro.map((mb, k) =>
    tidy(() => {
      const loss = lossOf(model, mb, seedOf(k));
      backward(loss);
      return loss;
    }),
  );
  try {
    o.afterBackward?.();
    if (o.skipNonFinite) {
      opt.computeNorm(gradScale);
      const st = await readStats(losses, opt, { wait: o.wait });
      const ok = Number.isFinite(st.loss) && Number.isFinite(st.gradNorm);
      if (ok) opt.apply({ lr: o.lr, gradScale });
      return { ...st, skipped: !ok };
    }
    opt.step({ lr: o.lr, gradScale });
    if (o.read === false) return { loss: NaN, gradNorm: NaN, skipped: false };
    return { ...(await readStats(losses, opt, { wait: o.wait })), skipped: false };
  } finally {
    for (const l of losses) l.dispose();
  }
}
