// The float64 CPU reference of the GPT: the oracle the GPU model is tested against.
//
// Built only from the kernel references in kernels/reference.ts, in the style of llm.c's
// train_gpt2.c (flat arrays, shape comments, forward keeps every activation the backward needs,
// backward accumulates into one flat gradient array). It takes the SAME flat parameter layout as
// the GPU model (model/layout.ts), so a parameter array can be passed between them unchanged.
//
// No dropout: the reference is the model in eval mode (or with config.dropout = 0).
import {
  adamwStep,
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  encoderBackward,
  encoderForward,
  geluBackward,
  geluForward,
  globalNorm,
  layernormBackward,
  layernormForward,
  matmulBackward,
  matmulForward,
} from '../kernels/reference.ts';
import type { AdamWConfig } from '../kernels/adamw.ts';
import type { ParamLayout } from './layout.ts';

/** One tensor of a flat float64 array, by name. */
function P(layout: ParamLayout, flat: Float64Array, name: string): Float64Array {
  const s = layout.byName.get(name);
  if (!s) throw new Error(`reference: no parameter "${name}"`);
  return flat.subarray(s.offset, s.offset + s.size);
}

interface LayerActs {
  residual: Float64Array; // (B, T, C) input of the block
  ln1: Float64Array; // (B, T, C)
  ln1Mean: Float64Array; // (B, T)
  ln1Rstd: Float64Array; // (B, T)
  qkv: Float64Array; // (B, T, 3C)
  q: Float64Array; // (B, NH, T, HS)
  k: Float64Array;
  v: Float64Array;
  atty: Float64Array; // (B, NH, T, HS)
  lse: Float64Array; // (B, NH, T)
  attyMerged: Float64Array; // (B, T, C)
  attproj: Float64Array; // (B, T, C)
  residual2: Float64Array; // (B, T, C)
  ln2: Float64Array;
  ln2Mean: Float64Array;
  ln2Rstd: Float64Array;
  fch: Float64Array; // (B, T, 4C) pre-activation
  fchGelu: Float64Array; // (B, T, 4C)
  fcproj: Float64Array; // (B, T, C)
}

export interface RefForwardResult {
  B: number;
  T: number;
  ids: Int32Array;
  /** (B, T, Vp): padded columns included (they are x · 0 = 0 while the padded rows are zero). */
  logits: Float64Array;
  /** Mean cross-entropy over the non-ignored targets, or null without targets. */
  loss: number | null;
  targets: Int32Array | null;
  layers: LayerActs[];
  /** (B, T, C) output of the last block, input of ln_f. */
  residualOut: Float64Array;
  lnf: Float64Array;
  lnfMean: Float64Array;
  lnfRstd: Float64Array;
}

/** q/k/v of a (B, T, 3C) qkv row layout → three (B, NH, T, HS) arrays. */
function splitHeads(
  qkv: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  B: number,
  T: number,
  NH: number,
  HS: number,
): void {
  const C = NH * HS;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (b * T + t) * 3 * C;
      for (let h = 0; h < NH; h++) {
        const dst = ((b * NH + h) * T + t) * HS;
        for (let d = 0; d < HS; d++) {
          q[dst + d] = qkv[src + h * HS + d]!;
          k[dst + d] = qkv[src + C + h * HS + d]!;
          v[dst + d] = qkv[src + 2 * C + h * HS + d]!;
        }
      }
    }
  }
}

/** (B, NH, T, HS) → (B, T, C), the inverse permutation of splitHeads. */
function mergeHeads(y: Float64Array, out: Float64Array, B: number, T: number, NH: number, HS: number): void {
  const C = NH * HS;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const src = ((b * NH + h) * T + t) * HS;
        const dst = (b * T + t) * C + h * HS;
        for (let d = 0; d < HS; d++) out[dst + d] = y[src + d]!;
      }
    }
  }
}

/**
 * Forward pass: ids (B, T) → logits (B, T, Vp), and the mean loss when targets are given
 * (targets equal to ignoreIndex do not count).
 */
export function refForward(
  layout: ParamLayout,
  params: Float64Array,
  ids: Int32Array,
  B: number,
  T: number,
  targets?: Int32Array | null,
  ignoreIndex = -1,
): RefForwardResult {
  const cfg = layout.config;
  const C = cfg.nEmbd;
  const NH = cfg.nHead;
  const HS = C / NH;
  const Vp = cfg.paddedVocabSize;
  const BT = B * T;
  if (params.length !== layout.total)
    throw new Error(`reference: params has ${params.length} elements, the layout ${layout.total}`);
  if (T > cfg.blockSize) throw new Error(`reference: T=${T} > blockSize=${cfg.blockSize}`);
  for (let i = 0; i < BT; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < cfg.vocabSize))
      throw new Error(`reference: token id ${id} at ${i} outside [0, ${cfg.vocabSize})`);
  }
  const p = (name: string) => P(layout, params, name);

  let residual = new Float64Array(BT * C);
  encoderForward(residual, ids, p('wte.weight'), p('wpe.weight'), B, T, C);

  const layers: LayerActs[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const h = `h.${l}.`;
    const a: LayerActs = {
      residual,
      ln1: new Float64Array(BT * C),
      ln1Mean: new Float64Array(BT),
      ln1Rstd: new Float64Array(BT),
      qkv: new Float64Array(BT * 3 * C),
      q: new Float64Array(BT * C),
      k: new Float64Array(BT * C),
      v: new Float64Array(BT * C),
      atty: new Float64Array(BT * C),
      lse: new Float64Array(B * NH * T),
      attyMerged: new Float64Array(BT * C),
      attproj: new Float64Array(BT * C),
      residual2: new Float64Array(BT * C),
      ln2: new Float64Array(BT * C),
      ln2Mean: new Float64Array(BT),
      ln2Rstd: new Float64Array(BT),
      fch: new Float64Array(BT * 4 * C),
      fchGelu: new Float64Array(BT * 4 * C),
      fcproj: new Float64Array(BT * C),
    };
    layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, residual, p(h + 'ln_1.weight'), p(h + 'ln_1.bias'), BT, C);
    matmulForward(a.qkv, a.ln1, p(h + 'attn.c_attn.weight'), p(h + 'attn.c_attn.bias'), 1, BT, 3 * C, C, false, false);
    splitHeads(a.qkv, a.q, a.k, a.v, B, T, NH, HS);
    attentionForward(a.atty, a.lse, a.q, a.k, a.v, B, NH, T, HS);
    mergeHeads(a.atty, a.attyMerged, B, T, NH, HS);
    matmulForward(
      a.attproj,
      a.attyMerged,
      p(h + 'attn.c_proj.weight'),
      p(h + 'attn.c_proj.bias'),
      1,
      BT,
      C,
      C,
      false,
      false,
    );
    for (let i = 0; i < BT * C; i++) a.residual2[i] = residual[i]! + a.attproj[i]!;
    layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.residual2, p(h + 'ln_2.weight'), p(h + 'ln_2.bias'), BT, C);
    matmulForward(a.fch, a.ln2, p(h + 'mlp.c_fc.weight'), p(h + 'mlp.c_fc.bias'), 1, BT, 4 * C, C, false, false);
    geluForward(a.fchGelu, a.fch, BT * 4 * C);
    matmulForward(
      a.fcproj,
      a.fchGelu,
      p(h + 'mlp.c_proj.weight'),
      p(h + 'mlp.c_proj.bias'),
      1,
      BT,
      C,
      4 * C,
      false,
      false,
    );
    const next = new Float64Array(BT * C);
    for (let i = 0; i < BT * C; i++) next[i] = a.residual2[i]! + a.fcproj[i]!;
    layers.push(a);
    residual = next;
  }

  const lnf = new Float64Array(BT * C);
  const lnfMean = new Float64Array(BT);
  const lnfRstd = new Float64Array(BT);
  layernormForward(lnf, lnfMean, lnfRstd, residual, p('ln_f.weight'), p('ln_f.bias'), BT, C);
  // Tied LM head: logits = lnf · wteᵀ, wte stored (Vp, C).
  const logits = new Float64Array(BT * Vp);
  matmulForward(logits, lnf, p('wte.weight'), null, 1, BT, Vp, C, false, true);

  let loss: number | null = null;
  if (targets) {
    if (targets.length !== BT) throw new Error(`reference: ${targets.length} targets for B·T = ${BT}`);
    loss = crossEntropyForward(new Float64Array(BT), logits, targets, BT, cfg.vocabSize, Vp, ignoreIndex);
  }
  return { B, T, ids, logits, loss, targets: targets ?? null, layers, residualOut: residual, lnf, lnfMean, lnfRstd };
}

/**
 * Backward pass of the mean loss: the gradient of every parameter, in a new flat array with the
 * same layout (gaps zero). `ignoreIndex` must be the one given to refForward.
 */
export function refBackward(
  layout: ParamLayout,
  params: Float64Array,
  fwd: RefForwardResult,
  ignoreIndex = -1,
): Float64Array {
  const cfg = layout.config;
  const { B, T, targets } = fwd;
  if (!targets) throw new Error('reference: backward needs the forward pass to have had targets');
  const C = cfg.nEmbd;
  const NH = cfg.nHead;
  const HS = C / NH;
  const Vp = cfg.paddedVocabSize;
  const BT = B * T;
  const grads = new Float64Array(layout.total);
  const p = (name: string) => P(layout, params, name);
  const g = (name: string) => P(layout, grads, name);

  const dlogits = new Float64Array(BT * Vp);
  crossEntropyBackward(dlogits, fwd.logits, targets, BT, cfg.vocabSize, Vp, ignoreIndex, 1);
  const dlnf = new Float64Array(BT * C);
  matmulBackward(dlnf, g('wte.weight'), null, dlogits, fwd.lnf, p('wte.weight'), 1, BT, Vp, C, false, true);
  // dres is the gradient of the residual stream, flowing down through the blocks; each branch's
  // layernorm backward adds its contribution into it (llm.c's in-place residual trick).
  const dres = new Float64Array(BT * C);
  layernormBackward(
    dres,
    g('ln_f.weight'),
    g('ln_f.bias'),
    dlnf,
    fwd.residualOut,
    p('ln_f.weight'),
    fwd.lnfMean,
    fwd.lnfRstd,
    BT,
    C,
  );

  for (let l = cfg.nLayer - 1; l >= 0; l--) {
    const h = `h.${l}.`;
    const a = fwd.layers[l]!;
    // MLP branch: residual3 = residual2 + c_proj(gelu(c_fc(ln_2(residual2)))).
    const dfchGelu = new Float64Array(BT * 4 * C);
    matmulBackward(
      dfchGelu,
      g(h + 'mlp.c_proj.weight'),
      g(h + 'mlp.c_proj.bias'),
      dres,
      a.fchGelu,
      p(h + 'mlp.c_proj.weight'),
      1,
      BT,
      C,
      4 * C,
      false,
      false,
    );
    const dfch = new Float64Array(BT * 4 * C);
    geluBackward(dfch, a.fch, dfchGelu, BT * 4 * C);
    const dln2 = new Float64Array(BT * C);
    matmulBackward(
      dln2,
      g(h + 'mlp.c_fc.weight'),
      g(h + 'mlp.c_fc.bias'),
      dfch,
      a.ln2,
      p(h + 'mlp.c_fc.weight'),
      1,
      BT,
      4 * C,
      C,
      false,
      false,
    );
    layernormBackward(
      dres,
      g(h + 'ln_2.weight'),
      g(h + 'ln_2.bias'),
      dln2,
      a.residual2,
      p(h + 'ln_2.weight'),
      a.ln2Mean,
      a.ln2Rstd,
      BT,
      C,
    );
    // Attention branch: residual2 = residual + c_proj(attention(split(c_attn(ln_1(residual))))).
    const dattyMerged = new Float64Array(BT * C);
    matmulBackward(
      dattyMerged,
      g(h + 'attn.c_proj.weight'),
      g(h + 'attn.c_proj.bias'),
      dres,
      a.attyMerged,
      p(h + 'attn.c_proj.weight'),
      1,
      BT,
      C,
      C,
      false,
      false,
    );
    const datty = new Float64Array(BT * C);
    // (B, T, C) → (B, NH, T, HS): the transpose of mergeHeads.
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let hh = 0; hh < NH; hh++) {
          const dst = ((b * NH + hh) * T + t) * HS;
          const src = (b * T + t) * C + hh * HS;
          for (let d = 0; d < HS; d++) datty[dst + d] = dattyMerged[src + d]!;
        }
      }
    }
    const dq = new Float64Array(BT * C);
    const dk = new Float64Array(BT * C);
    const dv = new Float64Array(BT * C);
    attentionBackward(dq, dk, dv, datty, a.q, a.k, a.v, a.atty, a.lse, B, NH, T, HS);
    const dqkv = new Float64Array(BT * 3 * C);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const dst = (b * T + t) * 3 * C;
        for (let hh = 0; hh < NH; hh++) {
          const src = ((b * NH + hh) * T + t) * HS;
          for (let d = 0; d < HS; d++) {
            dqkv[dst + hh * HS + d] = dq[src + d]!;
            dqkv[dst + C + hh * HS + d] = dk[src + d]!;
            dqkv[dst + 2 * C + hh * HS + d] = dv[src + d]!;
          }
        }
      }
    }
    const dln1 = new Float64Array(BT * C);
    matmulBackward(
      dln1,
      g(h + 'attn.c_attn.weight'),
      g(h + 'attn.c_attn.bias'),
      dqkv,
      a.ln1,
      p(h + 'attn.c_attn.weight'),
      1,
      BT,
      3 * C,
      C,
      false,
      false,
    );
    layernormBackward(
      dres,
      g(h + 'ln_1.weight'),
      g(h + 'ln_1.bias'),
      dln1,
      a.residual,
      p(h + 'ln_1.weight'),
      a.ln1Mean,
      a.ln1Rstd,
      BT,
      C,
    );
  }
  encoderBackward(g('wte.weight'), g('wpe.weight'), dres, fwd.ids, B, T, C);
  return grads;
}

/** Loss and all gradients in one call. */
export function refLossAndGrads(
  layout: ParamLayout,
  params: Float64Array,
  ids: Int32Array,
  targets: Int32Array,
  B: number,
  T: number,
  ignoreIndex = -1,
): { loss: number; grads: Float64Array; logits: Float64Array } {
  const fwd = refForward(layout, params, ids, B, T, targets, ignoreIndex);
  return { loss: fwd.loss!, grads: refBackward(layout, params, fwd, ignoreIndex), logits: fwd.logits };
}

export interface RefAdamWOptions extends AdamWConfig {
  lr: number;
  /** Multiplier of the raw gradient (1/accumSteps). Default 1. */
  gradScale?: number;
}

/**
 * The optimizer of model/optimizer.ts in float64: norm = ‖gradScale·g‖, clip = min(1,
 * maxNorm/(norm + 1e-6)), then one AdamW step (decay on [0, decayEnd)) with gradient multiplier
 * gradScale·clip. Mutates params, m and v; returns the norm.
 */
export function refAdamWStep(
  layout: ParamLayout,
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  step: number,
  o: RefAdamWOptions,
): number {
  const gradScale = o.gradScale ?? 1;
  const norm = gradScale * globalNorm([grads]);
  const clip = o.maxNorm > 0 ? Math.min(1, o.maxNorm / (norm + 1e-6)) : 1;
  const decay = new Uint8Array(layout.total);
  decay.fill(1, 0, layout.decayEnd);
  adamwStep(params, grads, m, v, decay, layout.total, {
    lr: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    eps: o.eps,
    weightDecay: o.weightDecay,
    step,
    gradScale: gradScale * clip,
  });
  return norm;
}
