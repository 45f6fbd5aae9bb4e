// The engine's public surface.
export * from './tensor.ts';
export * from './create.ts';
export * from './ops.ts';
export * from './decode.ts';
export { backward, zeroGrad } from './autograd.ts';
export { Rng } from './random.ts';
export { getRuntime, destroyRuntime, Runtime, WebGPUError, type RuntimeOptions } from '../kernels/gpu/runtime.ts';
