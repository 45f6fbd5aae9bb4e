// Stop requests: an abort, and SIGTERM/SIGHUP handled like a first Ctrl-C (the loop finishes the
// step and writes a checkpoint); the handlers leave with dispose(). The real Ctrl-C of a running
// training process is tested in cli.test.ts.
import { describe, expect, it } from 'vitest';
import { StopRequest } from '../../train/stop.ts';

describe('StopRequest', () => {
  it('follows an AbortSignal', () => {
    const ac = new AbortController();
    const stop = new StopRequest(() => {}).follow(ac.signal);
    expect(stop.requested).toBe(false);
    ac.abort();
    expect(stop.requested).toBe(true);
  });

  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} asks for a stop with a checkpoint; dispose() removes the handlers`, () => {
      const before = process.listenerCount(sig);
      const lines: string[] = [];
      const stop = new StopRequest((l) => lines.push(l)).listen();
      expect(process.listenerCount(sig)).toBe(before + 1);
      process.emit(sig, sig);
      expect(stop.requested).toBe(true);
      expect(lines.join('')).toContain(`${sig}: finishing this step and writing a checkpoint`);
      stop.dispose();
      expect(process.listenerCount(sig)).toBe(before);
    });
  }
});
