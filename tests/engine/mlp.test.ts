import { beforeAll, expect, it } from 'vitest';
import { initEngine } from '../../engine/index.ts';
import { trainMlp } from '../../examples/mlp.ts';

beforeAll(async () => {
  await initEngine();
});

it('a 2-layer MLP trained with SGD through the engine cuts its loss by at least 10x', async () => {
  const { first, last } = await trainMlp({ steps: 300 });
  expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true);
  expect(first / last).toBeGreaterThanOrEqual(10);
});
