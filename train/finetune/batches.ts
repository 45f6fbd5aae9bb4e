// Batches of variable-length examples, padded per batch to the longest example in it (not to the
// context length), with RIGHT padding: real tokens sit at positions 0..len-1, so causal attention
// at a real position never sees a pad, and pad positions carry the ignore index. Batch order is a
// seeded shuffle per epoch whose whole state is (seed, epoch, position): a resumed run replays
// the same batches exactly.
import { FinetuneDataError } from './records.ts';
import { IGNORE_INDEX, type ClassifyExample, type SftExample } from './examples.ts';
import { seededRng } from './rng.ts';

/** [B, T] row-major ids and targets; T is the longest example of this batch. */
export interface SftBatch {
  kind: 'sft';
  B: number;
  T: number;
  ids: Int32Array;
  targets: Int32Array;
  /** Source lines of the rows, for error messages and reports. */
  lines: number[];
}

export interface ClassifyBatch {
  kind: 'classify';
  B: number;
  T: number;
  ids: Int32Array;
  /** [B] class indices. */
  labels: Int32Array;
  /** [B] position of each row's last real token (where the head reads). */
  last: Int32Array;
  /** [B, T] next-token targets for an auxiliary language-modelling loss (ignore index after `last`). */
  lmTargets: Int32Array;
  lines: number[];
}

function batchShape(examples: readonly { ids: Int32Array }[]): { B: number; T: number } {
  if (examples.length === 0) throw new FinetuneDataError('a batch needs at least one example');
  return { B: examples.length, T: Math.max(...examples.map((e) => e.ids.length)) };
}

/** Pads `sft` examples to the batch's longest: pads are `padId` inputs with ignored targets. */
export function sftBatch(examples: readonly SftExample[], padId: number): SftBatch {
  const { B, T } = batchShape(examples);
  const ids = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  examples.forEach((e, b) => {
    ids.set(e.ids, b * T);
    targets.set(e.targets, b * T);
  });
  return { kind: 'sft', B, T, ids, targets, lines: examples.map((e) => e.line) };
}

export function classifyBatch(examples: readonly ClassifyExample[], padId: number): ClassifyBatch {
  const { B, T } = batchShape(examples);
  const ids = new Int32Array(B * T).fill(padId);
  const lmTargets = new Int32Array(B * T).fill(IGNORE_INDEX);
  examples.forEach((e, b) => {
    ids.set(e.ids, b * T);
    lmTargets.set(e.ids.subarray(1, e.last + 1), b * T);
  });
  const labels = Int32Array.from(examples, (e) => e.label);
  const last = Int32Array.from(examples, (e) => e.last);
  return { kind: 'classify', B, T, ids, labels, last, lmTargets, lines: examples.map((e) => e.line) };
}

/** Everything needed to resume a `BatchOrder` exactly. */
export interface BatchOrderState {
  seed: number;
  /** The current epoch, from 0. */
  epoch: number;
  /** Examples of the current epoch already handed out. */
  position: number;
  /** Checked on resume: the state belongs to data of this size and this batch size. */
  count: number;
  batchSize: number;
}

export interface BatchOrderOptions {
  /** Default true; false keeps the data's order (evaluation). */
  shuffle?: boolean;
  /** Skip an epoch's final short batch. Default false. */
  dropLast?: boolean;
}

/** Which examples go into each batch: a fresh seeded permutation per epoch. */
export class BatchOrder {
  private epochNo = 0;
  private pos = 0;
  private perm: number[] = [];

  constructor(
    readonly count: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly opts: BatchOrderOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new FinetuneDataError(`batch size must be ≥ 1, got ${batchSize}`);
    if (count < 1 || (opts.dropLast && count < batchSize)) {
      throw new FinetuneDataError(`${count} examples cannot fill a batch of ${batchSize}`);
    }
    this.perm = this.permutation(0);
  }

  get epoch(): number {
    return this.epochNo;
  }

  /** Indices of the next batch; an epoch's last batch may be short unless `dropLast`. */
  next(): number[] {
    const left = this.count - this.pos;
    if (left === 0 || (this.opts.dropLast && left < this.batchSize)) this.startEpoch(this.epochNo + 1);
    const batch = this.perm.slice(this.pos, this.pos + this.batchSize);
    this.pos += batch.length;
    return batch;
  }

  state(): BatchOrderState {
    return { seed: this.seed, epoch: this.epochNo, position: this.pos, count: this.count, batchSize: this.batchSize };
  }

  static resume(s: BatchOrderState, count: number, opts: BatchOrderOptions = {}): BatchOrder {
    if (s.count !== count) {
      throw new FinetuneDataError(
        `cannot resume: the saved batch order is for ${s.count} examples, the data has ${count}`,
      );
    }
    if (!(Number.isInteger(s.position) && s.position >= 0 && s.position <= count && s.epoch >= 0)) {
      throw new FinetuneDataError(`cannot resume: bad batch order state ${JSON.stringify(s)}`);
    }
    const order = new BatchOrder(count, s.batchSize, s.seed, opts);
    order.startEpoch(s.epoch);
    order.pos = s.position;
    return order;
  }

  private startEpoch(epoch: number): void {
    this.epochNo = epoch;
    this.pos = 0;
    this.perm = this.permutation(epoch);
  }

  private permutation(epoch: number): number[] {
    const idx = Array.from({ length: this.count }, (_, i) => i);
    return this.opts.shuffle === false ? idx : seededRng(this.seed, epoch).shuffle(idx);
  }
}
