// Progress display for `prepare`'s phases.
import cliProgress from 'cli-progress';

/**
 * Phase progress for `prepare`: a cli-progress bar on a terminal (documents and bytes processed),
 * or one line per phase otherwise (logs, CI). Disabled entirely in tests.
 */
export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private phase = '';
  private started = 0;

  constructor(
    private readonly mode: 'bar' | 'lines' | 'off',
    private readonly log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  ) {}

  start(phase: string, total: number, unit: 'bytes' | 'merges' | 'docs'): void {
    this.stop();
    this.phase = phase;
    this.started = performance.now();
    if (this.mode === 'bar') {
      const what =
        unit === 'bytes'
          ? '{docs} docs | {size}/{totalSize}'
          : unit === 'merges'
            ? '{value}/{total} merges'
            : '{value}/{total} docs';
      this.bar = new cliProgress.SingleBar(
        {
          format: `${phase.padEnd(20)} [{bar}] {percentage}% | ${what} | {duration_formatted} (eta {eta_formatted})`,
          barsize: 24,
          hideCursor: false,
          clearOnComplete: false,
          stopOnComplete: false,
          etaBuffer: 50,
          fps: 10,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(1, total), 0, { docs: 0, size: formatBytes(0), totalSize: formatBytes(total) });
    } else if (this.mode === 'lines') {
      this.log(`${phase}...`);
    }
  }

  update(value: number, docs = 0): void {
    this.bar?.update(value, { docs, size: formatBytes(value) });
  }

  stop(summary?: string): void {
    if (this.bar !== undefined) {
      this.bar.stop();
      this.bar = undefined;
    }
    if (this.phase !== '' && this.mode === 'lines') {
      this.log(
        `${this.phase}: done in ${((performance.now() - this.started) / 1000).toFixed(1)} s${summary ? ` (${summary})` : ''}`,
      );
    }
    this.phase = '';
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
