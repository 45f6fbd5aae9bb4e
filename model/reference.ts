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

/** Dimensions every function below shares. */
interface Dims {
  B: number;
  T: number;
  C: number;
  NH: number;
  HS: number;
  BT: number;
}

function dimsOf(layout: ParamLayout, B: number, T: number): Dims {
  const C = layout.config.nEmbd;
  const NH = layout.config.nHead;
  return { B, T, C, NH, HS: C / NH, BT: B * T };
}

/** inp (BT, IC) · w (IC, OC) + b, the only matmul shape the blocks use. */
function linear(
  out: Float64Array,
  inp: Float64Array,
  w: Float64Array,
  b: Float64Array,
  BT: number,
  OC: number,
  IC: number,
) {
  matmulForward(out, inp, w, b, 1, BT, OC, IC, false, false);
}

/** Gradients of linear: dinp (=), dw and db (+=). */
function linearBackward(
  dinp: Float64Array,
  dw: Float64Array,
  db: Float64Array,
  dout: Float64Array,
  inp: Float64Array,
  w: Float64Array,
  BT: number,
  OC: number,
  IC: number,
) {
  matmulBackward(dinp, dw, db, dout, inp, w, 1, BT, OC, IC, false, false);
}

function checkInputs(layout: ParamLayout, params: Float64Array, ids: Int32Array, d: Dims): void {
  const cfg = layout.config;
  if (params.length !== layout.total)
    throw new Error(`reference: params has ${params.length} elements, the layout ${layout.total}`);
  if (d.T > cfg.blockSize) throw new Error(`reference: T=${d.T} > blockSize=${cfg.blockSize}`);
  for (let i = 0; i < d.BT; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < cfg.vocabSize))
      throw new Error(`reference: token id ${id} at ${i} outside [0, ${cfg.vocabSize})`);
  }
}

function newActs(residual: Float64Array, { B, T, C, NH, BT }: Dims): LayerActs {
  const f = (n: number) => new Float64Array(n);
  return {
    residual,
    ln1: f(BT * C),
    ln1Mean: f(BT),
    ln1Rstd: f(BT),
    qkv: f(BT * 3 * C),
    q: f(BT * C),
    k: f(BT * C),
    v: f(BT * C),
    atty: f(BT * C),
    lse: f(B * NH * T),
    attyMerged: f(BT * C),
    attproj: f(BT * C),
    residual2: f(BT * C),
    ln2: f(BT * C),
    ln2Mean: f(BT),
    ln2Rstd: f(BT),
    fch: f(BT * 4 * C),
    fchGelu: f(BT * 4 * C),
    fcproj: f(BT * C),
  };
}

/** Block l: residual (B, T, C) → its activations and the block's output residual. */
function blockForward(
  p: (name: string) => Float64Array,
  l: number,
  residual: Float64Array,
  d: Dims,
): { a: LayerActs; next: Float64Array } {
  const { B, T, C, NH, HS, BT } = d;
  const h = `h.${l}.`;
  const a = newActs(residual, d);
  layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, residual, p(h + 'ln_1.weight'), p(h + 'ln_1.bias'), BT, C);
  linear(a.qkv, a.ln1, p(h + 'attn.c_attn.weight'), p(h + 'attn.c_attn.bias'), BT, 3 * C, C);
  splitHeads(a.qkv, a.q, a.k, a.v, B, T, NH, HS);
  attentionForward(a.atty, a.lse, a.q, a.k, a.v, B, NH, T, HS);
  mergeHeads(a.atty, a.attyMerged, B, T, NH, HS);
  linear(a.attproj, a.attyMerged, p(h + 'attn.c_proj.weight'), p(h + 'attn.c_proj.bias'), BT, C, C);
  for (let i = 0; i < BT * C; i++) a.residual2[i] = residual[i]! + a.attproj[i]!;
  layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.residual2, p(h + 'ln_2.weight'), p(h + 'ln_2.bias'), BT, C);
  linear(a.fch, a.ln2, p(h + 'mlp.c_fc.weight'), p(h + 'mlp.c_fc.bias'), BT, 4 * C, C);
  geluForward(a.fchGelu, a.fch, BT * 4 * C);
  linear(a.fcproj, a.fchGelu, p(h + 'mlp.c_proj.weight'), p(h + 'mlp.c_proj.bias'), BT, C, 4 * C);
  const next = new Float64Array(BT * C);
  for (let i = 0; i < BT * C; i++) next[i] = a.residual2[i]! + a.fcproj[i]!;
  return { a, next };
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
  const d = dimsOf(layout, B, T);
  const { C, BT } = d;
  const Vp = cfg.paddedVocabSize;
  checkInputs(layout, params, ids, d);
  const p = (name: string) => P(layout, params, name);

  let residual: Float64Array = new Float64Array(BT * C);
  encoderForward(residual, ids, p('wte.weight'), p('wpe.weight'), B, T, C);
  const layers: LayerActs[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const { a, next } = blockForward(p, l, residual, d);
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

/** (B, T, C) → (B, NH, T, HS): the transpose of mergeHeads. */
function unmergeHeads(dm: Float64Array, out: Float64Array, { B, T, C, NH, HS }: Dims): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let hh = 0; hh < NH; hh++) {
        const dst = ((b * NH + hh) * T + t) * HS;
        const src = (b * T + t) * C + hh * HS;
        for (let k = 0; k < HS; k++) out[dst + k] = dm[src + k]!;
      }
    }
  }
}

/** dq, dk, dv (B, NH, T, HS) → dqkv (B, T, 3C): the transpose of splitHeads. */
function joinHeads(dq: Float64Array, dk: Float64Array, dv: Float64Array, dqkv: Float64Array, d: Dims): void {
  const { B, T, C, NH, HS } = d;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const dst = (b * T + t) * 3 * C;
      for (let hh = 0; hh < NH; hh++) {
        const src = ((b * NH + hh) * T + t) * HS;
        for (let k = 0; k < HS; k++) {
          dqkv[dst + hh * HS + k] = dq[src + k]!;
          dqkv[dst + C + hh * HS + k] = dk[src + k]!;
          dqkv[dst + 2 * C + hh * HS + k] = dv[src + k]!;
        }
      }
    }
  }
}

type Lookup = (name: string) => Float64Array;

/**
 * Block l backward: dres (B, T, C) holds the gradient of the block's output on entry and of its
 * input on exit; each branch's layernorm backward adds into it (llm.c's in-place residual trick).
 */
function blockBackward(p: Lookup, g: Lookup, l: number, a: LayerActs, dres: Float64Array, d: Dims): void {
  const { B, T, C, NH, HS, BT } = d;
  const h = `h.${l}.`;
  // MLP branch: residual3 = residual2 + c_proj(gelu(c_fc(ln_2(residual2)))).
  const dfchGelu = new Float64Array(BT * 4 * C);
  const mp = h + 'mlp.c_proj.';
  linearBackward(dfchGelu, g(mp + 'weight'), g(mp + 'bias'), dres, a.fchGelu, p(mp + 'weight'), BT, C, 4 * C);
  const dfch = new Float64Array(BT * 4 * C);
  geluBackward(dfch, a.fch, dfchGelu, BT * 4 * C);
  const dln2 = new Float64Array(BT * C);
  const fc = h + 'mlp.c_fc.';
  linearBackward(dln2, g(fc + 'weight'), g(fc + 'bias'), dfch, a.ln2, p(fc + 'weight'), BT, 4 * C, C);
  const ln2 = h + 'ln_2.';
  layernormBackward(
    dres,
    g(ln2 + 'weight'),
    g(ln2 + 'bias'),
    dln2,
    a.residual2,
    p(ln2 + 'weight'),
    a.ln2Mean,
    a.ln2Rstd,
    BT,
    C,
  );
  // Attention branch: residual2 = residual + c_proj(attention(split(c_attn(ln_1(residual))))).
  const dattyMerged = new Float64Array(BT * C);
  const ap = h + 'attn.c_proj.';
  linearBackward(dattyMerged, g(ap + 'weight'), g(ap + 'bias'), dres, a.attyMerged, p(ap + 'weight'), BT, C, C);
  const datty = new Float64Array(BT * C);
  unmergeHeads(dattyMerged, datty, d);
  const [dq, dk, dv] = [0, 1, 2].map(() => new Float64Array(BT * C)) as [Float64Array, Float64Array, Float64Array];
  attentionBackward(dq, dk, dv, datty, a.q, a.k, a.v, a.atty, a.lse, B, NH, T, HS);
  const dqkv = new Float64Array(BT * 3 * C);
  joinHeads(dq, dk, dv, dqkv, d);
  const dln1 = new Float64Array(BT * C);
  const ca = h + 'attn.c_attn.';
  linearBackward(dln1, g(ca + 'weight'), g(ca + 'bias'), dqkv, a.ln1, p(ca + 'weight'), BT, 3 * C, C);
  const ln1 = h + 'ln_1.';
  layernormBackward(
    dres,
    g(ln1 + 'weight'),
    g(ln1 + 'bias'),
    dln1,
    a.residual,
    p(ln1 + 'weight'),
    a.ln1Mean,
    a.ln1Rstd,
    BT,
    C,
  );
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
  const { B, T, targets } = fwd;
  if (!targets) throw new Error('reference: backward needs the forward pass to have had targets');
  const grads = new Float64Array(layout.total);
  const dlnf = new Float64Array(B * T * layout.config.nEmbd);
  lmHeadBackward(layout, params, fwd, targets, grads, dlnf, ignoreIndex, 1);
  trunkBackward(layout, params, fwd, dlnf, grads);
  return grads;
}

/** The tied LM head's backward for a loss weighted by `weight`: adds into dlnf and grads' wte. */
function lmHeadBackward(
  layout: ParamLayout,
  params: Float64Array,
  fwd: RefForwardResult,
  targets: Int32Array,
  grads: Float64Array,
  dlnf: Float64Array,
  ignoreIndex: number,
  weight: number,
): void {
  const cfg = layout.config;
  const BT = fwd.B * fwd.T;
  const Vp = cfg.paddedVocabSize;
  const dlogits = new Float64Array(BT * Vp);
  crossEntropyBackward(dlogits, fwd.logits, targets, BT, cfg.vocabSize, Vp, ignoreIndex, weight);
  const dx = new Float64Array(BT * cfg.nEmbd);
  const wte = P(layout, params, 'wte.weight');
  matmulBackward(dx, P(layout, grads, 'wte.weight'), null, dlogits, fwd.lnf, wte, 1, BT, Vp, cfg.nEmbd, false, true);
  for (let i = 0; i < dx.length; i++) dlnf[i]! += dx[i]!;
}

/** From the gradient of ln_f's output down to the embeddings, accumulating into grads. */
function trunkBackward(
  layout: ParamLayout,
  params: Float64Array,
  fwd: RefForwardResult,
  dlnf: Float64Array,
  grads: Float64Array,
): void {
  const cfg = layout.config;
  const d = dimsOf(layout, fwd.B, fwd.T);
  const { B, T, C, BT } = d;
  const p = (name: string) => P(layout, params, name);
  const g = (name: string) => P(layout, grads, name);
  // dres is the gradient of the residual stream, flowing down through the blocks.
  const dres = new Float64Array(BT * C);
  const { lnfMean, lnfRstd, residualOut } = fwd;
  layernormBackward(
    dres,
    g('ln_f.weight'),
    g('ln_f.bias'),
    dlnf,
    residualOut,
    p('ln_f.weight'),
    lnfMean,
    lnfRstd,
    BT,
    C,
  );
  for (let l = cfg.nLayer - 1; l >= 0; l--) blockBackward(p, g, l, fwd.layers[l]!, dres, d);
  encoderBackward(g('wte.weight'), g('wpe.weight'), dres, fwd.ids, B, T, C);
}

export interface RefClassifyResult {
  /** Cross-entropy of the head's logits vs labels, plus lmWeight · the LM loss when targets were given. */
  loss: number;
  /** (B, nClasses) */
  logits: Float64Array;
  grads: Float64Array;
}

/**
 * The classification head (model/gpt.ts `classify`) in float64: score.weight · lnf[b, lastPos[b]] +
 * score.bias, mean cross-entropy against labels; with `targets`, an auxiliary LM loss weighted by
 * `lmWeight` (default 1) is added. Returns the loss, the class logits and every gradient.
 */
export function refClassifyLossAndGrads(
  layout: ParamLayout,
  params: Float64Array,
  batch: { ids: Int32Array; lastPos: Int32Array; labels: Int32Array; B: number; T: number },
  aux: { targets?: Int32Array; lmWeight?: number } = {},
): RefClassifyResult {
  const { B, T, lastPos, labels } = batch;
  const C = layout.config.nEmbd;
  const K = layout.config.nClasses ?? 0;
  if (K < 1) throw new Error('reference: the model has no classification head (nClasses is 0)');
  const fwd = refForward(layout, params, batch.ids, B, T, aux.targets ?? null);
  const feat = new Float64Array(B * C); // (B, C): each sequence's last real token
  for (let b = 0; b < B; b++)
    feat.set(fwd.lnf.subarray((b * T + lastPos[b]!) * C, (b * T + lastPos[b]! + 1) * C), b * C);
  const W = P(layout, params, 'score.weight');
  const logits = new Float64Array(B * K);
  matmulForward(logits, feat, W, P(layout, params, 'score.bias'), 1, B, K, C, false, true);
  const lmWeight = aux.lmWeight ?? 1;
  let loss = crossEntropyForward(new Float64Array(B), logits, labels, B, K, K, -1);
  if (fwd.loss !== null) loss += lmWeight * fwd.loss;

  const grads = new Float64Array(layout.total);
  const dlogits = new Float64Array(B * K);
  crossEntropyBackward(dlogits, logits, labels, B, K, K, -1, 1);
  const dfeat = new Float64Array(B * C);
  const g = (name: string) => P(layout, grads, name);
  matmulBackward(dfeat, g('score.weight'), g('score.bias'), dlogits, feat, W, 1, B, K, C, false, true);
  const dlnf = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) dlnf.set(dfeat.subarray(b * C, (b + 1) * C), (b * T + lastPos[b]!) * C);
  if (aux.targets) lmHeadBackward(layout, params, fwd, aux.targets, grads, dlnf, -1, lmWeight);
  trunkBackward(layout, params, fwd, dlnf, grads);
  return { loss, logits, grads };
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
