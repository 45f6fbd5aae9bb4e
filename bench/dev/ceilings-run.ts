// The adapter ceilings alone, measured as the bench runner does: npx tsx bench/dev/ceilings-run.ts [repeats] [--quick]
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { measureCeilings } from '../ceilings.ts';
import { BENCH_DAWN_FLAGS, Timer } from '../harness.ts';
const rt = await getRuntime({ dawnFlags: BENCH_DAWN_FLAGS });
const timer = new Timer(rt, 'timestamp');
for (let i = 0; i < Number(process.argv[2] ?? 1); i++) {
  const t0 = performance.now();
  const c = await measureCeilings(rt, {
    quick: process.argv.includes('--quick'),
    time: async (r, n) => (await timer.time(r, n, 0, true)).samplesMs,
  });
  console.log(
    `${c.gbps.toFixed(2)} GB/s (${c.copyConfig}); ${c.gflops.toFixed(1)} GFLOP/s (${c.fmaConfig}); ${((performance.now() - t0) / 1e3).toFixed(1)} s`,
  );
}
await destroyRuntime();
