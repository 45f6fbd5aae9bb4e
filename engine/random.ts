// The engine's seeded generator is the kernel library's (kernels/random.ts), so that the kernel
// tests, the float64 reference, the engine, the model and the data pipeline draw from one Rng.
export { Rng, type RngAlgorithm, type RngState } from '../kernels/random.ts';
