// Specs and dispatch sizes for kernels/embedding.wgsl (token + position embedding, forward and
// deterministic scatter-add backward).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'embedding.wgsl');
const WG = 64;
const RPW = 4;
const LINK_WG = 64;
const params = [
  ['BT', 'u32'],
  ['T', 'u32'],
  ['Cw', 'u32'],
  ['V', 'u32'],
  ['n', 'u32'],
  ['row', 'u32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type EmbeddingVariant = 'vec4' | 'scalar';

const spec = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: `embedding.${entry}`,
  wgsl,
  entryPoint: entry,
  params,
  bindings,
  overrides: { WG, RPW, LINK_WG },
});
const both = (entry: string, bindings: KernelSpec['bindings']): Record<EmbeddingVariant, KernelSpec> => ({
  vec4: spec(`${entry}_vec4`, bindings),
  scalar: spec(`${entry}_scalar`, bindings),
});

export const embeddingForwardSpecs = both('embedding_forward', [
  ['out', 'rw'],
  ['inp', 'read'],
  ['wte', 'read'],
  ['wpe', 'read'],
]);
export const embeddingLookupSpecs = both('embedding_lookup', [
  ['out', 'rw'],
  ['inp', 'read'],
  ['wte', 'read'],
]);
export const embeddingLinkSpec = spec('embedding_backward_link', [
  ['links', 'rw'],
  ['inp', 'read'],
]);
export const embeddingWteSpecs = both('embedding_backward_wte', [
  ['dwte', 'rw'],
  ['dout', 'read'],
  ['inp', 'read'],
  ['links', 'read'],
]);
export const embeddingWpeSpecs = both('embedding_backward_wpe', [
  ['dwpe', 'rw'],
  ['dout', 'read'],
]);

export interface EmbeddingShape {
  B: number;
  T: number;
  C: number;
  V: number;
  /** vec4 whenever C % 4 == 0; set to force one (tests, benches). */
  variant?: EmbeddingVariant;
  /** Override constants of the row kernels (tests, benches): invocations per workgroup, rows per workgroup. */
  WG?: number;
  RPW?: number;
  /** Invocations per workgroup of the link kernel (each links 4 positions). */
  LINK_WG?: number;
}

function pick(s: EmbeddingShape): EmbeddingVariant {
  const v = s.variant ?? (s.C % 4 === 0 ? 'vec4' : 'scalar');
  if (v === 'vec4' && s.C % 4 !== 0) throw new Error(`embedding: the vec4 variant needs C % 4 == 0, got C=${s.C}`);
  return v;
}

/** A row kernel over `rows` rows: RPW rows per workgroup, on a 2-D grid of workgroups. */
function dispatchRows(
  rt: Runtime,
  k: KernelSpec,
  bindings: Record<string, Buf>,
  s: EmbeddingShape,
  Cw: number,
  rows: number,
): void {
  const wg = s.WG ?? WG;
  const rpw = s.RPW ?? RPW;
  const [x, y] = grid(rows, rpw);
  rt.dispatch(k, {
    bindings,
    params: { BT: s.B * s.T, T: s.T, Cw, V: s.V, n: rows, row: x },
    overrides: { WG: wg, RPW: rpw },
    workgroups: [x, y],
  });
}

/**
 * out[b, t, :] = wte[inp[b, t], :] + wpe[t, :]; without wpe, a plain lookup out = wte[inp].
 * inp: (B, T) i32; wte: (V, C); wpe: (>= T, C); out: (B, T, C). Ids outside [0, V) read a zero row.
 */
export function embeddingForward(rt: Runtime, b: { out: Buf; inp: Buf; wte: Buf; wpe?: Buf }, s: EmbeddingShape): void {
  const v = pick(s);
  const Cw = v === 'vec4' ? s.C / 4 : s.C;
  const rows = s.B * s.T;
  if (b.wpe)
    dispatchRows(rt, embeddingForwardSpecs[v], { out: b.out, inp: b.inp, wte: b.wte, wpe: b.wpe }, s, Cw, rows);
  else dispatchRows(rt, embeddingLookupSpecs[v], { out: b.out, inp: b.inp, wte: b.wte }, s, Cw, rows);
}

/**
 * dwte[inp[b, t], :] += dout[b, t, :] and dwpe[t, :] += Σ_b dout[b, t, :], both ACCUMULATING and
 * deterministic (repeated tokens are summed in position order; no atomics). dwpe is optional.
 * Three dispatches: link (O((B·T)²) id compares, fine up to B·T ≈ 16k), dwte, dwpe.
 * Ids outside [0, V) contribute nothing to dwte.
 */
export function embeddingBackward(
  rt: Runtime,
  b: { dwte: Buf; dwpe?: Buf; dout: Buf; inp: Buf },
  s: EmbeddingShape,
): void {
  const v = pick(s);
  const Cw = v === 'vec4' ? s.C / 4 : s.C;
  const BT = s.B * s.T;
  if (BT === 0) return;
  const linkWg = s.LINK_WG ?? LINK_WG;
  const links = rt.pool.acquire(BT * 8, 'embedding-links');
  // Released right away: the pool hands it out again only to later commands, which run after these.
  try {
    rt.dispatch(embeddingLinkSpec, {
      bindings: { links, inp: b.inp },
      params: { BT, T: s.T, Cw, V: s.V, n: BT, row: 0 },
      overrides: { LINK_WG: linkWg },
      workgroups: [Math.ceil(BT / (4 * linkWg))],
    });
    dispatchRows(rt, embeddingWteSpecs[v], { dwte: b.dwte, dout: b.dout, inp: b.inp, links }, s, Cw, BT);
  } finally {
    rt.pool.release(links);
  }
  if (b.dwpe) dispatchRows(rt, embeddingWpeSpecs[v], { dwpe: b.dwpe, dout: b.dout }, s, Cw, s.T);
}
