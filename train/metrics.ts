// metrics.jsonl: one JSON object per optimizer step, appended as the run goes (a crash loses at
// most the line being written). On resume, lines at or after the resumed step are dropped first,
// so the file reads as one uninterrupted run.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';

export interface StepMetrics {
  step: number;
  /** Mean training loss of the step's micro-batches (NaN/Infinity are written as null). */
  loss: number | null;
  lr: number;
  gradNorm: number | null;
  tokensPerSec: number;
  /** Present on evaluation steps. */
  valLoss?: number;
  valPerplexity?: number;
  /** Present when the step was skipped for a non-finite loss or gradient norm. */
  skipped?: true;
  /** Seconds since the run started (including earlier sessions of a resumed run). */
  elapsed?: number;
}

export const METRICS_FILE = 'metrics.jsonl';

const finiteOrNull = (x: number | null | undefined): number | null =>
  x === null || x === undefined || !Number.isFinite(x) ? null : x;

export class MetricsLog {
  constructor(readonly path: string) {}

  /** Starts the file, or (resuming at `fromStep`) keeps only the lines of earlier steps. */
  open(fromStep: number): void {
    if (fromStep <= 0 || !existsSync(this.path)) {
      writeFileSync(this.path, '');
      return;
    }
    const kept = readMetrics(this.path).filter((m) => m.step < fromStep);
    writeFileSync(this.path, kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  append(m: StepMetrics): void {
    const rec: StepMetrics = { ...m, loss: finiteOrNull(m.loss), gradNorm: finiteOrNull(m.gradNorm) };
    appendFileSync(this.path, JSON.stringify(rec) + '\n');
  }
}

/** Reads metrics.jsonl; a torn last line (a crash mid-write) is ignored. */
export function readMetrics(path: string): StepMetrics[] {
  if (!existsSync(path)) return [];
  const out: StepMetrics[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const m = JSON.parse(line) as StepMetrics;
      if (typeof m.step === 'number') out.push(m);
    } catch {
      // a partial line from an interrupted write
    }
  }
  return out;
}

/** Exponential moving average with bias correction, for a readable progress line. */
export class Ema {
  private v = 0;
  private w = 0;
  constructor(private readonly beta = 0.9) {}
  push(x: number): number {
    if (!Number.isFinite(x)) return this.value;
    this.v = this.beta * this.v + (1 - this.beta) * x;
    this.w = this.beta * this.w + (1 - this.beta);
    return this.value;
  }
  get value(): number {
    return this.w === 0 ? NaN : this.v / this.w;
  }
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// What the user watches: a progress bar on a terminal, a line every so often in a log.

export type ProgressMode = 'bar' | 'lines' | 'off';

export function progressMode(setting: string, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (setting === 'bar' || setting === 'lines' || setting === 'off') return setting;
  return stream.isTTY ? 'bar' : 'lines';
}

export interface ProgressInfo {
  step: number;
  totalSteps: number;
  loss: number;
  tokensPerSec: number;
  etaSec: number;
  lr: number;
  valLoss?: number;
}

/**
 * A cli-progress bar (step, loss, tokens/s, ETA) on a terminal; in a log, one line at most every
 * `lineEverySec` seconds (and at the first and last step), never a flood.
 */
export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = -Infinity;
  private lastInfo: ProgressInfo | null = null;

  constructor(
    readonly mode: ProgressMode,
    private readonly log: (line: string) => void,
    private readonly lineEverySec = 15,
  ) {}

  start(startStep: number, totalSteps: number): void {
    if (this.mode !== 'bar') return;
    this.bar = new cliProgress.SingleBar(
      {
        format: 'step {value}/{total} [{bar}] {percentage}% | loss {loss} | {tps} tok/s | lr {lr} | ETA {etaText}{val}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 5,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(totalSteps, startStep, { loss: '-', tps: '-', lr: '-', etaText: '--:--', val: '' });
  }

  /** Updates the display for a finished step (step is 1-based: steps done). */
  update(p: ProgressInfo): void {
    this.lastInfo = p;
    const fields = {
      loss: Number.isFinite(p.loss) ? p.loss.toFixed(4) : String(p.loss),
      tps: Math.round(p.tokensPerSec).toLocaleString('en-US'),
      lr: p.lr.toExponential(2),
      etaText: formatDuration(p.etaSec),
      val: p.valLoss !== undefined ? ` | val ${p.valLoss.toFixed(4)}` : '',
    };
    if (this.bar) {
      if (this.bar.getTotal() !== p.totalSteps) this.bar.setTotal(p.totalSteps);
      this.bar.update(p.step, fields);
      return;
    }
    if (this.mode !== 'lines') return;
    const now = performance.now() / 1000;
    if (now - this.lastLine >= this.lineEverySec || p.step === p.totalSteps || p.step === 1) {
      this.lastLine = now;
      this.log(
        `step ${p.step}/${p.totalSteps} | loss ${fields.loss} | ${fields.tps} tok/s | lr ${fields.lr} | ETA ${fields.etaText}`,
      );
    }
  }

  /** Prints a line above the bar (evaluations, warnings). */
  message(line: string): void {
    if (this.bar) {
      // cli-progress redraws on the current line: clear it, print, redraw.
      process.stderr.write('\r\x1b[K');
      this.log(line);
      const p = this.lastInfo;
      if (p) this.update(p);
      return;
    }
    this.log(line);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
