// Creating tensors: constants on the GPU (fill kernel), host arrays uploaded once, and seeded
// random tensors drawn on the host so that a seed means the same numbers on every adapter.
import { fill } from '../kernels/elementwise.ts';
import { Rng } from './random.ts';
import { empty, fmtShape, runtime, shapeSize, type DType, type Shape, Tensor } from './tensor.ts';

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const t = empty(shape, dtype);
  if (t.size === 0) return t;
  // Integer tensors are filled by bit pattern through the f32 fill.
  let v = value;
  if (dtype !== 'f32') {
    const bits = dtype === 'i32' ? new Int32Array([value]) : new Uint32Array([value]);
    v = new Float32Array(bits.buffer)[0]!;
    if (Number.isNaN(v)) {
      // NaN payloads may not survive a float uniform: write from the host instead.
      runtime().write(t.buffer, 0, (dtype === 'i32' ? new Int32Array(t.size) : new Uint32Array(t.size)).fill(value));
      return t;
    }
  }
  fill(runtime(), { out: t.ref() }, { n: t.size, value: v });
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'f32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32'): Tensor => full(shape, 1, dtype);

type HostArray = ArrayLike<number> | Float32Array | Int32Array | Uint32Array | Float64Array;

/** Uploads host data. The shape defaults to 1-D; the dtype to the array's (f32 for plain arrays). */
export function fromArray(data: HostArray, shape?: Shape, dtype?: DType): Tensor {
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  const s = shape ?? [data.length];
  if (shapeSize(s) !== data.length)
    throw new Error(`fromArray: ${data.length} values do not fill shape ${fmtShape(s)}`);
  const arr = dt === 'f32' ? Float32Array.from(data) : dt === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
  if (dt !== 'f32') {
    for (let i = 0; i < data.length; i++) {
      if (arr[i] !== data[i]) throw new Error(`fromArray: value ${data[i]} at [${i}] is not a valid ${dt}`);
    }
  }
  const t = empty(s, dt);
  if (arr.length > 0) runtime().write(t.buffer, 0, arr);
  return t;
}

export function scalar(value: number): Tensor {
  return fromArray([value], []);
}

export function arange(n: number, dtype: DType = 'f32'): Tensor {
  return fromArray(
    Array.from({ length: n }, (_, i) => i),
    [n],
    dtype,
  );
}

export function randn(shape: Shape, opts: { seed?: number; mean?: number; std?: number } = {}): Tensor {
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.std ?? 1;
  const mean = opts.mean ?? 0;
  const a = new Float32Array(shapeSize(shape));
  for (let i = 0; i < a.length; i++) a[i] = mean + std * rng.normal();
  return fromArray(a, shape);
}

export function uniform(shape: Shape, opts: { seed?: number; low?: number; high?: number } = {}): Tensor {
  const rng = new Rng(opts.seed ?? 0);
  const low = opts.low ?? 0;
  const high = opts.high ?? 1;
  const a = new Float32Array(shapeSize(shape));
  for (let i = 0; i < a.length; i++) a[i] = low + (high - low) * rng.uniform();
  return fromArray(a, shape);
}
