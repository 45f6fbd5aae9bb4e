// Small helpers for kernel tests: buffers in and out of the GPU, and poisoned outputs so that an
// element a kernel forgot to write reads as NaN (f32) or 0xDEADBEEF (integers) and fails.
import type { Runtime } from '../../kernels/gpu/runtime.ts';

export function upload(rt: Runtime, data: Float32Array | Int32Array | Uint32Array | Float64Array): GPUBuffer {
  const arr = data instanceof Float64Array ? Float32Array.from(data) : data;
  const buf = rt.pool.acquire(Math.max(4, arr.byteLength), 'test-input');
  rt.write(buf, 0, arr);
  return buf;
}

/** A pooled buffer filled with NaN bits, for a kernel's output. */
export function poisoned(rt: Runtime, elements: number, pattern = 0x7fc00000): GPUBuffer {
  const buf = rt.pool.acquire(Math.max(4, elements * 4), 'test-output');
  rt.write(buf, 0, new Uint32Array(Math.max(1, elements)).fill(pattern));
  return buf;
}

export async function readF32(
  rt: Runtime,
  buf: GPUBuffer,
  elements: number,
  offsetElements = 0,
): Promise<Float32Array> {
  return new Float32Array(await rt.read(buf, offsetElements * 4, elements * 4));
}

export async function readU32(rt: Runtime, buf: GPUBuffer, elements: number): Promise<Uint32Array> {
  return new Uint32Array(await rt.read(buf, 0, elements * 4));
}

/** Rounds float64 test data through f32 so that the reference sees exactly what the GPU sees. */
export function f32round(x: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(x));
}
