// `eval --task sft --references <field>`: score the generations against a field that holds one
// reference or a list of them (BLEU and SQuAD take the best over several references, as several
// gold answers or translations are meant), instead of the filled target template. A field that is
// missing, not text, or an empty list is an error naming the file and line: a silently dropped
// reference would change every score.
import { readFileSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import { parseJsonl, type Row } from '../finetune/records.ts';

function referencesOf(row: Row, field: string, file: string): string[] {
  const where = `${file}:${row.line}: --references field "${field}"`;
  if (!Object.hasOwn(row.value, field)) {
    const has = Object.keys(row.value).join(', ') || 'none';
    throw new CliError(
      `${file}:${row.line}: --references names field "${field}", which this record lacks (fields: ${has})`,
    );
  }
  const v = row.value[field];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw new CliError(`${where} must be a string or a list of strings, got ${JSON.stringify(v)}`);
  if (v.length === 0) throw new CliError(`${where} is an empty list (at least one reference is needed)`);
  const bad = v.findIndex((x) => typeof x !== 'string');
  if (bad >= 0)
    throw new CliError(
      `${where}: item ${bad} is ${JSON.stringify(v[bad])}, not a string (a list of strings is expected)`,
    );
  return v as string[];
}

/** The references of each record, by the record's line. */
export function readReferences(file: string, field: string, lines: readonly number[]): string[][] {
  const rows = new Map(parseJsonl(readFileSync(file, 'utf8'), file).map((r) => [r.line, r]));
  return lines.map((line) => referencesOf(rows.get(line)!, field, file));
}
