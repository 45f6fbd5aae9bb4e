// Recording is split into several command buffers once one holds Runtime.maxPendingDispatches
// commands (a single huge command buffer crashed lavapipe). The split must not change results:
// a chain of dependent dispatches, with host writes in between, gives the same bits either way.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PENDING, getRuntime, type Runtime } from '../../kernels/gpu/runtime.ts';
import { accumulate, fill } from '../../kernels/elementwise.ts';

const n = 37;

/** acc = 0; then steps × (acc += src; every 5th step src is rewritten from the host). */
async function chain(rt: Runtime, steps: number): Promise<Float32Array> {
  const acc = rt.pool.acquire(n * 4, 'acc');
  const src = rt.pool.acquire(n * 4, 'src');
  try {
    fill(rt, { out: acc }, { n, value: 0 });
    fill(rt, { out: src }, { n, value: 0.1 });
    for (let s = 0; s < steps; s++) {
      if (s % 5 === 4)
        rt.write(
          src,
          0,
          Float32Array.from({ length: n }, (_, i) => (s * 31 + i) / 97),
        );
      accumulate(rt, { acc, src }, { n, scale: 1 + (s % 3) });
    }
    return new Float32Array(await rt.read(acc, 0, n * 4));
  } finally {
    rt.pool.release(acc);
    rt.pool.release(src);
  }
}

describe('runtime: bounded command buffers', () => {
  afterEach(async () => {
    (await getRuntime()).maxPendingDispatches = DEFAULT_MAX_PENDING;
  });

  it('submits every maxPendingDispatches commands and computes the same bits as one submit', async () => {
    const rt = await getRuntime();
    rt.maxPendingDispatches = 1_000_000;
    let before = rt.stats.submits;
    const whole = await chain(rt, 200);
    expect(rt.stats.submits - before).toBe(1);

    rt.maxPendingDispatches = 16;
    before = rt.stats.submits;
    const chunked = await chain(rt, 200);
    expect(rt.stats.submits - before).toBeGreaterThanOrEqual(200 / 16);
    expect(Array.from(chunked)).toEqual(Array.from(whole));
    expect(whole[0]).not.toBe(0);
  });
});
