import { defineConfig } from 'vitest/config';

// Two test files run at once. On lavapipe every GPU test runs on the CPU, and a cold Mesa shader
// cache (a fresh machine) makes pipeline creation dominate: lavapipe compiles each pipeline to
// machine code on one thread (seconds, up to ~90 s for the largest unrolled attention kernel),
// so a second worker uses the other core. Measured on the 2-core machine: cold cache 7.7 min
// against 11.9 min one file at a time, warm cache 45 s against 68 s. Later runs load the compiled
// pipelines from ~/.cache/mesa_shader_cache_db. The long timeouts are for that cold cache.
// No test asserts a time, so sharing the cores changes durations only.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 900_000,
    hookTimeout: 900_000,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  },
});
