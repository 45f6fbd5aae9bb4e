// Specs and dispatch sizes for kernels/gelu.wgsl (GELU, tanh approximation, forward and backward).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'gelu.wgsl');
const params = [
  ['n', 'u32'],
  ['row', 'u32'],
] as const;

type Buf = GPUBuffer | BufferRef;
export type GeluVariant = 'vec4' | 'scalar';

/** Override constants: WG invocations per workgroup, VPT items (vec4s or scalars) per invocation. */
export interface GeluTuning {
  WG?: number;
  VPT?: number;
}

// Several items per invocation: on lavapipe the per-invocation overhead is what limits an
// elementwise kernel (VPT=4 vec4s ran 1.4x faster than 1 there, scalar VPT=8 1.8x); on a GPU a
// GPT-sized activation (B·T·4C = 12.6M floats) still makes ~800k invocations.
const TUNING: Record<GeluVariant, Required<GeluTuning>> = {
  vec4: { WG: 256, VPT: 4 },
  scalar: { WG: 256, VPT: 8 },
};

const spec = (entry: string, v: GeluVariant, bindings: KernelSpec['bindings']): KernelSpec => ({
  name: `gelu.${entry}`,
  wgsl,
  entryPoint: entry,
  params,
  bindings,
  overrides: TUNING[v],
});

export const geluForwardSpecs: Record<GeluVariant, KernelSpec> = {
  vec4: spec('gelu_forward_vec4', 'vec4', [
    ['out', 'rw'],
    ['inp', 'read'],
  ]),
  scalar: spec('gelu_forward_scalar', 'scalar', [
    ['out', 'rw'],
    ['inp', 'read'],
  ]),
};
export const geluBackwardSpecs: Record<GeluVariant, KernelSpec> = {
  vec4: spec('gelu_backward_vec4', 'vec4', [
    ['dinp', 'rw'],
    ['inp', 'read'],
    ['dout', 'read'],
  ]),
  scalar: spec('gelu_backward_scalar', 'scalar', [
    ['dinp', 'rw'],
    ['inp', 'read'],
    ['dout', 'read'],
  ]),
};

export interface GeluShape extends GeluTuning {
  n: number;
  /** vec4 whenever n % 4 == 0; set to force one (tests, benches). */
  variant?: GeluVariant;
}

function dispatch(
  rt: Runtime,
  specs: Record<GeluVariant, KernelSpec>,
  bindings: Record<string, Buf>,
  s: GeluShape,
): void {
  const v = s.variant ?? (s.n % 4 === 0 ? 'vec4' : 'scalar');
  if (v === 'vec4' && s.n % 4 !== 0) throw new Error(`gelu: the vec4 variant needs n % 4 == 0, got n=${s.n}`);
  const items = v === 'vec4' ? s.n / 4 : s.n;
  const WG = s.WG ?? TUNING[v].WG;
  const VPT = s.VPT ?? TUNING[v].VPT;
  const [x, y] = grid(items, WG * VPT);
  rt.dispatch(specs[v], { bindings, params: { n: items, row: x }, overrides: { WG, VPT }, workgroups: [x, y] });
}

/** out = gelu(inp), elementwise over n elements. */
export function geluForward(rt: Runtime, b: { out: Buf; inp: Buf }, s: GeluShape): void {
  dispatch(rt, geluForwardSpecs, b, s);
}

/** dinp = gelu'(inp) · dout over n elements. OVERWRITES dinp (does not accumulate). */
export function geluBackward(rt: Runtime, b: { dinp: Buf; inp: Buf; dout: Buf }, s: GeluShape): void {
  dispatch(rt, geluBackwardSpecs, b, s);
}
