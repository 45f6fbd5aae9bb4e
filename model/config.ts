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
