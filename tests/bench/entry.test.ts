// bench/entry.ts: the shared main() of the whole-program benches returns 0/1/2 and keeps the last
// result for --json.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchEntry } from '../../bench/entry.ts';
import { BenchUsageError } from '../../bench/harness.ts';

afterEach(() => vi.restoreAllMocks());

describe('benchEntry', () => {
  it('returns 0 and keeps the last non-null result', async () => {
    const results = [{ n: 1 }, null];
    const entry = benchEntry('fake', () => Promise.resolve(results.shift()));
    expect(entry.lastResult()).toBeNull();
    expect(await entry.main([])).toBe(0);
    expect(entry.lastResult()).toEqual({ n: 1 });
    expect(await entry.main(['--help'])).toBe(0);
    expect(entry.lastResult()).toEqual({ n: 1 });
  });

  it('returns 2 for a command-line mistake, 1 for any other error, printing one line', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const usage = benchEntry('fake', () => Promise.reject(new BenchUsageError('bad flag')));
    expect(await usage.main([])).toBe(2);
    expect(err).toHaveBeenLastCalledWith('error: bad flag');
    const broken = benchEntry('fake', () => Promise.reject(new Error('out of memory')));
    expect(await broken.main([])).toBe(1);
    expect(err).toHaveBeenLastCalledWith('fake bench: out of memory');
    expect(broken.lastResult()).toBeNull();
  });
});
