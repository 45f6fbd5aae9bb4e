// The one seeded generator: pinned streams (a change would silently change every training run
// and every prepared split), exact resume from exported state, and the integer draws' range.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../kernels/random.ts';

describe('Rng', () => {
  it('draws the streams the weights and the batches were drawn from before the merge', () => {
    // Values of the former engine/random.ts (mulberry32) and train/data/rng.ts (sfc32) classes.
    const m = new Rng(1337);
    expect([m.nextU32(), m.nextU32(), m.nextU32()]).toEqual([3353182730, 3501050048, 1644235792]);
    const s = new Rng(1337, 'sfc32');
    expect([s.nextU32(), s.nextU32(), s.nextU32()]).toEqual([1575730909, 1274917504, 769015251]);
    expect(new Rng(7).normal()).toBe(-0.09505178301371216);
    expect(new Rng(7, 'sfc32').unbiasedInt(1000)).toBe(491);
    expect(new Rng(7).int(1000)).toBe(Math.floor(new Rng(7).uniform() * 1000));
  });

  it.each(['mulberry32', 'sfc32'] as const)('%s resumes exactly from its exported state', (algorithm) => {
    const a = new Rng(99, algorithm);
    for (let i = 0; i < 10; i++) a.uniform();
    a.normal(); // leaves the pair's second value pending: it is part of the state
    const state = JSON.parse(JSON.stringify(a.getState()));
    const b = new Rng(0, algorithm);
    b.setState(state);
    const draw = (r: Rng): number[] => [r.normal(), r.normal(), r.uniform(), r.unbiasedInt(10), r.nextU32()];
    expect(draw(b)).toEqual(draw(a));
    expect(() => new Rng(0, algorithm === 'sfc32' ? 'mulberry32' : 'sfc32').setState(state)).toThrow(/does not fit/);
  });

  it('int(n) and unbiasedInt(n) cover [0, n); bad bounds throw; shuffle is a permutation', () => {
    const r = new Rng(3, 'sfc32');
    for (const draw of [(n: number) => r.int(n), (n: number) => r.unbiasedInt(n)]) {
      const seen = new Set(Array.from({ length: 500 }, () => draw(7)));
      expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
    const big = r.unbiasedInt(2 ** 40);
    expect(Number.isInteger(big) && big >= 0 && big < 2 ** 40).toBe(true);
    expect(() => r.unbiasedInt(0)).toThrow(RangeError);
    expect(() => r.unbiasedInt(2.5)).toThrow(RangeError);
    expect(
      new Rng(5)
        .shuffle(Array.from({ length: 50 }, (_, i) => i))
        .sort((x, y) => x - y)
        .join(),
    ).toBe(Array.from({ length: 50 }, (_, i) => i).join());
    expect(new Rng(1).nextU32()).not.toBe(new Rng(1, 'sfc32').nextU32());
  });
});
