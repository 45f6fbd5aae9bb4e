import { defineConfig } from 'vitest/config';

// lavapipe runs every GPU test on the CPU: one test file at a time keeps the two cores for the
// driver's own threads and keeps timings of long tests predictable.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  },
});
