// Pictures for an evaluation report, as hand-written SVG strings (no renderer needed; any browser
// or Markdown viewer shows them): the confusion matrix as a heat map (rows: true label, columns:
// predicted; each cell's count, shaded by its share of the row, so a small class's errors show as
// clearly as a big one's) and per-class precision, recall and F1 as grouped bars.

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A label cut to `n` characters for an axis. */
const short = (s: string, n = 14): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function svgOpen(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
}

/** matrix[i][j] = examples of true label i predicted as j. */
export function confusionMatrixSvg(
  labels: readonly string[],
  matrix: readonly (readonly number[])[],
  title = 'Confusion matrix',
): string {
  const K = labels.length;
  const cell = Math.max(28, Math.min(64, Math.floor(480 / Math.max(1, K))));
  const left = 110;
  const top = 84;
  const W = left + K * cell + 20;
  const H = top + K * cell + 40;
  const out = svgOpen(Math.max(W, 260), H, title);
  out.push(`<text x="${left + (K * cell) / 2}" y="${top - 40}" text-anchor="middle">predicted</text>`);
  out.push(
    `<text x="14" y="${top + (K * cell) / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + (K * cell) / 2})">true</text>`,
  );
  for (let j = 0; j < K; j++) {
    const x = left + j * cell + cell / 2;
    out.push(`<text x="${x}" y="${top - 8}" text-anchor="middle">${esc(short(labels[j]!, 8))}</text>`);
  }
  for (let i = 0; i < K; i++) {
    const row = matrix[i]!;
    const total = row.reduce((s, v) => s + v, 0);
    const y = top + i * cell;
    out.push(`<text x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${esc(short(labels[i]!))}</text>`);
    for (let j = 0; j < K; j++) {
      const v = row[j]!;
      const share = total > 0 ? v / total : 0;
      // Blue for the diagonal (right), red elsewhere (errors); deeper for a larger share of the row.
      const hue = i === j ? 210 : 0;
      const light = Math.round(97 - 55 * share);
      const x = left + j * cell;
      out.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="hsl(${hue},70%,${light}%)" stroke="#999"/>`,
      );
      const ink = light < 60 ? '#fff' : '#000';
      out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${ink}">${v}</text>`);
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface ClassBars {
  label: string;
  precision: number;
  recall: number;
  f1: number;
}

const BAR_COLORS = { precision: '#4e79a7', recall: '#f28e2b', f1: '#59a14f' } as const;

/** Grouped bars (0–1) of precision, recall and F1 per class, with a legend. */
export function perClassBarsSvg(classes: readonly ClassBars[], title = 'Per-class precision, recall and F1'): string {
  const group = 3 * 16 + 20;
  const left = 44;
  const top = 50;
  const ph = 200;
  const W = Math.max(320, left + classes.length * group + 20);
  const H = top + ph + 50;
  const out = svgOpen(W, H, title);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + ph * (1 - t);
    out.push(`<line x1="${left}" y1="${y}" x2="${W - 10}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 4}" y="${y + 4}" text-anchor="end">${t}</text>`);
  }
  classes.forEach((c, i) => {
    const x0 = left + 10 + i * group;
    (['precision', 'recall', 'f1'] as const).forEach((k, j) => {
      const h = Math.max(0, Math.min(1, c[k])) * ph;
      const x = x0 + j * 16;
      out.push(
        `<rect x="${x}" y="${top + ph - h}" width="14" height="${h}" fill="${BAR_COLORS[k]}"><title>${esc(c.label)} ${k} ${c[k].toFixed(3)}</title></rect>`,
      );
    });
    out.push(`<text x="${x0 + 23}" y="${top + ph + 16}" text-anchor="middle">${esc(short(c.label, 10))}</text>`);
  });
  (['precision', 'recall', 'f1'] as const).forEach((k, j) => {
    const x = left + j * 90;
    out.push(`<rect x="${x}" y="${H - 18}" width="12" height="12" fill="${BAR_COLORS[k]}"/>`);
    out.push(`<text x="${x + 16}" y="${H - 8}">${k === 'f1' ? 'F1' : k}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
