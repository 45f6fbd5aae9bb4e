// The table of the issue-15 demo (train/pretrain-demo.ts): the left-to-right validation loss and
// infilling of a plain and a FIM pre-training, and next-sentence prediction from the plain base
// vs from scratch vs chance; as text for the terminal and Markdown for results.md.
import { join } from 'node:path';
import type { InfillMode } from './infill.ts';
import { atomicWrite } from './run-dir.ts';

export interface PretrainRow {
  steps: number;
  /** Left-to-right loss on the validation split (plain text for both runs), nats/token. */
  valLoss: number | null;
  sec: number;
}

export interface InfillRow {
  mode: InfillMode;
  documents: number;
  /** Share of documents whose masked words were filled exactly, in [0, 1]. */
  exactMatch: number;
  /** Mean loss on the masked tokens, nats/token. */
  middleLoss: number;
}

export interface NspScore {
  accuracy: number;
  macroF1: number;
}

export interface PretrainDemoResults {
  date: string;
  quick: boolean;
  settings: unknown;
  pretrain: { plain: PretrainRow; fim: PretrainRow };
  infill: { plainL2r: InfillRow; fimPsm: InfillRow; fimL2r: InfillRow };
  nsp: { testPairs: number; fromBase: NspScore; fromScratch: NspScore };
  totalSec: number;
}

const f3 = (x: number | null): string => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(3));
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');

/** The rows: what, steps, val loss, infill exact match, middle loss, NSP accuracy (macro-F1). */
function rows(r: PretrainDemoResults): string[][] {
  const { plain, fim } = r.pretrain;
  const i = r.infill;
  const nsp = (s: NspScore) => `${f3(s.accuracy)} (${f3(s.macroF1)})`;
  return [
    [
      'plain pre-training, infill scored left-to-right',
      `${plain.steps}`,
      f3(plain.valLoss),
      pct(i.plainL2r.exactMatch),
      f3(i.plainL2r.middleLoss),
      '',
    ],
    [
      'FIM pre-training, infill with prefix + suffix (PSM)',
      `${fim.steps}`,
      f3(fim.valLoss),
      pct(i.fimPsm.exactMatch),
      f3(i.fimPsm.middleLoss),
      '',
    ],
    ['FIM pre-training, infill from the prefix alone', '', '', pct(i.fimL2r.exactMatch), f3(i.fimL2r.middleLoss), ''],
    ['NSP fine-tuned from the plain pre-trained base', '', '', '', '', nsp(r.nsp.fromBase)],
    ['NSP fine-tuned from scratch (same shape, budget)', '', '', '', '', nsp(r.nsp.fromScratch)],
    ['chance', '', '', '', '', '0.500'],
  ];
}

const HEAD = ['model', 'steps', 'val loss (l2r)', 'infill exact match', 'middle loss', 'NSP test accuracy (macro-F1)'];

/** The table, aligned for the terminal or as Markdown. */
export function formatTable(r: PretrainDemoResults, markdown = false): string {
  const all = [HEAD, ...rows(r)];
  const w = HEAD.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => cell.padEnd(w[c]!))
      .join(markdown ? ' | ' : '  ')
      .trimEnd();
  const out = all.map((row) => (markdown ? `| ${row.map((cell, c) => cell.padEnd(w[c]!)).join(' | ')} |` : line(row)));
  out.splice(
    1,
    0,
    markdown ? `| ${w.map((n) => '-'.repeat(n)).join(' | ')} |` : w.map((n) => '-'.repeat(n)).join('  '),
  );
  return out.join('\n');
}

/** The report's text: title, table, what the numbers were measured on. */
export function formatPretrainDemo(r: PretrainDemoResults, markdown = false): string {
  const quick = r.quick ? ' (--quick smoke run: tiny budgets, the numbers mean nothing)' : '';
  const i = r.infill.fimPsm;
  const notes = [
    `infill: ${i.documents} held-out documents, 1-3 seeded words masked in each, filled greedily; middle loss in nats/token`,
    `NSP: ${r.nsp.testPairs} held-out test pairs (half "next"); ${(r.totalSec / 60).toFixed(1)} min in all`,
  ].map((l) => (markdown ? `- ${l}` : l));
  return [`pre-training demo (issue 15), ${r.date}${quick}`, '', formatTable(r, markdown), '', ...notes].join('\n');
}

/** Writes results.md and results.json into `dir` (each atomically); returns their paths. */
export function writePretrainDemo(dir: string, r: PretrainDemoResults): { md: string; json: string } {
  const md = join(dir, 'results.md');
  const json = join(dir, 'results.json');
  atomicWrite(md, `# Pre-training demo: FIM and NSP\n\n${formatPretrainDemo(r, true)}\n`);
  atomicWrite(json, JSON.stringify(r, null, 2) + '\n');
  return { md, json };
}
