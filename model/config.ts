// GPT-2 model configurations: the shape of the network, the presets from a test-sized model to
// GPT-2 small (124M), and the checks that turn a bad combination into a clear error before any
// buffer is allocated.

import { attentionSupportsHS } from '../kernels/limits.ts';

export interface GPTConfig {
  /** Tokens the tokenizer can produce: ids in [0, vocabSize). */
  vocabSize: number;
  /**
   * Rows of the token embedding and columns of the logits: vocabSize rounded up to a multiple of
   * 64 so that the LM-head matmul tiles evenly. Padded ids are never predicted (the loss and the
   * sampler only look at the first vocabSize columns) and their embedding rows stay zero.
   */
  paddedVocabSize: number;
  /** Longest context (rows of the position embedding). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  /** Width of the residual stream; head size is nEmbd / nHead. */
  nEmbd: number;
  /** Dropout probability (after the embeddings and on both residual branches); 0 disables it. */
  dropout: number;
  /**
   * Classes of a sequence-classification head (`score.weight` [nClasses, nEmbd], `score.bias`)
   * on the last real token's final hidden state. Absent or 0: a plain language model.
   */
  nClasses?: number;
}

/** Multiple the vocabulary is padded to. */
export const VOCAB_PAD = 64;

export function padVocab(vocabSize: number, multiple = VOCAB_PAD): number {
  return Math.ceil(vocabSize / multiple) * multiple;
}

type PresetShape = Omit<GPTConfig, 'paddedVocabSize'>;

/** Presets. vocabSize is a default: the tokenizer of the data sets the real one. */
export const PRESETS = {
  /** Tests: a model small enough to compare against the float64 reference in seconds. */
  tiny: { vocabSize: 32, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0 },
  /** The bench shape of the issue (and of the TensorFlow.js comparison). */
  mini: { vocabSize: 256, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 128, dropout: 0 },
  /** The default job on a software (lavapipe) adapter: a few minutes per thousand steps. */
  small: { vocabSize: 512, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0 },
  /** A mid-size model for a real GPU. */
  medium: { vocabSize: 50257, blockSize: 512, nLayer: 6, nHead: 6, nEmbd: 384, dropout: 0 },
  /** GPT-2 small, 124M parameters. */
  gpt2: { vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768, dropout: 0 },
} as const satisfies Record<string, PresetShape>;

export type PresetName = keyof typeof PRESETS;

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

const FIELDS = ['vocabSize', 'paddedVocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'dropout'] as const;

/**
 * Throws an Error naming the field for every problem: non-integers, nEmbd not divisible by nHead,
 * a head size the attention kernel cannot run, a padded vocabulary that is too small.
 */
export function validateConfig(c: GPTConfig): GPTConfig {
  const problems: string[] = [];
  for (const k of FIELDS) {
    const v = (c as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`${k} must be a number, got ${JSON.stringify(v)}`);
  }
  if (problems.length) throw new Error(`invalid GPT config: ${problems.join('; ')}`);
  for (const k of ['vocabSize', 'paddedVocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer, got ${c[k]}`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) problems.push(`dropout must be in [0, 1), got ${c.dropout}`);
  if (c.paddedVocabSize < c.vocabSize)
    problems.push(`paddedVocabSize (${c.paddedVocabSize}) must be >= vocabSize (${c.vocabSize})`);
  if (c.nEmbd % c.nHead !== 0) {
    problems.push(`nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  } else {
    const hs = c.nEmbd / c.nHead;
    if (!attentionSupportsHS(hs)) {
      problems.push(
        `head size nEmbd/nHead = ${hs} is not supported by the attention kernel (multiples of 4 up to 32, or 64, 96, 128)`,
      );
    }
  }
  if (c.nEmbd % 4 !== 0) problems.push(`nEmbd (${c.nEmbd}) must be a multiple of 4`);
  if (c.nClasses !== undefined && !(Number.isInteger(c.nClasses) && c.nClasses >= 0))
    problems.push(`nClasses must be a non-negative integer, got ${JSON.stringify(c.nClasses)}`);
  if (problems.length) throw new Error(`invalid GPT config: ${problems.join('; ')}`);
  return c;
}

/**
 * A full, validated config from a preset name and/or overrides. paddedVocabSize defaults to
 * vocabSize rounded up to a multiple of 64 (recomputed when vocabSize is overridden).
 */
export function resolveConfig(opts: Partial<GPTConfig> & { preset?: PresetName } = {}): GPTConfig {
  const { preset, ...over } = opts;
  if (preset !== undefined && !(preset in PRESETS)) {
    throw new Error(`unknown model preset "${String(preset)}" (known: ${PRESET_NAMES.join(', ')})`);
  }
  for (const k of Object.keys(over)) {
    if (!(FIELDS as readonly string[]).includes(k) && k !== 'nClasses')
      throw new Error(`unknown GPT config key "${k}" (known: ${FIELDS.join(', ')}, nClasses)`);
  }
  const base: PresetShape = { ...PRESETS[preset ?? 'tiny'] };
  const merged = { ...base, ...over };
  const cfg: GPTConfig = {
    vocabSize: merged.vocabSize,
    paddedVocabSize: over.paddedVocabSize ?? padVocab(merged.vocabSize),
    blockSize: merged.blockSize,
    nLayer: merged.nLayer,
    nHead: merged.nHead,
    nEmbd: merged.nEmbd,
    dropout: merged.dropout,
    ...(over.nClasses ? { nClasses: over.nClasses } : {}),
  };
  return validateConfig(cfg);
}

export function headSize(c: GPTConfig): number {
  return c.nEmbd / c.nHead;
}

/** Parameters of the model (the tied LM head counts once; padded embedding rows included). */
export function countParams(c: GPTConfig): number {
  const C = c.nEmbd;
  const perLayer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C);
  return c.paddedVocabSize * C + c.blockSize * C + c.nLayer * perLayer + 2 * C;
}

/**
 * Training FLOPs (forward + backward) per token at context T: 6·N for the weight matmuls (N
 * without the position embedding, which does no multiplies) plus 12·nLayer·nEmbd·T for attention
 * (nanoGPT's / PaLM's estimate, not halved for the causal mask).
 */
export function flopsPerToken(c: GPTConfig, T = c.blockSize): number {
  const N = countParams(c) - c.blockSize * c.nEmbd;
  return 6 * N + 12 * c.nLayer * c.nEmbd * T;
}

// ---- does it fit the adapter? ------------------------------------------------------------------

/** The adapter limits the size check reads (a GPUSupportedLimits has them). */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface FitOptions {
  /** Rows per micro-batch and their length (default blockSize): adds the activations. */
  batch?: number;
  T?: number;
  /** AdamW's two moments too (the model alone holds weights and gradients). */
  training?: boolean;
  /** Memory the buffers must fit in, bytes (e.g. host RAM for a software adapter); unknown: not checked. */
  memoryBytes?: number;
}

/** A model that cannot fit the adapter: a clear one-line message, no stack trace needed. */
export class ModelFitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFitError';
  }
}

const ALIGN = 64; // floats; model/layout.ts PARAM_ALIGN (every tensor starts aligned)
const up = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Floats of the flat parameter buffer (model/layout.ts's total), in closed form: no per-layer loop. */
export function flatParamFloats(c: GPTConfig): number {
  const C = c.nEmbd;
  const perLayer = 6 * up(C) + up(3 * C) + up(4 * C) + up(3 * C * C) + up(C * C) + 2 * up(4 * C * C);
  return up(c.paddedVocabSize * C) + up(c.blockSize * C) + 2 * up(C) + c.nLayer * perLayer;
}

const fmtBytes = (b: number): string => {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i ? b.toPrecision(3) : b} ${units[i]}`;
};

/**
 * Activation floats of one micro-batch: the largest single buffer, and roughly all that backward
 * keeps (per layer about 18·C per token; attention is fused, so no T x T scores; the logits and
 * their gradient).
 */
function activationFloats(c: GPTConfig, B: number, T: number): { largest: number; total: number } {
  const C = c.nEmbd;
  const logits = B * T * c.paddedVocabSize;
  return { largest: Math.max(logits, B * T * 4 * C), total: c.nLayer * B * T * 18 * C + 3 * logits + 4 * B * T * C };
}

/**
 * Checks a model's size against an adapter before anything is allocated (or laid out: a million
 * layers must fail at once, not after minutes of building their tables). Returns null when it
 * fits, else a one-line message with the sizes and the largest nLayer that fits at this width.
 */
export function checkFits(c: GPTConfig, limits: BufferLimits, o: FitOptions = {}): string | null {
  const buffers = o.training ? 4 : 2; // weights + gradients (+ AdamW m and v)
  const T = o.T ?? c.blockSize;
  const paramBytesAt = (L: number): number => 4 * flatParamFloats({ ...c, nLayer: L });
  const actBytesAt = (L: number): number => (o.batch ? 4 * activationFloats({ ...c, nLayer: L }, o.batch, T).total : 0);
  const totalAt = (L: number): number => buffers * paramBytesAt(L) + actBytesAt(L);
  // Both are linear in nLayer: the largest nLayer under a byte budget, in closed form.
  const maxLayers = (f: (L: number) => number, budget: number): number => Math.floor((budget - f(0)) / (f(1) - f(0)));
  const hint = (L: number): string =>
    L >= 1
      ? `at most nLayer ${L} fits at this width`
      : 'even one layer does not fit: use a smaller nEmbd or vocabulary';
  const C = c.nEmbd;
  const paramBytes = paramBytesAt(c.nLayer);
  const largestParam = 4 * Math.max(c.paddedVocabSize * C, c.blockSize * C, 4 * C * C);
  const largestAct = o.batch ? 4 * activationFloats(c, o.batch, T).largest : 0;
  const what = `the model (nLayer ${c.nLayer}, nEmbd ${C}, vocabulary ${c.vocabSize}) has ${countParams(c).toLocaleString('en-US')} parameters`;
  const limit = (name: string, v: number) => `this adapter's ${name} (${fmtBytes(v)})`;
  if (paramBytes > limits.maxBufferSize)
    return `${what} (${fmtBytes(paramBytes)} in one buffer), more than ${limit('maxBufferSize', limits.maxBufferSize)}: ${hint(maxLayers(paramBytesAt, limits.maxBufferSize))}`;
  if (largestParam > limits.maxStorageBufferBindingSize)
    return `${what}: its largest tensor (${fmtBytes(largestParam)}) exceeds ${limit('maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize)}: use a smaller nEmbd or vocabulary`;
  if (largestAct > limits.maxStorageBufferBindingSize)
    return `${what}: a batch of ${o.batch} x ${T} tokens needs an activation of ${fmtBytes(largestAct)}, more than ${limit('maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize)}: use a smaller batchSize or blockSize`;
  const total = totalAt(c.nLayer);
  if (o.memoryBytes !== undefined && total > o.memoryBytes) {
    const act = actBytesAt(c.nLayer);
    const parts = `${buffers} x ${fmtBytes(paramBytes)} of parameter buffers${act ? ` + ${fmtBytes(act)} of activations` : ''}`;
    return `${what}: ${o.training ? 'training it' : 'it'} needs about ${fmtBytes(total)} (${parts}), more than the ${fmtBytes(o.memoryBytes)} of memory: ${hint(maxLayers(totalAt, o.memoryBytes))}`;
  }
  return null;
}
