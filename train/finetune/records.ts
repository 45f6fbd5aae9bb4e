// Fine-tuning task records read from JSONL: `sft` records become a prompt and a target through
// `{field}` templates, `classify` records a text and a label, and optionally a second text (a
// sentence pair, as `prepare --task nsp` writes: the `text2` field by default). Malformed input
// (bad JSON, a template or a label field that a record does not have, mixed label types) is a
// one-line error naming the file, line and field; records that are well-formed but unusable (an empty text, no label) are
// skipped and counted by reason in a report, never dropped silently.
import { readFileSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import type { Label } from '../eval/classification.ts';

export type { Label };

/** Bad fine-tuning data or options; the message names the file, line, field or key. */
export class FinetuneDataError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = 'FinetuneDataError';
  }
}

/** What happened to the records of one file. */
export interface RecordReport {
  file: string;
  /** Non-blank lines (records) read. */
  records: number;
  used: number;
  skipped: number;
  /** Skipped records per reason. */
  reasons: Record<string, number>;
  /** The first few skipped records as `file:line: reason`, for the run's report. */
  examples: string[];
}

const MAX_EXAMPLES = 5;

export function emptyReport(file: string): RecordReport {
  return { file, records: 0, used: 0, skipped: 0, reasons: {}, examples: [] };
}

export function countSkip(report: RecordReport, line: number, reason: string): void {
  report.skipped++;
  report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
  if (report.examples.length < MAX_EXAMPLES) report.examples.push(`${report.file}:${line}: ${reason}`);
}

/** One line for a run's log, e.g. `a.jsonl: 2,998 of 3,001 records used; skipped: 3 empty text`. */
export function formatReport(r: RecordReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const head = `${r.file}: ${n(r.used)} of ${n(r.records)} records used`;
  if (r.skipped === 0) return head;
  const why = Object.entries(r.reasons).map(([reason, count]) => `${n(count)} ${reason}`);
  return `${head}; skipped: ${why.join(', ')}`;
}

/** A JSON object and the 1-based line it came from. */
export interface Row {
  line: number;
  value: Record<string, unknown>;
}

/** Parses JSONL; blank lines are not records. Bad JSON or a non-object line is an error. */
export function parseJsonl(text: string, file: string): Row[] {
  const rows: Row[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const src = lines[i] as string;
    if (src.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(src);
    } catch (e) {
      throw new FinetuneDataError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw new FinetuneDataError(`${file}:${i + 1}: expected a JSON object, got ${got}`);
    }
    rows.push({ line: i + 1, value: value as Record<string, unknown> });
  }
  return rows;
}

/** Plain objects (e.g. a JSON array's items) as rows numbered from 1. */
export function rowsOf(values: readonly Record<string, unknown>[]): Row[] {
  return values.map((value, i) => ({ line: i + 1, value }));
}

/** A `{field}` template: literal text and field names alternate (`{{` and `}}` are literal braces). */
export interface Template {
  source: string;
  /** literals.length === fields.length + 1. */
  literals: string[];
  fields: string[];
}

export function parseTemplate(source: string, what: string): Template {
  const literals: string[] = [];
  const fields: string[] = [];
  let lit = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if ((c === '{' || c === '}') && source[i + 1] === c) {
      lit += c;
      i++;
    } else if (c === '{') {
      const end = source.indexOf('}', i + 1);
      const name = end < 0 ? '' : source.slice(i + 1, end);
      if (end < 0 || name === '' || name.includes('{')) {
        throw new FinetuneDataError(`${what} template ${JSON.stringify(source)}: "{" at ${i} opens no {field}`);
      }
      literals.push(lit);
      fields.push(name);
      lit = '';
      i = end;
    } else if (c === '}') {
      throw new FinetuneDataError(`${what} template ${JSON.stringify(source)}: unmatched "}" at ${i}`);
    } else lit += c;
  }
  literals.push(lit);
  return { source, literals, fields };
}

/** A field's value as text, or the reason the record cannot be used. */
type FieldText = { text: string } | { skip: string };

function fieldText(row: Row, field: string, file: string, what: string): FieldText {
  if (!Object.hasOwn(row.value, field)) {
    const has = Object.keys(row.value).join(', ') || 'none';
    throw new FinetuneDataError(
      `${file}:${row.line}: ${what} names field "${field}", which this record lacks (fields: ${has})`,
    );
  }
  const v = row.value[field];
  if (v === null || v === '') return { skip: `empty ${field}` };
  if (typeof v === 'string') return { text: v };
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v) };
  return { skip: `${field} is not text` };
}

/** Fills a template from one record. A field the record lacks is an error; an empty one a skip. */
export function fillTemplate(t: Template, row: Row, file: string, what: string): FieldText {
  let out = t.literals[0] as string;
  for (let k = 0; k < t.fields.length; k++) {
    const v = fieldText(row, t.fields[k] as string, file, what);
    if ('skip' in v) return v;
    out += v.text + (t.literals[k + 1] as string);
  }
  return { text: out };
}

export interface SftRecord {
  prompt: string;
  target: string;
  /** Line in the data file (index + 1 for in-memory data). */
  line: number;
}

export interface SftOptions {
  /** Default `{prompt}`. */
  prompt?: string;
  /** Default `{completion}`. */
  target?: string;
}

export const DEFAULT_PROMPT_TEMPLATE = '{prompt}';
export const DEFAULT_TARGET_TEMPLATE = '{completion}';

/** `sft` records: prompt and target from the templates; an empty target is skipped and counted. */
export function sftRecords(
  rows: readonly Row[],
  file: string,
  opts: SftOptions = {},
): { records: SftRecord[]; report: RecordReport } {
  const prompt = parseTemplate(opts.prompt ?? DEFAULT_PROMPT_TEMPLATE, '--prompt');
  const target = parseTemplate(opts.target ?? DEFAULT_TARGET_TEMPLATE, '--target');
  const report = emptyReport(file);
  const records: SftRecord[] = [];
  for (const row of rows) {
    report.records++;
    const p = fillTemplate(prompt, row, file, '--prompt template');
    const t = fillTemplate(target, row, file, '--target template');
    const skip = 'skip' in p ? p.skip : 'skip' in t ? t.skip : t.text === '' ? 'empty target' : null;
    if (skip !== null) countSkip(report, row.line, skip);
    else records.push({ prompt: (p as { text: string }).text, target: (t as { text: string }).text, line: row.line });
  }
  report.used = records.length;
  return { records, report };
}

export function readSft(path: string, opts: SftOptions = {}): { records: SftRecord[]; report: RecordReport } {
  return sftRecords(parseJsonl(readText(path), path), path, opts);
}

export interface ClassifyRecord {
  text: string;
  /** The second segment of a sentence pair (joined to `text` by the end-of-text id, examples.ts). */
  text2?: string;
  label: Label;
  line: number;
}

export interface ClassifyOptions {
  /** Default `text`. */
  textField?: string;
  /** Default `label`. */
  labelField?: string;
  /** Field of a pair's second text, default `text2`. Optional per record: a record without it (or
   *  with null) is a single text; with it, an empty second text is skipped and counted. */
  pairField?: string;
  /** The label set, in this order; records with another label are skipped and counted. Default:
   *  every label seen, sorted (numbers numerically, strings by code unit). */
  labels?: readonly Label[];
}

export interface ClassifyData {
  records: ClassifyRecord[];
  /** The label set: a record's class index is its label's index here. */
  labels: Label[];
  report: RecordReport;
}

/** A record's label, or the reason it cannot be used. Labels are strings or integers. */
function labelOf(row: Row, field: string, file: string): { label: Label } | { skip: string } {
  if (!Object.hasOwn(row.value, field)) {
    const has = Object.keys(row.value).join(', ') || 'none';
    throw new FinetuneDataError(
      `${file}:${row.line}: no "${field}" field for the label (fields: ${has}; see --labelField)`,
    );
  }
  const v = row.value[field];
  if (v === null || v === '') return { skip: 'no label' };
  if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) return { label: v };
  return { skip: 'label neither a string nor an integer' };
}

export const DEFAULT_PAIR_FIELD = 'text2';

/** A pair's second text, or null for a record without the pair field (or with null there). */
function pairText(row: Row, field: string, file: string): FieldText | null {
  if (!Object.hasOwn(row.value, field) || row.value[field] === null) return null;
  const v = fieldText(row, field, file, 'the pair field');
  return 'text' in v && v.text.trim() === '' ? { skip: `empty ${field}` } : v;
}

/** `classify` records. Labels must be all strings or all integers (an error names the line). */
export function classifyRecords(rows: readonly Row[], file: string, opts: ClassifyOptions = {}): ClassifyData {
  const textField = opts.textField ?? 'text';
  const labelField = opts.labelField ?? 'label';
  const pairField = opts.pairField ?? DEFAULT_PAIR_FIELD;
  const allowed = opts.labels ? new Set<Label>(opts.labels) : null;
  const report = emptyReport(file);
  const records: ClassifyRecord[] = [];
  let kind: { type: string; line: number } | null = null;
  for (const row of rows) {
    report.records++;
    const text = fieldText(row, textField, file, '--textField');
    const text2 = pairText(row, pairField, file);
    const label = labelOf(row, labelField, file);
    let skip = 'skip' in text ? text.skip : text2 && 'skip' in text2 ? text2.skip : 'skip' in label ? label.skip : null;
    if (skip === null && (text as { text: string }).text.trim() === '') skip = `empty ${textField}`;
    if (skip === null && allowed && !allowed.has((label as { label: Label }).label))
      skip = 'label not in the label set';
    if (skip !== null) {
      countSkip(report, row.line, skip);
      continue;
    }
    const l = (label as { label: Label }).label;
    if (kind && kind.type !== typeof l) {
      throw new FinetuneDataError(
        `${file}:${row.line}: label ${JSON.stringify(l)} is a ${typeof l}, but the label on line ${kind.line} is a ${kind.type}`,
      );
    }
    kind ??= { type: typeof l, line: row.line };
    const pair = text2 ? { text2: (text2 as { text: string }).text } : {};
    records.push({ text: (text as { text: string }).text, ...pair, label: l, line: row.line });
  }
  report.used = records.length;
  return { records, labels: opts.labels ? [...opts.labels] : sortLabels(records.map((r) => r.label)), report };
}

export function readClassify(path: string, opts: ClassifyOptions = {}): ClassifyData {
  return classifyRecords(parseJsonl(readText(path), path), path, opts);
}

/** The distinct labels, numbers numerically and strings by code unit. */
export function sortLabels(labels: readonly Label[]): Label[] {
  const set = [...new Set(labels)];
  return set.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1));
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new FinetuneDataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
