// Non-trivial f32 parameters for the model tests: matrices ~ N(0, std²), vectors (biases, layernorm
// affine) ~ N(0, (std / vectorDiv)²) around 1 for layernorm weights and 0 otherwise; the padded
// vocabulary rows of wte are zero, as the model keeps them. And the per-tensor gradient check the
// model tests share.
import * as E from '../../engine/index.ts';
import { assertClose } from '../../kernels/check.ts';
import type { ParamLayout } from '../../model/layout.ts';

export function randomParams(L: ParamLayout, seed: number, std = 0.1, vectorDiv = 2): Float32Array {
  const rng = new E.Rng(seed);
  const p = new Float32Array(L.total);
  for (const e of L.entries) {
    const v = p.subarray(e.offset, e.offset + e.size);
    const base = /ln_.*\.weight$/.test(e.name) ? 1 : 0;
    const s = e.shape.length === 2 ? std : std / vectorDiv;
    for (let i = 0; i < v.length; i++) v[i] = base + s * rng.normal();
    if (e.name === 'wte.weight') v.fill(0, L.config.vocabSize * L.config.nEmbd);
  }
  return p;
}

/** Each parameter tensor's gradient against the float64 reference's, one named check per tensor. */
export function assertGradsClose(L: ParamLayout, grads: Float32Array, refGrads: Float64Array): void {
  for (const e of L.entries)
    assertClose(
      grads.subarray(e.offset, e.offset + e.size),
      refGrads.subarray(e.offset, e.offset + e.size),
      'f32Chain',
      `grad ${e.name}`,
    );
}
