// Specs and dispatch sizes for kernels/residual.wgsl (out = inp1 + inp2, and its accumulating backward).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'residual.wgsl');
const params = [
  ['n', 'u32'],
  ['row', 'u32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type ResidualVariant = 'vec4' | 'scalar';

/** Override constants: WG invocations per workgroup, VPT items (vec4s or scalars) per invocation. */
export interface ResidualTuning {
  WG?: number;
  VPT?: number;
}

// Several items per invocation: on lavapipe the per-invocation overhead, not memory, limits a
// kernel this light (bench/dev/residual/NOTES.md); on a GPU a GPT-2 residual stream
// (B·T·C = 3.1M floats) still makes ~200k invocations.
const TUNING: Record<ResidualVariant, Required<ResidualTuning>> = {
  vec4: { WG: 256, VPT: 4 },
  scalar: { WG: 256, VPT: 8 },
};

const spec = (entry: string, v: ResidualVariant, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: `residual.${entry}`,
  wgsl,
  entryPoint: entry,
  params,
  bindings,
  overrides: TUNING[v],
});

export const residualForwardSpecs: Record<ResidualVariant, KernelSpec> = {
  vec4: spec('residual_forward_vec4', 'vec4', [
    ['out', 'rw'],
    ['inp1', 'read'],
    ['inp2', 'read'],
  ]),
  scalar: spec('residual_forward_scalar', 'scalar', [
    ['out', 'rw'],
    ['inp1', 'read'],
    ['inp2', 'read'],
  ]),
};
export const residualBackwardSpecs: Record<ResidualVariant, KernelSpec> = {
  vec4: spec('residual_backward_vec4', 'vec4', [
    ['dinp1', 'rw'],
    ['dinp2', 'rw'],
    ['dout', 'read'],
  ]),
  scalar: spec('residual_backward_scalar', 'scalar', [
    ['dinp1', 'rw'],
    ['dinp2', 'rw'],
    ['dout', 'read'],
  ]),
};

export interface ResidualShape extends ResidualTuning {
  n: number;
  /** vec4 whenever n % 4 == 0; set to force one (tests, benches). */
  variant?: ResidualVariant;
}

function dispatch(
  rt: Runtime,
  specs: Record<ResidualVariant, KernelSpec>,
  bindings: Record<string, Buf>,
  s: ResidualShape,
): void {
  const v = s.variant ?? (s.n % 4 === 0 ? 'vec4' : 'scalar');
  if (v === 'vec4' && s.n % 4 !== 0) throw new Error(`residual: the vec4 variant needs n % 4 == 0, got n=${s.n}`);
  const items = v === 'vec4' ? s.n / 4 : s.n;
  const WG = s.WG ?? TUNING[v].WG;
  const VPT = s.VPT ?? TUNING[v].VPT;
  const [x, y] = grid(items, WG * VPT);
  rt.dispatch(specs[v], { bindings, params: { n: items, row: x }, overrides: { WG, VPT }, workgroups: [x, y] });
}

/** out = inp1 + inp2 over n elements. */
export function residualForward(rt: Runtime, b: { out: Buf; inp1: Buf; inp2: Buf }, s: ResidualShape): void {
  dispatch(rt, residualForwardSpecs, b, s);
}

/**
 * dinp1 += dout; dinp2 += dout (ACCUMULATES). Usually not needed: the residual's backward is the
 * identity, so the engine passes dout to both branches without running any kernel.
 */
export function residualBackward(rt: Runtime, b: { dinp1: Buf; dinp2: Buf; dout: Buf }, s: ResidualShape): void {
  dispatch(rt, residualBackwardSpecs, b, s);
}
