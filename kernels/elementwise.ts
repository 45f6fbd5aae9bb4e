// Specs and dispatch sizes for kernels/elementwise.wgsl (unary, broadcasting binary, accumulate, fill).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'elementwise.wgsl');
const WG = 256;

export const UNARY_OPS = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  relu: 5,
  pow: 6,
  addScalar: 7,
  mulScalar: 8,
  copy: 9,
} as const;
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, maskedFill: 4, reluBackward: 5, tanhBackward: 6 } as const;
export type UnaryOp = keyof typeof UNARY_OPS;
export type BinaryOp = keyof typeof BINARY_OPS;
export const MAX_RANK = 6;

const unaryParams = [
  ['n', 'u32'],
  ['s', 'f32'],
  ['row', 'u32'],
] as const;

export const unarySpec: KernelSpec = {
  name: 'elementwise.unary',
  wgsl,
  entryPoint: 'unary',
  params: unaryParams,
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG, OP: 0 },
};

const dims = (p: string) => Array.from({ length: MAX_RANK }, (_, i) => [`${p}${i}`, 'u32'] as const);
const binaryParams = [
  ['n', 'u32'],
  ['rank', 'u32'],
  ['row', 'u32'],
  ['value', 'f32'],
  ...dims('shape'),
  ...dims('sa'),
  ...dims('sb'),
] as const;

export const binarySpec: KernelSpec = {
  name: 'elementwise.binary',
  wgsl,
  entryPoint: 'binary',
  params: binaryParams,
  bindings: [
    ['a', 'read'],
    ['b', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG, OP: 0 },
};
export const binarySameSpec: KernelSpec = { ...binarySpec, name: 'elementwise.binary_same', entryPoint: 'binary_same' };

export const accumulateSpec: KernelSpec = {
  name: 'elementwise.accumulate',
  wgsl,
  entryPoint: 'accumulate',
  params: unaryParams,
  bindings: [
    ['src', 'read'],
    ['acc', 'rw'],
  ],
  overrides: { WG },
};

export const fillSpec: KernelSpec = {
  name: 'elementwise.fill',
  wgsl,
  entryPoint: 'fill',
  params: unaryParams,
  bindings: [['out', 'rw']],
  overrides: { WG },
};

type Buf = GPUBuffer | BufferRef;

function flat(n: number): { workgroups: [number, number]; row: number } {
  const [x, y] = grid(n, WG);
  return { workgroups: [x, y], row: x * WG };
}

export function unary(rt: Runtime, op: UnaryOp, b: { out: Buf; inp: Buf }, s: { n: number; scalar?: number }): void {
  const { workgroups, row } = flat(s.n);
  rt.dispatch(unarySpec, {
    bindings: b,
    params: { n: s.n, s: s.scalar ?? 0, row },
    overrides: { OP: UNARY_OPS[op] },
    workgroups,
  });
}

/**
 * out = a (op) b with broadcasting. `shape` is the output shape and `sa`/`sb` the element strides
 * of a and b per output dimension (0 where broadcast), all of rank <= MAX_RANK.
 */
export function binary(
  rt: Runtime,
  op: BinaryOp,
  b: { out: Buf; a: Buf; b: Buf },
  s: { shape: number[]; sa: number[]; sb: number[]; value?: number },
): void {
  const n = s.shape.reduce((x, y) => x * y, 1);
  const { workgroups, row } = flat(n);
  const params: Record<string, number> = { n, rank: s.shape.length, row, value: s.value ?? 0 };
  for (let d = 0; d < MAX_RANK; d++) {
    params[`shape${d}`] = s.shape[d] ?? 1;
    params[`sa${d}`] = s.sa[d] ?? 0;
    params[`sb${d}`] = s.sb[d] ?? 0;
  }
  const contiguous = (st: number[]) => {
    let expect = 1;
    for (let d = s.shape.length - 1; d >= 0; d--) {
      if (st[d] !== expect && s.shape[d] !== 1) return false;
      expect *= s.shape[d]!;
    }
    return true;
  };
  const spec = contiguous(s.sa) && contiguous(s.sb) ? binarySameSpec : binarySpec;
  rt.dispatch(spec, { bindings: b, params, overrides: { OP: BINARY_OPS[op] }, workgroups });
}

/** acc += scale · src over n elements. */
export function accumulate(rt: Runtime, b: { acc: Buf; src: Buf }, s: { n: number; scale?: number }): void {
  const { workgroups, row } = flat(s.n);
  rt.dispatch(accumulateSpec, { bindings: b, params: { n: s.n, s: s.scale ?? 1, row }, workgroups });
}

export function fill(rt: Runtime, b: { out: Buf }, s: { n: number; value: number }): void {
  const { workgroups, row } = flat(s.n);
  rt.dispatch(fillSpec, { bindings: b, params: { n: s.n, s: s.value, row }, workgroups });
}
