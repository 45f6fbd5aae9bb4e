// `eval --report <dir>`: report.md for a person to read (the metric table, paired differences; for
// generation the best and worst examples side by side, for classification the confusion matrix,
// per-class numbers as pictures and the most confident errors), predictions.jsonl (input,
// reference, prediction and scores of every example and checkpoint), and for a generation task with
// several checkpoints a blind sheet for human rating (outputs labelled 1, 2, ... in an order
// shuffled per example with a seeded RNG; blind-key.json maps them back). The folder is written
// into a temporary folder and renamed into place, so a failure leaves no half-written report.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../cli-error.ts';
import { replaceDirAtomically } from '../data/atomic-dir.ts';
import { confusionMatrixSvg, perClassBarsSvg } from '../eval/svg.ts';
import { seededRng } from '../finetune/rng.ts';
import type { ClassifyResult } from './classify.ts';
import type { EvalRun, TaskResult } from './compare.ts';
import type { SftResult } from './sft.ts';
import { confusionRows, markdownTable, metricRows, pairedLines, perClassRows } from './table.ts';

export const REPORT_FILE = 'report.md';
/** Examples shown at each end (best, worst, most confident errors). */
const SHOWN = 5;

/** Every number of the run (per-example lists are in predictions.jsonl, not here). */
export function runJson(run: EvalRun): Record<string, unknown> {
  const strip = (r: TaskResult): Record<string, unknown> => {
    const { perExample: _drop, ...rest } = r as TaskResult & { perExample?: unknown };
    void _drop;
    return rest;
  };
  const checkpoints = run.checkpoints.map((c) => ({ checkpoint: c.checkpoint, step: c.step, ...strip(c.result) }));
  const head = { task: run.task, input: run.input, data: run.data, skipped: run.skipped };
  // One checkpoint: its numbers at the top level, as `eval --json` always printed them.
  if (checkpoints.length === 1) return { ...head, ...checkpoints[0] };
  return { ...head, checkpoints, paired: run.paired };
}

const clip = (s: string, n = 160): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function sftSection(r: SftResult, k: number): string[] {
  const order = r.perExample
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.scores.rougeL - a.e.scores.rougeL || b.e.scores.f1 - a.e.scores.f1 || a.i - b.i);
  const rows = (list: typeof order): string[][] => [
    ['line', 'prompt', 'reference', 'prediction', 'ROUGE-L', 'BLEU'],
    ...list.map(({ e }) => [
      String(e.line),
      clip(e.input),
      clip(e.reference),
      clip(e.prediction),
      e.scores.rougeL.toFixed(3),
      e.scores.bleu.toFixed(1),
    ]),
  ];
  const t = r.throughput;
  return [
    `Generated ${t.newTokens} tokens for ${t.examples} examples in ${t.seconds.toFixed(1)} s ` +
      `(${t.examplesPerSec.toFixed(2)} examples/s, ${t.tokensPerSec.toFixed(1)} tokens/s); ` +
      `${r.emptyPredictions} empty predictions, ${r.truncatedPrompts} prompts cut to fit.`,
    '',
    `### [${k}] best examples (by ROUGE-L F1)`,
    '',
    markdownTable(rows(order.slice(0, SHOWN))),
    '',
    `### [${k}] worst examples`,
    '',
    markdownTable(rows(order.slice(-SHOWN).reverse())),
  ];
}

function classifySection(r: ClassifyResult, k: number): string[] {
  const errors = r.perExample.filter((e) => !e.correct).sort((a, b) => b.confidence - a.confidence);
  const errRows = [
    ['line', 'text', 'true', 'predicted', 'confidence'],
    ...errors
      .slice(0, SHOWN)
      .map((e) => [String(e.line), clip(e.input), String(e.reference), String(e.prediction), e.confidence.toFixed(3)]),
  ];
  return [
    `![confusion matrix of [${k}]](confusion-${k}.svg) ![per-class precision, recall and F1 of [${k}]](per-class-${k}.svg)`,
    '',
    `### [${k}] confusion matrix (rows: true label, columns: predicted)`,
    '',
    markdownTable(confusionRows(r)),
    '',
    `### [${k}] per class`,
    '',
    markdownTable(perClassRows(r)),
    ...r.report.warnings.map((w) => `\n> warning: ${w}`),
    '',
    `### [${k}] most confident errors (${errors.length} errors in all)`,
    '',
    errors.length ? markdownTable(errRows) : 'none',
  ];
}

/** Generation, several checkpoints: the examples where each differs most from the first, side by side. */
function sftContrasts(run: EvalRun): string[] {
  const results = run.checkpoints.map((c) => c.result as SftResult);
  const out: string[] = [];
  for (let k = 1; k < results.length; k++) {
    const a = results[0]!.perExample;
    const b = results[k]!.perExample;
    const order = a
      .map((e, i) => ({ i, d: b[i]!.scores.rougeL - e.scores.rougeL }))
      .sort((x, y) => Math.abs(y.d) - Math.abs(x.d) || x.i - y.i)
      .slice(0, SHOWN);
    const rows = [['line', 'prompt', 'reference', '[1]', `[${k + 1}]`, 'ROUGE-L diff']];
    for (const { i, d } of order)
      rows.push([
        String(a[i]!.line),
        clip(a[i]!.input),
        clip(a[i]!.reference),
        clip(a[i]!.prediction),
        clip(b[i]!.prediction),
        d.toFixed(3),
      ]);
    out.push(`### [${k + 1}] vs [1]: the largest differences`, '', markdownTable(rows), '');
  }
  return out;
}

export function reportMarkdown(run: EvalRun): string {
  const out = [`# Evaluation: ${run.task} on ${run.input}`, ''];
  run.checkpoints.forEach((c, i) => out.push(`- [${i + 1}] \`${c.checkpoint}\` (step ${c.step})`));
  out.push('', '## Data', '', ...run.data.map((d) => `- ${d}`), `- records skipped: ${run.skipped}`, '');
  out.push('## Metrics', '', markdownTable(metricRows(run)), '');
  if (run.paired.length) out.push('## Paired differences', '', ...pairedLines(run.paired).map((l) => `- ${l}`), '');
  if (run.paired.length && run.task === 'sft') out.push(...sftContrasts(run));
  run.checkpoints.forEach((c, i) => {
    const r = c.result;
    if (r.task === 'lm') return;
    out.push(`## [${i + 1}] ${c.checkpoint}`, '');
    out.push(...(r.task === 'sft' ? sftSection(r, i + 1) : classifySection(r, i + 1)), '');
  });
  if (run.checkpoints.length > 1 && run.task === 'sft')
    out.push('## Blind comparison', '', 'Rate the outputs in [blind.md](blind.md); the key is blind-key.json.', '');
  return out.join('\n');
}

/** One JSON line per example and checkpoint. */
export function predictionLines(run: EvalRun): string {
  const lines: string[] = [];
  run.checkpoints.forEach((c, k) => {
    const r = c.result;
    if (r.task === 'lm') return;
    const base = (e: { line: number; input: string; reference: unknown; prediction: unknown }) => ({
      checkpoint: k + 1,
      line: e.line,
      input: e.input,
      reference: e.reference,
      prediction: e.prediction,
    });
    if (r.task === 'sft')
      for (const e of r.perExample) {
        const refs = e.references ? { references: e.references } : {};
        lines.push(JSON.stringify({ ...base(e), ...refs, scores: e.scores }));
      }
    else
      for (const e of r.perExample) {
        const scores = { correct: e.correct, confidence: e.confidence, pTrue: e.pTrue };
        lines.push(JSON.stringify({ ...base(e), scores }));
      }
  });
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** A fenced block that no backticks inside the text can close early. */
function fenced(text: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  return [fence, text, fence, ''];
}

/** The blind sheet and its key: per example, the outputs in a seeded random order. */
export function blindSheet(run: EvalRun, seed: number): { sheet: string; key: Record<string, unknown> } {
  const results = run.checkpoints.map((c) => c.result as SftResult);
  const n = results[0]!.perExample.length;
  const out = [
    '# Blind comparison',
    '',
    'For each example, rate or rank the outputs. Which model wrote which is in blind-key.json.',
    '',
  ];
  const order: number[][] = [];
  for (let i = 0; i < n; i++) {
    const perm = seededRng(seed, i).shuffle(results.map((_, k) => k));
    order.push(perm.map((k) => k + 1));
    const e = results[0]!.perExample[i]!;
    out.push(`## Example ${i + 1} (line ${e.line})`, '', '**Prompt:**', '', ...fenced(e.input));
    out.push('**Reference:**', '', ...fenced(e.reference));
    perm.forEach((k, j) => out.push(`**Output ${j + 1}:**`, '', ...fenced(results[k]!.perExample[i]!.prediction)));
    out.push('Rating: ', '');
  }
  const checkpoints = run.checkpoints.map((c, k) => ({ id: k + 1, checkpoint: c.checkpoint, step: c.step }));
  return {
    sheet: out.join('\n'),
    key: { seed, checkpoints, order: order.map((o, i) => ({ example: i + 1, outputs: o })) },
  };
}

/** Refuses to replace a folder that is not an earlier report (a mistyped --report never deletes work). */
function checkReportDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new CliError(`--report ${dir} exists and is not a folder`);
  const entries = readdirSync(dir);
  if (entries.length > 0 && !entries.includes(REPORT_FILE))
    throw new CliError(
      `--report ${dir} exists and does not hold an earlier eval report (no ${REPORT_FILE}); refusing to overwrite it`,
    );
}

/** Writes the whole report folder atomically. */
export function writeReport(dir: string, run: EvalRun, seed: number): string[] {
  checkReportDir(dir);
  const files: Record<string, string> = { [REPORT_FILE]: reportMarkdown(run) };
  if (run.task !== 'lm') files['predictions.jsonl'] = predictionLines(run);
  run.checkpoints.forEach((c, i) => {
    if (c.result.task !== 'classify') return;
    const rep = c.result.report;
    const labels = rep.labels.map(String);
    files[`confusion-${i + 1}.svg`] = confusionMatrixSvg(labels, rep.confusion, `Confusion matrix [${i + 1}]`);
    const bars = rep.perClass.map((p) => ({
      label: String(p.label),
      precision: p.precision,
      recall: p.recall,
      f1: p.f1,
    }));
    files[`per-class-${i + 1}.svg`] = perClassBarsSvg(bars, `Per-class precision, recall, F1 [${i + 1}]`);
  });
  if (run.task === 'sft' && run.checkpoints.length > 1) {
    const { sheet, key } = blindSheet(run, seed);
    files['blind.md'] = sheet;
    files['blind-key.json'] = JSON.stringify(key, null, 2) + '\n';
  }
  replaceDirAtomically(dir, REPORT_FILE, (tmp) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp, name), text);
  });
  return Object.keys(files);
}
