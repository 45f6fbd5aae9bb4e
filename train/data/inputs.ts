// Reading the corpus.
//
// - A path may be a file or a folder. Folders are walked recursively (sorted, hidden entries
//   skipped) for `.txt`, `.md`/`.markdown` and `.jsonl`/`.ndjson` files.
// - A `.jsonl` file holds one JSON object per line; the document is the string at `textField`
//   (a dotted path such as `meta.body` works too). Blank lines are ignored.
// - Any other file is plain text. **A plain-text file is split into paragraphs at runs of blank
//   lines, and consecutive paragraphs are packed into documents of at most `docChars` characters**
//   (a longer paragraph is a document of its own). A file shorter than `docChars` is therefore one
//   document, and a book becomes many document-sized chunks that deduplication and the train/val
//   split can work with. Paragraphs inside a document are separated by one blank line. With
//   `docChars` = 0 every file is exactly one document.
// - Text is decoded as strict UTF-8 (a leading BOM is dropped), line endings are unified to `\n`
//   and the text is normalised to Unicode NFC.
// - Bad input: a binary file (NUL bytes or mostly control bytes), a file or JSONL line that is not
//   valid UTF-8, a JSONL line that is not JSON or lacks the text field: each is skipped, counted in
//   the report and named (file and line) in a warning; with `strict` each is an error instead.
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { CliError } from '../cli-error.ts';

export type InputFormat = 'text' | 'jsonl';

export interface InputFile {
  path: string;
  /** What the report groups token shares by: the input path, or for a folder the input path plus its
   *  first-level entry (so `corpus/wiki/**` and `corpus/books/**` are two sources). */
  source: string;
  format: InputFormat;
  size: number;
}

export type SkipKind = 'binaryFile' | 'invalidUtf8' | 'malformedJson' | 'missingTextField';

export interface SkipEvent {
  kind: SkipKind;
  /** `file` or `file:line`. */
  where: string;
  /** What is wrong (without the consequence). */
  message: string;
  /** What was skipped: the whole file or one line. */
  unit: 'file' | 'line';
}

export interface RawDocument {
  text: string;
  source: string;
}

const TEXT_EXTS = new Set(['.txt', '.md', '.markdown']);
const JSONL_EXTS = new Set(['.jsonl', '.ndjson']);

/** Resolves the input paths to the list of files to read (deterministic order). */
export function collectInputFiles(inputs: readonly string[]): InputFile[] {
  if (inputs.length === 0) throw new CliError('no input given: pass --input <file|folder|file.jsonl>');
  const files: InputFile[] = [];
  const seenFiles = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new CliError(`input not found: ${input}`);
    const st = statSync(input);
    if (st.isDirectory()) {
      const found: InputFile[] = [];
      walk(input, input, found, new Set<string>());
      if (found.length === 0) {
        throw new CliError(`no .txt, .md or .jsonl files found under the folder ${input}`);
      }
      for (const f of found) {
        const real = realpathSync(f.path);
        if (!seenFiles.has(real)) {
          seenFiles.add(real);
          files.push(f);
        }
      }
    } else if (st.isFile()) {
      const real = realpathSync(input);
      if (seenFiles.has(real)) continue;
      seenFiles.add(real);
      const ext = extname(input).toLowerCase();
      files.push({ path: input, source: input, format: JSONL_EXTS.has(ext) ? 'jsonl' : 'text', size: st.size });
    } else {
      throw new CliError(`input is neither a file nor a folder: ${input}`);
    }
  }
  return files;
}

function walk(root: string, dir: string, out: InputFile[], seenDirs: Set<string>): void {
  const real = realpathSync(dir);
  if (seenDirs.has(real)) return; // symlink loop
  seenDirs.add(real);
  const entries = readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort();
  for (const name of entries) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue; // dangling symlink
    }
    if (st.isDirectory()) {
      walk(root, path, out, seenDirs);
    } else if (st.isFile()) {
      const ext = extname(name).toLowerCase();
      const format: InputFormat | undefined = TEXT_EXTS.has(ext) ? 'text' : JSONL_EXTS.has(ext) ? 'jsonl' : undefined;
      if (format === undefined) continue;
      const first = relative(root, path).split(sep)[0] ?? name;
      out.push({ path, source: join(root, first), format, size: st.size });
    }
  }
}

/** True when the bytes look like a binary file: a NUL byte, or over 10% control bytes, in the first 64 KiB. */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 65536);
  if (n === 0) return false;
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b === 0) return true;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control++;
  }
  return control / n > 0.1;
}

/** Offset of the first byte that is not part of valid UTF-8, or -1 when all of it is valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else {
      return i;
    }
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Strict UTF-8 decode; returns the 1-based line of the first invalid byte on failure. */
export function decodeUtf8(
  bytes: Uint8Array,
): { ok: true; text: string } | { ok: false; line: number; offset: number } {
  try {
    return { ok: true, text: fatalDecoder.decode(bytes) };
  } catch {
    const offset = Math.max(0, firstInvalidUtf8(bytes));
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    return { ok: false, line, offset };
  }
}

const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Line endings to `\n`, NFC, no BOM; lone surrogates (possible only via JSON escapes) become U+FFFD. */
export function normalizeText(text: string): string {
  let t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n');
  t = t.replace(LONE_SURROGATE_RE, '\uFFFD');
  return t.normalize('NFC');
}

/** Splits plain text into documents (see the module comment). */
export function splitTextDocuments(text: string, docChars: number): string[] {
  if (docChars <= 0) {
    const t = text.replace(/^\s*\n/, '').trimEnd();
    return t.trim() === '' ? [] : [t];
  }
  const paragraphs = text
    .split(/\n[ \t\f\v]*\n(?:[ \t\f\v]*\n)*/)
    .map((p) => p.replace(/^\n+/, '').trimEnd())
    .filter((p) => p.trim() !== '');
  const docs: string[] = [];
  let cur: string[] = [];
  let curLen = 0;
  for (const p of paragraphs) {
    const add = (cur.length > 0 ? 2 : 0) + p.length;
    if (cur.length > 0 && curLen + add > docChars) {
      docs.push(cur.join('\n\n'));
      cur = [];
      curLen = 0;
    }
    curLen += (cur.length > 0 ? 2 : 0) + p.length;
    cur.push(p);
  }
  if (cur.length > 0) docs.push(cur.join('\n\n'));
  return docs;
}

function getField(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  if (typeof cur === 'object' && cur !== null && path in cur) return (cur as Record<string, unknown>)[path];
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !(part in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export interface ReadOptions {
  textField: string;
  docChars: number;
  strict: boolean;
}

/**
 * Reads one input file and calls `onDoc` for each document, `onSkip` for each skipped record or file.
 * With `strict`, a skip throws a CliError naming the file and line instead.
 */
export function readInputFile(
  file: InputFile,
  opts: ReadOptions,
  onDoc: (doc: RawDocument) => void,
  onSkip: (skip: SkipEvent) => void,
): void {
  const skip = (s: SkipEvent): void => {
    if (opts.strict) throw new CliError(`${s.where}: ${s.message}`);
    onSkip(s);
  };
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file.path);
  } catch (err) {
    throw new CliError(`cannot read ${file.path}: ${(err as Error).message}`);
  }
  if (looksBinary(bytes)) {
    skip({
      kind: 'binaryFile',
      where: file.path,
      message: 'binary file (NUL or control bytes), not text',
      unit: 'file',
    });
    return;
  }
  if (file.format === 'text') {
    const dec = decodeUtf8(bytes);
    if (!dec.ok) {
      skip({
        kind: 'invalidUtf8',
        where: `${file.path}:${dec.line}`,
        message: `invalid UTF-8 (byte offset ${dec.offset})`,
        unit: 'file',
      });
      return;
    }
    for (const text of splitTextDocuments(normalizeText(dec.text), opts.docChars)) onDoc({ text, source: file.source });
    return;
  }
  // JSONL: split on \n at the byte level so that one bad line only costs that line.
  let start = 0;
  let line = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    line++;
    const raw = bytes.subarray(start, end);
    start = end + 1;
    const dec = decodeUtf8(raw);
    const where = `${file.path}:${line}`;
    if (!dec.ok) {
      skip({ kind: 'invalidUtf8', where, message: 'invalid UTF-8', unit: 'line' });
      continue;
    }
    const lineText = dec.text.replace(/^\uFEFF/, '').trim();
    if (lineText === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(lineText);
    } catch (err) {
      skip({ kind: 'malformedJson', where, message: `malformed JSON (${(err as Error).message})`, unit: 'line' });
      continue;
    }
    const value = getField(obj, opts.textField);
    if (typeof value !== 'string') {
      skip({
        kind: 'missingTextField',
        where,
        message: `no string field "${opts.textField}" (use --textField to choose another)`,
        unit: 'line',
      });
      continue;
    }
    const text = normalizeText(value);
    if (text.trim() !== '') onDoc({ text, source: file.source });
  }
}
