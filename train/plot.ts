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

export function lossCurveSvg(metrics: readonly StepMetrics[], o: PlotOptions = {}): string {
  const W = o.width ?? 800;
  const H = o.height ?? 480;
  const m = { left: 64, right: 24, top: 40, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const train = metrics
    .filter((x) => x.loss !== null && Number.isFinite(x.loss))
    .map((x) => [x.step, x.loss as number] as const);
  const val = metrics
    .filter((x) => typeof x.valLoss === 'number' && Number.isFinite(x.valLoss))
    .map((x) => [x.step, x.valLoss as number] as const);
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
  const path = (pts: readonly (readonly [number, number])[]): string =>
    pts.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');

  // Smoothed training loss: an EMA over steps whose window grows with the run's length.
  const beta = Math.min(0.98, Math.max(0.6, 1 - 10 / Math.max(10, train.length)));
  let acc = 0;
  let wsum = 0;
  const smooth = train.map(([s, l]) => {
    acc = beta * acc + (1 - beta) * l;
    wsum = beta * wsum + (1 - beta);
    return [s, acc / wsum] as const;
  });

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  if (o.title)
    out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  // Grid and ticks.
  for (const t of niceTicks(y0, y1, 6)) {
    const y = Y(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmtTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 8)) {
    const x = X(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${H - m.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${H - m.bottom + 18}" text-anchor="middle" fill="#444">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#222">step</text>`);
  out.push(
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" fill="#222" transform="rotate(-90 16 ${m.top + ph / 2})">loss (nats/token)</text>`,
  );
  if (o.baseline && Number.isFinite(o.baseline.value)) {
    const y = Y(o.baseline.value).toFixed(1);
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
      out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3.5" fill="#d62728"/>`);
  }
  // Legend.
  const lx = m.left + pw - 190;
  const ly = m.top + 14;
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
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function writeLossCurve(path: string, metrics: readonly StepMetrics[], o: PlotOptions = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, lossCurveSvg(metrics, o));
  renameSync(tmp, path);
}
