// How long lavapipe takes to compile each matmul pipeline (first dispatch of a tiny shape).
import { destroyRuntime, getRuntime } from '../../kernels/gpu/runtime.ts';
import { matmul, MATMUL_CONFIGS } from '../../kernels/matmul.ts';
const rt = await getRuntime();
const buf = () => rt.pool.acquire(4096 * 4);
const [o, a, b] = [buf(), buf(), buf()];
for (const cfg of MATMUL_CONFIGS) {
  for (const loads of ['auto', 'scalar'] as const) {
    for (const transA of [false]) {
      const t0 = performance.now();
      matmul(rt, { out: o, a, b, M: 8, N: 8, K: 8, transA, config: { name: cfg.name, loads } });
      await rt.sync();
      const t1 = performance.now();
      matmul(rt, { out: o, a, b, M: 8, N: 8, K: 8, transA, config: { name: cfg.name, loads } });
      await rt.sync();
      console.log(
        cfg.name,
        loads,
        transA ? 'Aᵀ' : '',
        `first ${(t1 - t0).toFixed(0)} ms, again ${(performance.now() - t1).toFixed(1)} ms`,
      );
    }
  }
}
await destroyRuntime();
