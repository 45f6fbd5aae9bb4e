// Float64 CPU reference for every GPU kernel: "the spec".
//
// Written in the style of llm.c's train_gpt2.c: plain loops, flat arrays, shape comments with the
// dimension letters B (batch), T (time), C (channels), NH (heads), HS (head size), V (vocabulary),
// Vp (padded vocabulary), OC (output channels). Nothing here is fast; everything here is meant to
// be obviously correct, so that a WGSL kernel disagreeing with it is the one that is wrong.
//
// Conventions (the same as llm.c, so that kernels can be ported against it line by line):
//  - the caller allocates every output array; functions never allocate their results;
//  - forward functions OVERWRITE their outputs;
//  - backward functions follow llm.c's rule (llmc/layernorm.cuh:1-10; kernels/README.md states it
//    for the GPU kernels too): PARAMETER gradients ACCUMULATE (+=), so that several uses of one
//    weight (a tied embedding) or several micro-batches add up; ACTIVATION gradients are
//    OVERWRITTEN (=), which is cheaper (no read) and needs no zeroing. The exception, as in llm.c,
//    is a gradient that flows into the residual stream, which is the sum of every branch's:
//    residualBackward's dinp1/dinp2 and layernormBackward's dinp accumulate (model/reference.ts
//    adds each block's layernorm gradient into the stream in place). Each backward's comment says
//    which of its outputs is which.
//  - token ids are Int32Array; everything else is Float64Array.
//
// Every backward here is checked against central finite differences in
// tests/reference/kernels-fd.test.ts.

const GELU_SCALING_FACTOR = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

function assertLength(name: string, arr: ArrayLike<unknown>, min: number): void {
  // Typed arrays read out of bounds as undefined -> NaN silently; fail loudly instead.
  if (arr.length < min) throw new Error(`${name}: length ${arr.length} < required ${min}`);
}

function assertBatch(name: string, b: number, batch: number): void {
  if (b !== 1 && b !== batch) throw new Error(`${name} must be 1 (broadcast) or batch=${batch}, got ${b}`);
}

// ----------------------------------------------------------------------------------------------
// matmul

/**
 * out[bt, m, n] = sum_k A[bt, m, k] * B[bt, k, n] + bias[n]
 *
 * out:  (batch, M, N)
 * a:    (batchA, M, K), or (batchA, K, M) when transA (A is then the transpose of what is stored)
 * b:    (batchB, K, N), or (batchB, N, K) when transB
 * bias: (N) or null
 * batchA / batchB are 1 (the same matrix is used for every batch, e.g. a weight) or batch.
 *
 * llm.c's matmul_forward (out = inp @ weight^T + bias, weight (OC, C)) is the case
 * batch=1, M=B*T, K=C, N=OC, transB=true.
 */
export function matmulForward(
  out: Float64Array,
  a: Float64Array,
  b: Float64Array,
  bias: Float64Array | null,
  batch: number,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  batchA: number = batch,
  batchB: number = batch,
): void {
  assertBatch('batchA', batchA, batch);
  assertBatch('batchB', batchB, batch);
  assertLength('out', out, batch * M * N);
  assertLength('a', a, batchA * M * K);
  assertLength('b', b, batchB * K * N);
  if (bias) assertLength('bias', bias, N);
  // Strides let one loop serve all four transpose combinations.
  const aSM = transA ? 1 : K;
  const aSK = transA ? M : 1;
  const bSK = transB ? 1 : N;
  const bSN = transB ? K : 1;
  for (let bt = 0; bt < batch; bt++) {
    const aOff = (batchA === 1 ? 0 : bt) * M * K;
    const bOff = (batchB === 1 ? 0 : bt) * K * N;
    const oOff = bt * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let val = bias ? bias[n]! : 0;
        for (let k = 0; k < K; k++) {
          val += a[aOff + m * aSM + k * aSK]! * b[bOff + k * bSK + n * bSN]!;
        }
        out[oOff + m * N + n] = val;
      }
    }
  }
}

/**
 * Gradients of matmulForward, with A the input (an activation: dA is OVERWRITTEN) and B the
 * weight (a parameter: dB and dbias ACCUMULATE), as in llm.c's matmul_backward(dinp, dweight, ...):
 *   dA[m, k]  = sum_n dout[m, n] * B[k, n]      (stored in A's layout, honouring transA)
 *   dB[k, n] += sum_m A[m, k] * dout[m, n]      (stored in B's layout, honouring transB)
 *   dbias[n] += sum_{bt, m} dout[bt, m, n]
 * When batchA (batchB) is 1 the single A (B) was used by every batch, so its gradient is the sum
 * over all batches. Any of da/db/dbias may be null when that gradient is not wanted.
 *
 * dout: (batch, M, N); da like a; db like b; dbias (N)
 */
export function matmulBackward(
  da: Float64Array | null,
  db: Float64Array | null,
  dbias: Float64Array | null,
  dout: Float64Array,
  a: Float64Array,
  b: Float64Array,
  batch: number,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  batchA: number = batch,
  batchB: number = batch,
): void {
  assertBatch('batchA', batchA, batch);
  assertBatch('batchB', batchB, batch);
  assertLength('dout', dout, batch * M * N);
  assertLength('a', a, batchA * M * K);
  assertLength('b', b, batchB * K * N);
  if (da) assertLength('da', da, batchA * M * K);
  if (db) assertLength('db', db, batchB * K * N);
  if (dbias) assertLength('dbias', dbias, N);
  // dA sums over the batches that shared A, so it is zeroed once, then added into.
  da?.fill(0, 0, batchA * M * K);
  const aSM = transA ? 1 : K;
  const aSK = transA ? M : 1;
  const bSK = transB ? 1 : N;
  const bSN = transB ? K : 1;
  for (let bt = 0; bt < batch; bt++) {
    const aOff = (batchA === 1 ? 0 : bt) * M * K;
    const bOff = (batchB === 1 ? 0 : bt) * K * N;
    const oOff = bt * M * N;
    if (da) {
      for (let m = 0; m < M; m++) {
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let n = 0; n < N; n++) s += dout[oOff + m * N + n]! * b[bOff + k * bSK + n * bSN]!;
          da[aOff + m * aSM + k * aSK]! += s;
        }
      }
    }
    if (db) {
      for (let k = 0; k < K; k++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let m = 0; m < M; m++) s += a[aOff + m * aSM + k * aSK]! * dout[oOff + m * N + n]!;
          db[bOff + k * bSK + n * bSN]! += s;
        }
      }
    }
    if (dbias) {
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) dbias[n]! += dout[oOff + m * N + n]!;
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------
// GELU (tanh approximation, as GPT-2 was trained with)

/** out[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x = inp[i]; inp, out: (N) */
export function geluForward(out: Float64Array, inp: Float64Array, N: number): void {
  assertLength('out', out, N);
  assertLength('inp', inp, N);
  for (let i = 0; i < N; i++) {
    const x = inp[i]!;
    const cube = GELU_CUBIC * x * x * x;
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALING_FACTOR * (x + cube)));
  }
}

/** dinp[i] = gelu'(inp[i]) * dout[i] (OVERWRITES dinp); dinp, inp, dout: (N) */
export function geluBackward(dinp: Float64Array, inp: Float64Array, dout: Float64Array, N: number): void {
  assertLength('dinp', dinp, N);
  assertLength('inp', inp, N);
  assertLength('dout', dout, N);
  for (let i = 0; i < N; i++) {
    const x = inp[i]!;
    const tanhOut = Math.tanh(GELU_SCALING_FACTOR * (x + GELU_CUBIC * x * x * x));
    // sech^2 = 1 - tanh^2 instead of llm.c's 1/cosh^2: cosh overflows to Infinity for |arg| > ~710,
    // and there the term is multiplied by x anyway, so both give 0 but this one never forms Inf.
    const sech2 = 1 - tanhOut * tanhOut;
    // Where sech^2 underflows to 0, x^2 may have overflowed to Inf; 0 * Inf would be NaN.
    const tail = sech2 === 0 ? 0 : x * 0.5 * sech2 * GELU_SCALING_FACTOR * (1 + 3 * GELU_CUBIC * x * x);
    const localGrad = 0.5 * (1 + tanhOut) + tail;
    dinp[i] = localGrad * dout[i]!;
  }
}

// ----------------------------------------------------------------------------------------------
// softmax / log-softmax over the last axis

/** out[n, :] = softmax(inp[n, :]); inp, out: (N, C). Subtracts the row max so exp never overflows. */
export function softmaxForward(out: Float64Array, inp: Float64Array, N: number, C: number): void {
  assertLength('out', out, N * C);
  assertLength('inp', inp, N * C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let maxv = -Infinity;
    for (let c = 0; c < C; c++) maxv = Math.max(maxv, inp[o + c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(inp[o + c]! - maxv);
      out[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < C; c++) out[o + c]! /= sum;
  }
}

/** dinp[n, c] = out[n, c] * (dout[n, c] - sum_j dout[n, j] out[n, j]) (OVERWRITES dinp); all (N, C). Uses the forward output, not the input. */
export function softmaxBackward(dinp: Float64Array, dout: Float64Array, out: Float64Array, N: number, C: number): void {
  assertLength('dinp', dinp, N * C);
  assertLength('dout', dout, N * C);
  assertLength('out', out, N * C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dout[o + c]! * out[o + c]!;
    for (let c = 0; c < C; c++) dinp[o + c] = out[o + c]! * (dout[o + c]! - dot);
  }
}

/** out[n, c] = inp[n, c] - logsumexp(inp[n, :]); inp, out: (N, C) */
export function logSoftmaxForward(out: Float64Array, inp: Float64Array, N: number, C: number): void {
  assertLength('out', out, N * C);
  assertLength('inp', inp, N * C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let maxv = -Infinity;
    for (let c = 0; c < C; c++) maxv = Math.max(maxv, inp[o + c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(inp[o + c]! - maxv);
    const lse = maxv + Math.log(sum);
    for (let c = 0; c < C; c++) out[o + c] = inp[o + c]! - lse;
  }
}

/** dinp[n, c] = dout[n, c] - exp(out[n, c]) * sum_j dout[n, j] (OVERWRITES dinp); all (N, C). `out` is the log-softmax output. */
export function logSoftmaxBackward(
  dinp: Float64Array,
  dout: Float64Array,
  out: Float64Array,
  N: number,
  C: number,
): void {
  assertLength('dinp', dinp, N * C);
  assertLength('dout', dout, N * C);
  assertLength('out', out, N * C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += dout[o + c]!;
    for (let c = 0; c < C; c++) dinp[o + c] = dout[o + c]! - Math.exp(out[o + c]!) * sum;
  }
}

// ----------------------------------------------------------------------------------------------
// layernorm

/**
 * out[n, :] = (inp[n, :] - mean[n]) * rstd[n] * weight + bias, with the biased variance (/C) as in
 * PyTorch's LayerNorm. mean and rstd are saved for the backward pass.
 *
 * out, inp: (N, C); mean, rstd: (N); weight, bias: (C)
 */
export function layernormForward(
  out: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  inp: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  N: number,
  C: number,
  eps: number = 1e-5,
): void {
  assertLength('out', out, N * C);
  assertLength('mean', mean, N);
  assertLength('rstd', rstd, N);
  assertLength('inp', inp, N * C);
  assertLength('weight', weight, C);
  assertLength('bias', bias, C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[o + c]!;
    m /= C;
    // Two-pass variance: the one-pass E[x^2]-E[x]^2 cancels catastrophically when |mean| >> std.
    let v = 0;
    for (let c = 0; c < C; c++) {
      const xm = inp[o + c]! - m;
      v += xm * xm;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) {
      out[o + c] = (inp[o + c]! - m) * s * weight[c]! + bias[c]!;
    }
    mean[n] = m;
    rstd[n] = s;
  }
}

/**
 * Gradients of layernormForward (llm.c's layernorm_backward). All three ACCUMULATE: dweight and
 * dbias are parameter gradients, and dinp flows into the residual stream (the rule's exception;
 * the GPU kernel overwrites dinp and lets autograd sum the stream):
 *   norm = (x - mean) * rstd, dnorm = weight * dout
 *   dbias += dout, dweight += norm * dout
 *   dinp += rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm))
 *
 * dinp, dout, inp: (N, C); dweight, dbias, weight: (C); mean, rstd: (N) from the forward pass
 */
export function layernormBackward(
  dinp: Float64Array,
  dweight: Float64Array,
  dbias: Float64Array,
  dout: Float64Array,
  inp: Float64Array,
  weight: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  N: number,
  C: number,
): void {
  assertLength('dinp', dinp, N * C);
  assertLength('dweight', dweight, C);
  assertLength('dbias', dbias, C);
  assertLength('dout', dout, N * C);
  assertLength('inp', inp, N * C);
  assertLength('weight', weight, C);
  assertLength('mean', mean, N);
  assertLength('rstd', rstd, N);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const m = mean[n]!;
    const s = rstd[n]!;
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const norm = (inp[o + c]! - m) * s;
      const dnorm = weight[c]! * dout[o + c]!;
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = (inp[o + c]! - m) * s;
      const dnorm = weight[c]! * dout[o + c]!;
      dbias[c]! += dout[o + c]!;
      dweight[c]! += norm * dout[o + c]!;
      dinp[o + c]! += (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}

// ----------------------------------------------------------------------------------------------
// causal self-attention

/**
 * Causal scaled-dot-product attention for one already-split q, k, v (no projections):
 *   S[i, j] = (q_i . k_j) / sqrt(HS) for j <= i (j > i masked out)
 *   lse[i]  = log sum_{j<=i} exp(S[i, j])          (natural log)
 *   out_i   = sum_{j<=i} exp(S[i, j] - lse[i]) v_j
 * lse is what a FlashAttention-style kernel keeps instead of the (T, T) probability matrix.
 *
 * out, q, k, v: (B, NH, T, HS); lse: (B, NH, T)
 */
export function attentionForward(
  out: Float64Array,
  lse: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  B: number,
  NH: number,
  T: number,
  HS: number,
): void {
  const size = B * NH * T * HS;
  assertLength('out', out, size);
  assertLength('lse', lse, B * NH * T);
  assertLength('q', q, size);
  assertLength('k', k, size);
  assertLength('v', v, size);
  const scale = 1 / Math.sqrt(HS);
  const scores = new Float64Array(T);
  for (let bh = 0; bh < B * NH; bh++) {
    const base = bh * T * HS;
    for (let i = 0; i < T; i++) {
      const qi = base + i * HS;
      let maxv = -Infinity;
      for (let j = 0; j <= i; j++) {
        const kj = base + j * HS;
        let dot = 0;
        for (let h = 0; h < HS; h++) dot += q[qi + h]! * k[kj + h]!;
        const sc = dot * scale;
        scores[j] = sc;
        if (sc > maxv) maxv = sc;
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += Math.exp(scores[j]! - maxv);
      const l = maxv + Math.log(sum);
      lse[bh * T + i] = l;
      const oi = base + i * HS;
      for (let h = 0; h < HS; h++) out[oi + h] = 0;
      for (let j = 0; j <= i; j++) {
        const p = Math.exp(scores[j]! - l);
        const vj = base + j * HS;
        for (let h = 0; h < HS; h++) out[oi + h]! += p * v[vj + h]!;
      }
    }
  }
}

/**
 * Gradients of attentionForward, OVERWRITTEN (q, k, v are activations), with FlashAttention-2's
 * backward math: the
 * probabilities are recomputed from lse rather than stored, and the softmax Jacobian is applied
 * through D_i = sum_h dout[i, h] * out[i, h] (= sum_j P[i, j] dP[i, j]):
 *   P[i, j]  = exp(S[i, j] - lse[i])                 (j <= i)
 *   dv_j    += sum_i P[i, j] dout_i
 *   dP[i, j] = dout_i . v_j
 *   dS[i, j] = P[i, j] (dP[i, j] - D_i)
 *   dq_i    += scale * sum_j dS[i, j] k_j
 *   dk_j    += scale * sum_i dS[i, j] q_i
 *
 * dq, dk, dv, dout, q, k, v, out: (B, NH, T, HS); lse: (B, NH, T)
 */
export function attentionBackward(
  dq: Float64Array,
  dk: Float64Array,
  dv: Float64Array,
  dout: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  out: Float64Array,
  lse: Float64Array,
  B: number,
  NH: number,
  T: number,
  HS: number,
): void {
  const size = B * NH * T * HS;
  for (const [name, arr] of [
    ['dq', dq],
    ['dk', dk],
    ['dv', dv],
    ['dout', dout],
    ['q', q],
    ['k', k],
    ['v', v],
    ['out', out],
  ] as const) {
    assertLength(name, arr, size);
  }
  assertLength('lse', lse, B * NH * T);
  // Each of dq, dk, dv sums over many (i, j) pairs: zeroed once, then added into.
  for (const d of [dq, dk, dv]) d.fill(0, 0, size);
  const scale = 1 / Math.sqrt(HS);
  for (let bh = 0; bh < B * NH; bh++) {
    const base = bh * T * HS;
    for (let i = 0; i < T; i++) {
      const qi = base + i * HS;
      let D = 0;
      for (let h = 0; h < HS; h++) D += dout[qi + h]! * out[qi + h]!;
      const l = lse[bh * T + i]!;
      for (let j = 0; j <= i; j++) {
        const kj = base + j * HS;
        let dot = 0;
        for (let h = 0; h < HS; h++) dot += q[qi + h]! * k[kj + h]!;
        const p = Math.exp(dot * scale - l);
        let dp = 0;
        for (let h = 0; h < HS; h++) {
          dv[kj + h]! += p * dout[qi + h]!;
          dp += dout[qi + h]! * v[kj + h]!;
        }
        const ds = p * (dp - D) * scale;
        for (let h = 0; h < HS; h++) {
          dq[qi + h]! += ds * k[kj + h]!;
          dk[kj + h]! += ds * q[qi + h]!;
        }
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------
// cross-entropy

function checkTarget(t: number, n: number, V: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= V) {
    throw new Error(`crossEntropy: target ${t} at row ${n} outside [0, ${V}) and not ignoreIndex`);
  }
}

/**
 * losses[n] = logsumexp(logits[n, 0:V]) - logits[n, targets[n]], or 0 where targets[n] == ignoreIndex.
 * Columns V..Vp-1 are vocabulary padding (kept so that Vp is a friendly multiple for the matmul)
 * and take no part in the softmax. Returns the mean loss over the non-ignored rows, 0 if none
 * (PyTorch would return NaN there; 0 keeps an all-padding micro-batch from poisoning training).
 *
 * losses: (N); logits: (N, Vp); targets: (N)
 */
export function crossEntropyForward(
  losses: Float64Array,
  logits: Float64Array,
  targets: Int32Array,
  N: number,
  V: number,
  Vp: number,
  ignoreIndex: number = -1,
): number {
  if (Vp < V) throw new Error(`crossEntropy: Vp=${Vp} < V=${V}`);
  assertLength('losses', losses, N);
  assertLength('logits', logits, N * Vp);
  assertLength('targets', targets, N);
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) {
      losses[n] = 0;
      continue;
    }
    checkTarget(t, n, V);
    const o = n * Vp;
    let maxv = -Infinity;
    for (let i = 0; i < V; i++) maxv = Math.max(maxv, logits[o + i]!);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i]! - maxv);
    const loss = maxv + Math.log(sum) - logits[o + t]!;
    losses[n] = loss;
    total += loss;
    count++;
  }
  return count > 0 ? total / count : 0;
}

/**
 * Gradient of the MEAN loss returned by crossEntropyForward, OVERWRITING dlogits (an activation):
 *   dlogits[n, i] = dloss * (softmax(logits[n, 0:V])[i] - [i == targets[n]]) / count   (i < V)
 * where count is the number of non-ignored rows. Padded columns (i >= V) and ignored rows get 0,
 * so a kernel that writes garbage there is caught.
 *
 * dlogits, logits: (N, Vp); targets: (N); dloss: scalar
 */
export function crossEntropyBackward(
  dlogits: Float64Array,
  logits: Float64Array,
  targets: Int32Array,
  N: number,
  V: number,
  Vp: number,
  ignoreIndex: number,
  dloss: number,
): void {
  if (Vp < V) throw new Error(`crossEntropy: Vp=${Vp} < V=${V}`);
  assertLength('dlogits', dlogits, N * Vp);
  assertLength('logits', logits, N * Vp);
  assertLength('targets', targets, N);
  dlogits.fill(0, 0, N * Vp);
  let count = 0;
  for (let n = 0; n < N; n++) if (targets[n]! !== ignoreIndex) count++;
  if (count === 0) return;
  const scale = dloss / count;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) continue;
    checkTarget(t, n, V);
    const o = n * Vp;
    let maxv = -Infinity;
    for (let i = 0; i < V; i++) maxv = Math.max(maxv, logits[o + i]!);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i]! - maxv);
    for (let i = 0; i < V; i++) {
      const p = Math.exp(logits[o + i]! - maxv) / sum;
      dlogits[o + i] = scale * (p - (i === t ? 1 : 0));
    }
  }
}

// ----------------------------------------------------------------------------------------------
// encoder (token + position embedding)

/**
 * out[b, t, :] = wte[inp[b, t], :] + wpe[t, :]
 * out: (B, T, C); inp: (B, T); wte: (V, C); wpe: (maxT, C) with maxT >= T
 */
export function encoderForward(
  out: Float64Array,
  inp: Int32Array,
  wte: Float64Array,
  wpe: Float64Array,
  B: number,
  T: number,
  C: number,
): void {
  assertLength('out', out, B * T * C);
  assertLength('inp', inp, B * T);
  assertLength('wpe', wpe, T * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ix = inp[b * T + t]!;
      if (ix < 0 || (ix + 1) * C > wte.length) throw new Error(`encoder: token id ${ix} out of range`);
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) out[o + c] = wte[ix * C + c]! + wpe[t * C + c]!;
    }
  }
}

/**
 * dwte[inp[b, t], :] += dout[b, t, :]; dwpe[t, :] += dout[b, t, :], both ACCUMULATING (parameter
 * gradients; the tied wte also receives the LM head's matmul gradient). Repeated token ids sum, which
 * is exactly the scatter-add a GPU kernel must get right (atomics or a deterministic reduction).
 * dwte: (V, C); dwpe: (maxT, C); dout: (B, T, C); inp: (B, T)
 */
export function encoderBackward(
  dwte: Float64Array,
  dwpe: Float64Array,
  dout: Float64Array,
  inp: Int32Array,
  B: number,
  T: number,
  C: number,
): void {
  assertLength('dout', dout, B * T * C);
  assertLength('inp', inp, B * T);
  assertLength('dwpe', dwpe, T * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ix = inp[b * T + t]!;
      if (ix < 0 || (ix + 1) * C > dwte.length) throw new Error(`encoder: token id ${ix} out of range`);
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        dwte[ix * C + c]! += dout[o + c]!;
        dwpe[t * C + c]! += dout[o + c]!;
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------
// residual

/** out[i] = inp1[i] + inp2[i]; all (N) */
export function residualForward(out: Float64Array, inp1: Float64Array, inp2: Float64Array, N: number): void {
  assertLength('out', out, N);
  assertLength('inp1', inp1, N);
  assertLength('inp2', inp2, N);
  for (let i = 0; i < N; i++) out[i] = inp1[i]! + inp2[i]!;
}

/** dinp1[i] += dout[i]; dinp2[i] += dout[i] (ACCUMULATES: the residual stream, the rule's exception); all (N) */
export function residualBackward(dinp1: Float64Array, dinp2: Float64Array, dout: Float64Array, N: number): void {
  assertLength('dinp1', dinp1, N);
  assertLength('dinp2', dinp2, N);
  assertLength('dout', dout, N);
  for (let i = 0; i < N; i++) {
    dinp1[i]! += dout[i]!;
    dinp2[i]! += dout[i]!;
  }
}

// ----------------------------------------------------------------------------------------------
// dropout (the mask comes from the GPU's RNG; the reference only applies it)

/** out[i] = inp[i] * mask[i], mask[i] in {0, 1/(1-p)} (already scaled); all (N) */
export function dropoutForward(out: Float64Array, mask: Float64Array, inp: Float64Array, N: number): void {
  assertLength('out', out, N);
  assertLength('mask', mask, N);
  assertLength('inp', inp, N);
  for (let i = 0; i < N; i++) out[i] = inp[i]! * mask[i]!;
}

/** dinp[i] = dout[i] * mask[i] (OVERWRITES dinp); all (N) */
export function dropoutBackward(dinp: Float64Array, mask: Float64Array, dout: Float64Array, N: number): void {
  assertLength('dinp', dinp, N);
  assertLength('mask', mask, N);
  assertLength('dout', dout, N);
  for (let i = 0; i < N; i++) dinp[i] = dout[i]! * mask[i]!;
}

// ----------------------------------------------------------------------------------------------
// optimizer

/** sqrt(sum over all tensors of sum_i g[i]^2): the norm gradient clipping compares to maxNorm. */
export function globalNorm(grads: Float64Array[]): number {
  let ss = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  }
  return Math.sqrt(ss);
}

/** The AdamW hyperparameters less clipping, which the caller folds into gradScale. */
export interface AdamWOptions extends Omit<import('./adamw.ts').AdamWConfig, 'maxNorm'> {
  lr: number;
  /** 1-based step count, used for bias correction */
  step: number;
  /** multiplier applied to the gradient before it enters the moments, e.g. min(1, maxNorm/norm) */
  gradScale: number;
}

/**
 * One AdamW step, in place on params, m and v, with PyTorch's torch.optim.AdamW order
 * (non-amsgrad, non-fused path of _single_tensor_adamw):
 *   g      = grad * gradScale
 *   param *= 1 - lr * wd                      (decoupled decay, BEFORE the Adam update,
 *                                              only where decay[i] is set)
 *   m      = beta1 * m + (1 - beta1) * g
 *   v      = beta2 * v + (1 - beta2) * g^2
 *   mhat   = m / (1 - beta1^step);  vhat = v / (1 - beta2^step)
 *   param -= lr * mhat / (sqrt(vhat) + eps)
 * Since the Adam term does not depend on param, this equals
 *   param -= lr * (mhat / (sqrt(vhat) + eps) + wd * param_old),
 * i.e. llm.c's formula; eps is added to sqrt(vhat) (bias-corrected), as in PyTorch, not to sqrt(v).
 *
 * params, grads, m, v: (N); decay: (N), 1 = apply weight decay (GPT-2 decays matmul weights only)
 */
export function adamwStep(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  decay: Uint8Array | boolean[],
  N: number,
  opts: AdamWOptions,
): void {
  assertLength('params', params, N);
  assertLength('grads', grads, N);
  assertLength('m', m, N);
  assertLength('v', v, N);
  assertLength('decay', decay, N);
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = opts;
  if (!(step >= 1)) throw new Error(`adamw: step is 1-based, got ${step}`);
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < N; i++) {
    const g = grads[i]! * gradScale;
    let p = params[i]!;
    if (decay[i]) p *= 1 - lr * weightDecay;
    const mi = beta1 * m[i]! + (1 - beta1) * g;
    const vi = beta2 * v[i]! + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const mhat = mi / bc1;
    const vhat = vi / bc2;
    params[i] = p - lr * (mhat / (Math.sqrt(vhat) + eps));
  }
}
