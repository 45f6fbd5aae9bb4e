import { defineConfig } from 'vitest/config';

// lavapipe runs every GPU test on the CPU: one test file at a time keeps the two cores for the
// driver's own threads and keeps timings of long tests predictable. The long timeouts are for a
// cold Mesa shader cache: lavapipe compiles each pipeline to machine code (seconds for the large
// unrolled kernels); later runs load them from ~/.cache/mesa_shader_cache_db.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  },
});
