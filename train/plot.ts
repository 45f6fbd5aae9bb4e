// The loss curve as a hand-written SVG: training loss (raw, faint, and smoothed), validation loss
// (points joined by a line) and, when known, the unigram baseline as a dashed line. Written
// atomically (temporary file + rename) so a viewer never sees half a file.
import { renameSync, writeFileSync } from 'node:fs';
import type { StepMetrics } from './metrics.ts';

export interface PlotOptions {
  title?: string;
  /** Dashed horizontal reference line (e.g. the unigram loss). */
  baseline?: { value: number; label: string } | null;
  width?: number;
  height?: number;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmtTick = (v: number): string => (Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toPrecision(4)}`);

type Pt = readonly [number, number];

/** The plot area and the data → pixel mapping. */
interface Frame {
  W: number;
  H: number;
  m: { left: number; right: number; top: number; bottom: number };
  pw: number;
  ph: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  X(x: number): number;
  Y(y: number): number;
}

function series(metrics: readonly StepMetrics[]): { train: Pt[]; val: Pt[] } {
  const train = metrics
    .filter((x) => x.loss !== null && Number.isFinite(x.loss))
    .map((x) => [x.step, x.loss as number] as const);
  const val = metrics
    .filter((x) => typeof x.valLoss === 'number' && Number.isFinite(x.valLoss))
    .map((x) => [x.step, x.valLoss as number] as const);
  return { train, val };
}

function frameFor(train: readonly Pt[], val: readonly Pt[], o: PlotOptions): Frame {
  const W = o.width ?? 800;
  const H = o.height ?? 480;
  const m = { left: 64, right: 24, top: 40, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ys = [...train.map((p) => p[1]), ...val.map((p) => p[1])];
  if (o.baseline && Number.isFinite(o.baseline.value)) ys.push(o.baseline.value);
  const xs = [...train.map((p) => p[0]), ...val.map((p) => p[0])];
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 <= x0) x1 = x0 + 1;
  x0 = Math.min(0, x0);
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  // The first steps' loss (ln V) dwarfs the rest: clip the top to keep the interesting part readable.
  const sortedTrain = train.map((p) => p[1]).sort((a, b) => a - b);
  const p98 = sortedTrain.length > 20 ? sortedTrain[Math.floor(sortedTrain.length * 0.98)]! : y1;
  y1 = Math.max(p98, ...val.map((p) => p[1]), o.baseline?.value ?? -Infinity);
  if (y1 <= y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.05;
  y0 = Math.max(0, y0 - pad);
  y1 = y1 + pad;
  const X = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number): number => m.top + (1 - (Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * ph;
  return { W, H, m, pw, ph, x0, x1, y0, y1, X, Y };
}

/** Smoothed training loss: an EMA over steps whose window grows with the run's length. */
function smoothed(train: readonly Pt[]): Pt[] {
  const beta = Math.min(0.98, Math.max(0.6, 1 - 10 / Math.max(10, train.length)));
  let acc = 0;
  let wsum = 0;
  return train.map(([s, l]) => {
    acc = beta * acc + (1 - beta) * l;
    wsum = beta * wsum + (1 - beta);
    return [s, acc / wsum] as const;
  });
}

/** Title, grid, ticks, frame and axis labels. */
function axes(f: Frame, title: string | undefined): string[] {
  const { W, H, m, pw, ph } = f;
  const out: string[] = [];
  if (title)
    out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const t of niceTicks(f.y0, f.y1, 6)) {
    const y = f.Y(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmtTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(f.x0, f.x1, 8)) {
    const x = f.X(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${H - m.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${H - m.bottom + 18}" text-anchor="middle" fill="#444">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#222">step</text>`);
  out.push(
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" fill="#222" transform="rotate(-90 16 ${m.top + ph / 2})">loss (nats/token)</text>`,
  );
  return out;
}

/** The dashed baseline, the raw and smoothed training loss, the validation points. */
function curves(f: Frame, train: readonly Pt[], smooth: readonly Pt[], val: readonly Pt[], o: PlotOptions): string[] {
  const { W, m } = f;
  const path = (pts: readonly Pt[]): string =>
    pts.map((p, i) => `${i ? 'L' : 'M'}${f.X(p[0]).toFixed(1)},${f.Y(p[1]).toFixed(1)}`).join('');
  const out: string[] = [];
  if (o.baseline && Number.isFinite(o.baseline.value)) {
    const y = f.Y(o.baseline.value).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#999" stroke-dasharray="6 4"/>`);
    out.push(
      `<text x="${W - m.right - 6}" y="${Number(y) - 6}" text-anchor="end" fill="#777">${esc(o.baseline.label)}</text>`,
    );
  }
  if (train.length) {
    out.push(`<path d="${path(train)}" fill="none" stroke="#1f77b4" stroke-opacity="0.25" stroke-width="1"/>`);
    out.push(`<path d="${path(smooth)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  }
  if (val.length) {
    out.push(`<path d="${path(val)}" fill="none" stroke="#d62728" stroke-width="2"/>`);
    for (const p of val)
      out.push(`<circle cx="${f.X(p[0]).toFixed(1)}" cy="${f.Y(p[1]).toFixed(1)}" r="3.5" fill="#d62728"/>`);
  }
  return out;
}

function legend(f: Frame, train: readonly Pt[], smooth: readonly Pt[], val: readonly Pt[]): string[] {
  const lx = f.m.left + f.pw - 190;
  const ly = f.m.top + 14;
  const out: string[] = [];
  out.push(
    `<rect x="${lx - 10}" y="${ly - 12}" width="190" height="${val.length ? 44 : 26}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>`,
  );
  out.push(
    `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="#1f77b4" stroke-width="2"/><text x="${lx + 32}" y="${ly}" dominant-baseline="middle">train loss${train.length ? ` (last ${smooth[smooth.length - 1]![1].toFixed(3)})` : ''}</text>`,
  );
  if (val.length) {
    const last = val[val.length - 1]![1];
    out.push(
      `<line x1="${lx}" y1="${ly + 18}" x2="${lx + 24}" y2="${ly + 18}" stroke="#d62728" stroke-width="2"/><circle cx="${lx + 12}" cy="${ly + 18}" r="3.5" fill="#d62728"/><text x="${lx + 32}" y="${ly + 18}" dominant-baseline="middle">val loss (last ${last.toFixed(3)})</text>`,
    );
  }
  return out;
}

export function lossCurveSvg(metrics: readonly StepMetrics[], o: PlotOptions = {}): string {
  const { train, val } = series(metrics);
  const f = frameFor(train, val, o);
  const smooth = smoothed(train);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}" viewBox="0 0 ${f.W} ${f.H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${f.W}" height="${f.H}" fill="#ffffff"/>`,
    ...axes(f, o.title),
    ...curves(f, train, smooth, val, o),
    ...legend(f, train, smooth, val),
    '</svg>',
  ];
  return out.join('\n') + '\n';
}

export function writeLossCurve(path: string, metrics: readonly StepMetrics[], o: PlotOptions = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, lossCurveSvg(metrics, o));
  renameSync(tmp, path);
}
