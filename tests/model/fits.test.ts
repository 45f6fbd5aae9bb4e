// model/config.ts checkFits: a model's size against the adapter's limits, computed in closed form
// before anything is laid out or allocated (issue 13: `--nLayer 1000000` hung building its tables).
import { describe, expect, it } from 'vitest';
import { checkFits, flatParamFloats, resolveConfig, type GPTConfig } from '../../model/config.ts';
import { paramLayout } from '../../model/layout.ts';

// lavapipe's limits.
const LIMITS = { maxBufferSize: 4294967295, maxStorageBufferBindingSize: 134217728 };
const cfg = (over: Partial<GPTConfig>): GPTConfig => resolveConfig({ preset: 'small', ...over });

describe('checkFits', () => {
  it('flatParamFloats is the layout total, alignment included', () => {
    for (const c of [
      cfg({}),
      cfg({ vocabSize: 333, nEmbd: 20, nHead: 5, nLayer: 3, blockSize: 17 }),
      resolveConfig({ preset: 'tiny' }),
    ])
      expect(flatParamFloats(c)).toBe(paramLayout(c).total);
  });

  it('passes models that fit', () => {
    expect(checkFits(cfg({}), LIMITS)).toBeNull();
    expect(checkFits(cfg({}), LIMITS, { batch: 16, training: true, memoryBytes: 8e9 })).toBeNull();
  });

  it('a million layers: a one-line message with the sizes and the largest nLayer that fits', () => {
    const msg = checkFits(cfg({ nLayer: 1_000_000 }), LIMITS)!;
    expect(msg).toMatch(
      /nLayer 1000000,.* parameters \(\d+(\.\d+)? GB in one buffer\), more than this adapter's maxBufferSize/,
    );
    const L = Number(/at most nLayer (\d+) fits/.exec(msg)![1]);
    expect(checkFits(cfg({ nLayer: L }), LIMITS)).toBeNull();
    expect(checkFits(cfg({ nLayer: L + 1 }), LIMITS)).toMatch(/maxBufferSize/);
    expect(msg).not.toContain('\n');
  });

  it('memory: training needs 4 parameter buffers and the activations', () => {
    const c = cfg({ nLayer: 400 });
    const memoryBytes = 2e9;
    expect(checkFits(c, LIMITS, { memoryBytes })).toBeNull();
    const msg = checkFits(c, LIMITS, { memoryBytes, training: true, batch: 8 })!;
    expect(msg).toMatch(
      /training it needs about .* \(4 x .* of parameter buffers \+ .* of activations\), more than the 2\.00 GB of memory/,
    );
    const L = Number(/at most nLayer (\d+) fits/.exec(msg)![1]);
    expect(checkFits(cfg({ nLayer: L }), LIMITS, { memoryBytes, training: true, batch: 8 })).toBeNull();
  });

  it('one tensor or one activation larger than a storage binding', () => {
    expect(checkFits(cfg({ vocabSize: 300_000, nEmbd: 512, nHead: 8 }), LIMITS)).toMatch(
      /largest tensor \(614 MB\) exceeds this adapter's maxStorageBufferBindingSize/,
    );
    expect(checkFits(cfg({ vocabSize: 50257 }), LIMITS, { batch: 64 })).toMatch(
      /a batch of 64 x 128 tokens needs an activation of .*use a smaller batchSize or blockSize/,
    );
  });
});
