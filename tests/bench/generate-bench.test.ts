// The batched-generation bench (bench/generate.bench.ts): a tiny run prints and returns examples/s
// and tokens/s for every token generated, and the runner hands it its own non-numeric flags.
import { afterAll, describe, expect, it } from 'vitest';
import { runGenerateBench } from '../../bench/generate.bench.ts';
import { BenchUsageError, parseArgs } from '../../bench/harness.ts';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';

afterAll(async () => {
  await destroyRuntime();
});

describe('generate bench', () => {
  it('times a tiny batched run and compares it with one prompt at a time', async () => {
    const lines: string[] = [];
    const flags = ['--preset', 'tiny', '--vocabSize', '32', '--examples', '5', '--maxTokens', '3'];
    const res = await runGenerateBench([...flags, '--batchSize', '2', '--single', '2', '--promptMax', '12'], (l) =>
      lines.push(l),
    );
    expect(res).not.toBeNull();
    expect(res!.examples).toBe(5);
    expect(res!.newTokens).toBe(15); // no stop token: every prompt gets its maxTokens
    expect(res!.tokensPerSec).toBeGreaterThan(0);
    expect(res!.examplesPerSec * 3).toBeCloseTo(res!.tokensPerSec, 6);
    expect(res!.singleTokensPerSec).toBeGreaterThan(0);
    expect(res!.shape).toEqual({ nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 32 });
    expect(lines.join('\n')).toMatch(/5 examples, 15 new tokens in .* examples\/s, .* tokens\/s/);
    expect(lines).toContain('  4/5 prompts');
  });

  it('refuses bad flags; the runner passes its words through', async () => {
    await expect(runGenerateBench(['--promptMin', '9', '--promptMax', '3'])).rejects.toThrow(BenchUsageError);
    await expect(runGenerateBench(['--preset', 'huge'])).rejects.toThrow(/--preset must be one of/);
    expect(parseArgs(['generate', '--preset', 'tiny']).args).toEqual({ preset: 'tiny' });
    expect(() => parseArgs(['matmul', '--preset', 'tiny'])).toThrow(/--preset must be a number/);
  });
});
