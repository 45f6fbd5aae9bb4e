// The numbers of an evaluation as rows (metric, one value per checkpoint, the difference of each
// later checkpoint from the first), shared by the terminal table and report.md, plus the
// paired-difference lines. Checkpoints are named [1], [2], ... in the order given.
import type { ClassifyResult } from './classify.ts';
import type { EvalRun, PairedDiff, TaskResult } from './compare.ts';
import type { LmResult } from './lm.ts';
import type { SftResult } from './sft.ts';

/** A metric: its name, how to print it, and its value in each result (null: not available). */
interface Metric {
  name: string;
  digits: number;
  value: (r: TaskResult) => number | null;
}

const lm = (f: (r: LmResult) => number | null) => (r: TaskResult) => (r.task === 'lm' ? f(r) : null);
const sft = (f: (r: SftResult) => number | null) => (r: TaskResult) => (r.task === 'sft' ? f(r) : null);
const cls = (f: (r: ClassifyResult) => number | null) => (r: TaskResult) => (r.task === 'classify' ? f(r) : null);

const METRICS: Record<TaskResult['task'], Metric[]> = {
  lm: [
    { name: 'loss (nats/token)', digits: 4, value: lm((r) => r.loss) },
    { name: 'perplexity', digits: 3, value: lm((r) => r.perplexity) },
    { name: 'bits per char', digits: 4, value: lm((r) => r.bitsPerChar) },
    { name: 'tokens', digits: 0, value: lm((r) => r.tokens) },
  ],
  sft: [
    { name: 'BLEU (0-100)', digits: 2, value: sft((r) => r.bleu) },
    { name: 'ROUGE-1 F1', digits: 4, value: sft((r) => r.rouge1) },
    { name: 'ROUGE-2 F1', digits: 4, value: sft((r) => r.rouge2) },
    { name: 'ROUGE-L F1', digits: 4, value: sft((r) => r.rougeL) },
    { name: 'ROUGE-Lsum F1', digits: 4, value: sft((r) => r.rougeLsum) },
    { name: 'exact match (%)', digits: 2, value: sft((r) => r.exactMatch) },
    { name: 'token F1 (%)', digits: 2, value: sft((r) => r.f1) },
    { name: 'target loss', digits: 4, value: sft((r) => r.targetLoss) },
    { name: 'target perplexity', digits: 3, value: sft((r) => r.targetPerplexity) },
    { name: 'empty predictions', digits: 0, value: sft((r) => r.emptyPredictions) },
    { name: 'examples/s', digits: 2, value: sft((r) => r.throughput.examplesPerSec) },
    { name: 'new tokens/s', digits: 1, value: sft((r) => r.throughput.tokensPerSec) },
  ],
  classify: [
    { name: 'accuracy', digits: 4, value: cls((r) => r.report.accuracy) },
    { name: 'macro precision', digits: 4, value: cls((r) => r.report.macro.precision) },
    { name: 'macro recall', digits: 4, value: cls((r) => r.report.macro.recall) },
    { name: 'macro F1', digits: 4, value: cls((r) => r.report.macro.f1) },
    { name: 'weighted precision', digits: 4, value: cls((r) => r.report.weighted.precision) },
    { name: 'weighted recall', digits: 4, value: cls((r) => r.report.weighted.recall) },
    { name: 'weighted F1', digits: 4, value: cls((r) => r.report.weighted.f1) },
    { name: 'loss (cross-entropy)', digits: 4, value: cls((r) => r.loss) },
  ],
};

const fmt = (v: number | null, digits: number): string =>
  v === null ? '-' : digits === 0 ? v.toLocaleString('en-US') : v.toFixed(digits);

/** A difference with its sign; counts stay whole numbers. */
const signed = (v: number, digits: number): string =>
  (v >= 0 ? '+' : '') + (digits === 0 && Number.isInteger(v) ? String(v) : v.toFixed(Math.max(digits, 2)));

/** Header and rows: metric, [1] ... [n], then [k]−[1] for each later checkpoint. */
export function metricRows(run: EvalRun): string[][] {
  const results = run.checkpoints.map((c) => c.result);
  const n = results.length;
  const header = ['metric', ...results.map((_, i) => `[${i + 1}]`)];
  for (let k = 2; k <= n; k++) header.push(`[${k}]-[1]`);
  const rows = [header];
  for (const m of METRICS[run.task]) {
    const vals = results.map((r) => m.value(r));
    const row = [m.name, ...vals.map((v) => fmt(v, m.digits))];
    for (let k = 1; k < n; k++)
      row.push(vals[k] === null || vals[0] === null ? '-' : signed(vals[k]! - vals[0]!, m.digits));
    rows.push(row);
  }
  return rows;
}

/** Columns padded to their widest cell; the first left-aligned, the rest right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const w = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  ')).join('\n');
}

/** A Markdown table (cells escaped: `|` and line breaks). */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, '⏎');
  const line = (r: readonly string[]): string => `| ${r.map(cell).join(' | ')} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
}

/** One line per comparison: the mean per-example differences and, for classify, the discordant pairs. */
export function pairedLines(paired: readonly PairedDiff[]): string[] {
  return paired.map((p) => {
    const a = `[${p.first + 1}]`;
    const b = `[${p.other + 1}]`;
    const diffs = Object.entries(p.metrics)
      .map(([k, d]) => `${k} ${signed(d.meanDiff, 4)} (${d.better} better, ${d.worse} worse, ${d.same} same)`)
      .join('; ');
    const disc =
      p.firstRightOtherWrong === undefined
        ? ''
        : `; ${a} right and ${b} wrong: ${p.firstRightOtherWrong}, ${b} right and ${a} wrong: ${p.otherRightFirstWrong}`;
    return `${b} vs ${a}, mean per-example difference: ${diffs}${disc}`;
  });
}

/** Per-class rows of a classifier: label, precision, recall, F1, support. */
export function perClassRows(r: ClassifyResult): string[][] {
  const rows = [['label', 'precision', 'recall', 'F1', 'support']];
  for (const c of r.report.perClass)
    rows.push([String(c.label), c.precision.toFixed(4), c.recall.toFixed(4), c.f1.toFixed(4), String(c.support)]);
  for (const [name, a] of [
    ['macro avg', r.report.macro],
    ['weighted avg', r.report.weighted],
  ] as const)
    rows.push([name, a.precision.toFixed(4), a.recall.toFixed(4), a.f1.toFixed(4), String(a.support)]);
  return rows;
}

/** The confusion matrix as rows: true label down, predicted across. */
export function confusionRows(r: ClassifyResult): string[][] {
  const labels = r.report.labels.map(String);
  return [['true \\ predicted', ...labels], ...r.report.confusion.map((row, i) => [labels[i]!, ...row.map(String)])];
}

/** lm with one checkpoint: the three lines `eval` has always printed. */
function lmLines(run: EvalRun, c: EvalRun['checkpoints'][number]): string[] {
  const r = c.result as LmResult;
  const n = (x: number): string => x.toLocaleString('en-US');
  const bpc = r.bitsPerChar === null ? '' : `, ${r.bitsPerChar.toFixed(3)} bits/char`;
  return [
    `checkpoint ${c.checkpoint} (step ${c.step})`,
    `${run.input}: ${n(r.tokens)} tokens (${n(r.scored)} scored)`,
    `loss ${r.loss.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(3)}${bpc}`,
  ];
}

/** The terminal output: checkpoints, data, the metric table, paired differences, classifier details. */
export function formatRun(run: EvalRun): string {
  if (run.task === 'lm' && run.checkpoints.length === 1) return lmLines(run, run.checkpoints[0]!).join('\n') + '\n';
  const out: string[] = [];
  run.checkpoints.forEach((c, i) => out.push(`[${i + 1}] ${c.checkpoint} (step ${c.step})`));
  out.push(`task ${run.task} on ${run.input}`);
  for (const d of run.data) out.push(`data: ${d}`);
  out.push('', formatTable(metricRows(run)));
  if (run.paired.length) out.push('', ...pairedLines(run.paired));
  run.checkpoints.forEach((c, i) => {
    if (c.result.task !== 'classify') return;
    out.push('', `[${i + 1}] per class:`, formatTable(perClassRows(c.result)));
    out.push('', `[${i + 1}] confusion matrix (rows: true, columns: predicted):`, formatTable(confusionRows(c.result)));
    for (const w of c.result.report.warnings) out.push(`warning: ${w}`);
  });
  return out.join('\n') + '\n';
}
