// Configuration for every subcommand: a schema of keys (type, default, description), a JSON file
// (`--config f.json`) and command-line overrides (`--key=value` or `--key value`), in that order
// of precedence. Keys are camelCase and spelled the same in the file and on the command line
// (`--max-tokens`, `--max_tokens` and `--maxtokens` are accepted for `--maxTokens`). Unknown keys and
// values of the wrong type are CliErrors that name the key, so a typo never silently trains the
// wrong model. This is the only argument parser: every command and the bench runner use it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { AdamWConfig } from '../kernels/adamw.ts';
import { CliError } from './cli-error.ts';
import { DEFAULT_CLEANUP } from './data/cleanup.ts';
import { PREPARE_DEFAULTS } from './data/prepare.ts';
import { DEFAULT_BPE_VOCAB } from './tokenizers/index.ts';

export type KeyType = 'int' | 'number' | 'string' | 'boolean' | 'list';

type TypeFor<V> = [NonNullable<V>] extends [boolean]
  ? 'boolean'
  : [NonNullable<V>] extends [number]
    ? 'int' | 'number'
    : [NonNullable<V>] extends [readonly string[]]
      ? 'list'
      : 'string';

/** One configuration key. `default: null` means "unset" (the key is optional or derived). */
export interface AnyKeySpec {
  readonly type: KeyType;
  readonly default: unknown;
  readonly help: string;
  /** Heading the key is listed under in --help. */
  readonly group?: string;
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound (e.g. a learning rate > 0). */
  readonly above?: number;
  readonly choices?: readonly string[];
  /** Must be given (by the file or the command line). */
  readonly required?: boolean;
  /** Not listed in --help (test hooks). */
  readonly hidden?: boolean;
  /** Short flag, e.g. 'o' for -o. */
  readonly short?: string;
  /** Other long names accepted for the key (not listed in --help). */
  readonly aliases?: readonly string[];
  /** A list key that also collects the words that are not options, in command-line order. */
  readonly positional?: boolean;
  /** What --help shows as the value, e.g. '<dir>' (default from the type). */
  readonly arg?: string;
}

export type KeySpec<V = unknown> = AnyKeySpec & { readonly type: TypeFor<V>; readonly default: V };

export type Schema<T> = { readonly [K in keyof T]-?: KeySpec<T[K]> };

export interface ParsedConfig<T> {
  values: T;
  /** Where each value came from. */
  sources: Record<keyof T & string, 'default' | 'file' | 'cli'>;
  help: boolean;
  /** The --config file, resolved, if one was given. */
  configFile: string | null;
  /** Words that are not options (a subcommand may take them, e.g. a prompt), unless a positional
   *  list key takes them. */
  positional: string[];
  /** Options the schema does not know, with `passUnknown`: `--M 512` → { M: '512' }, a bare flag
   *  → 'true'. */
  unknown: Record<string, string>;
}

export interface ParseOptions {
  /** Hand unknown `--key [value]` options back in `unknown` instead of failing (the bench runner
   *  passes shape dimensions to its cases this way). */
  passUnknown?: boolean;
}

/** Spelling-insensitive form of a key: `--vocab-size`, `--vocab_size` and `--VocabSize` all name vocabSize. */
const normalizeKey = (s: string): string => s.replace(/[-_]/g, '').toLowerCase();

function describeType(spec: AnyKeySpec): string {
  switch (spec.type) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'list':
      return 'a list of strings';
    default:
      return spec.choices ? `one of ${spec.choices.join(', ')}` : 'a string';
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  const row = Array.from({ length: bl.length + 1 }, (_, i) => i);
  for (let i = 1; i <= al.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= bl.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (al[i - 1] === bl[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[bl.length]!;
}

export function suggest(key: string, known: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best && bestD <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** Checks a value's type and range; `where` prefixes the message (e.g. `--lr` or `config f.json: key "lr"`). */
function checkValue(key: string, spec: AnyKeySpec, v: unknown, where: string): unknown {
  if (v === null) {
    if (spec.default === null && !spec.required) return null;
    throw new CliError(`${where} must be ${describeType(spec)}, got null`);
  }
  const bad = (): never => {
    throw new CliError(`${where} must be ${describeType(spec)}, got ${JSON.stringify(v)}`);
  };
  switch (spec.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) bad();
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) bad();
      break;
    case 'boolean':
      if (typeof v !== 'boolean') bad();
      break;
    case 'list':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad();
      break;
    case 'string':
      if (typeof v !== 'string') bad();
      if (spec.choices && !spec.choices.includes(v as string)) {
        throw new CliError(`${where} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(v)}`);
      }
      break;
  }
  if (typeof v === 'number') {
    if (spec.min !== undefined && v < spec.min) throw new CliError(`${where} must be >= ${spec.min}, got ${v}`);
    if (spec.max !== undefined && v > spec.max) throw new CliError(`${where} must be <= ${spec.max}, got ${v}`);
    if (spec.above !== undefined && !(v > spec.above)) throw new CliError(`${where} must be > ${spec.above}, got ${v}`);
  }
  void key;
  return v;
}

/** Converts a command-line word to the key's type. */
function fromText(spec: AnyKeySpec, text: string, where: string): unknown {
  const t = text.trim();
  switch (spec.type) {
    case 'int':
    case 'number': {
      if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) {
        throw new CliError(`${where} must be ${describeType(spec)}, got "${text}"`);
      }
      return Number(t);
    }
    case 'boolean': {
      const l = t.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(l)) return true;
      if (['false', '0', 'no', 'off'].includes(l)) return false;
      throw new CliError(`${where} must be true or false, got "${text}"`);
    }
    default:
      if (spec.default === null && (t === 'null' || t === '')) return null;
      return text;
  }
}

/** Reads a --config file: a JSON object whose keys are schema keys. */
export function readConfigFile<T>(schema: Schema<T>, path: string, command: string): Partial<T> {
  if (!existsSync(path)) throw new CliError(`--config ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new CliError(`--config ${path}: is a folder, not a JSON file`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CliError(
      `--config ${path}: must hold a JSON object of {"key": value}, got ${Array.isArray(json) ? 'an array' : typeof json}`,
    );
  }
  const known = Object.keys(schema);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json)) {
    const spec = (schema as Record<string, AnyKeySpec>)[key];
    if (!spec) throw new CliError(`--config ${path}: unknown key "${key}" for ${command}${suggest(key, known)}`);
    out[key] = checkValue(key, spec, v, `--config ${path}: key "${key}"`);
  }
  return out as Partial<T>;
}

/** Finds the key a command-line flag names: the key itself in any spelling, an alias, a short flag,
 *  or `no<key>` for a boolean key (negated). */
class KeyIndex {
  private readonly byName = new Map<string, string>();
  private readonly byShort = new Map<string, string>();

  constructor(private readonly specs: Record<string, AnyKeySpec>) {
    for (const [key, spec] of Object.entries(specs)) {
      this.byName.set(normalizeKey(key), key);
      for (const a of spec.aliases ?? []) this.byName.set(normalizeKey(a), key);
      if (spec.short) this.byShort.set(spec.short, key);
    }
  }

  short(name: string): string | undefined {
    return this.byShort.get(name);
  }

  find(name: string): { key: string; negated: boolean } | undefined {
    const n = normalizeKey(name);
    const key = this.byName.get(n);
    if (key !== undefined) return { key, negated: false };
    const rest = n.startsWith('no') ? this.byName.get(n.slice(2)) : undefined;
    if (rest !== undefined && this.specs[rest]?.type === 'boolean') return { key: rest, negated: true };
    return undefined;
  }
}

const BOOLEAN_WORDS = ['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'];

/** The command line being read, word by word. */
class Words {
  i = 0;
  constructor(readonly argv: readonly string[]) {}
  peek(): string | undefined {
    return this.argv[this.i];
  }
  take(): string {
    return this.argv[this.i++]!;
  }
  /** The value of a flag: after `=`, else the next word unless that is a long flag. */
  value(name: string, inline: string | undefined, command: string): string {
    if (inline !== undefined) return inline;
    const v = this.peek();
    if (v === undefined || (v.startsWith('--') && v.length > 2))
      throw new CliError(`--${name} needs a value (see webgpu-gpt ${command} --help)`);
    return this.take();
  }
}

interface ReadArgs {
  cli: Record<string, unknown>;
  positional: string[];
  unknown: Record<string, string>;
  help: boolean;
  configFile: string | null;
}

/** Reads the value of a known key from the command line into `cli`. */
function readKey(
  cli: Record<string, unknown>,
  key: string,
  spec: AnyKeySpec,
  negated: boolean,
  inline: string | undefined,
  words: Words,
  command: string,
): void {
  const where = `--${key}`;
  if (negated) {
    if (inline !== undefined) throw new CliError(`--no-${key} takes no value`);
    cli[key] = false;
  } else if (spec.type === 'boolean' && inline === undefined) {
    const nxt = words.peek()?.toLowerCase();
    cli[key] = nxt !== undefined && BOOLEAN_WORDS.includes(nxt) ? fromText(spec, words.take(), where) : true;
  } else if (spec.type === 'list') {
    // --input a b c: the plain words after the flag belong to it too.
    const list = [words.value(key, inline, command)];
    while (inline === undefined && words.peek() !== undefined && !words.peek()!.startsWith('-'))
      list.push(words.take());
    cli[key] = [...((cli[key] as string[] | undefined) ?? []), ...list];
  } else {
    cli[key] = checkValue(key, spec, fromText(spec, words.value(key, inline, command), where), where);
  }
}

/** Reads the command line into { key: value } (values checked), positional words and unknown options. */
function readArgs(
  specs: Record<string, AnyKeySpec>,
  argv: readonly string[],
  command: string,
  opts: ParseOptions,
): ReadArgs {
  const index = new KeyIndex(specs);
  const listKey = Object.keys(specs).find((k) => specs[k]!.type === 'list' && specs[k]!.positional);
  const r: ReadArgs = { cli: {}, positional: [], unknown: {}, help: false, configFile: null };
  const isWord = (a: string): boolean => !a.startsWith('-') || a === '-' || /^-\d/.test(a);
  const addWord = (w: string): void => {
    if (listKey === undefined) r.positional.push(w);
    else r.cli[listKey] = [...((r.cli[listKey] as string[] | undefined) ?? []), w];
  };
  const words = new Words(argv);
  while (words.peek() !== undefined) {
    const arg = words.take();
    if (arg === '--') {
      while (words.peek() !== undefined) addWord(words.take());
      break;
    }
    if (isWord(arg)) {
      addWord(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let name = flag.startsWith('--') ? flag.slice(2) : flag.slice(1);
    if (!flag.startsWith('--')) {
      if (name === 'h') name = 'help';
      else if (index.short(name) !== undefined) name = index.short(name)!;
      else if (!opts.passUnknown)
        throw new CliError(`unknown option ${flag} for ${command} (see webgpu-gpt ${command} --help)`);
    }
    if (name === 'help') r.help = true;
    else if (name === 'config') r.configFile = words.value(name, inline, command);
    else {
      const found = index.find(name);
      if (found) readKey(r.cli, found.key, specs[found.key]!, found.negated, inline, words, command);
      else if (opts.passUnknown) {
        const next = words.peek();
        r.unknown[name] = inline ?? (next !== undefined && !next.startsWith('--') ? words.take() : 'true');
      } else {
        throw new CliError(
          `unknown option --${name} for ${command}${suggest(name, Object.keys(specs))} (see webgpu-gpt ${command} --help)`,
        );
      }
    }
  }
  return r;
}

/**
 * Parses a subcommand's arguments against its schema. `--config FILE` is read first, then every
 * `--key=value` / `--key value` / `--flag` / `--no-flag` overrides it. Returns the values (defaults
 * filled in) and where each came from. With `--help` the required keys are not checked.
 */
export function parseConfig<T>(
  schema: Schema<T>,
  argv: readonly string[],
  command: string,
  opts: ParseOptions = {},
): ParsedConfig<T> {
  const specs = schema as Record<string, AnyKeySpec>;
  const { cli, positional, unknown, help, configFile } = readArgs(specs, argv, command, opts);
  const file = configFile !== null ? readConfigFile(schema, configFile, command) : {};
  const values: Record<string, unknown> = {};
  const sources: Record<string, 'default' | 'file' | 'cli'> = {};
  for (const [key, spec] of Object.entries(specs)) {
    if (key in cli) {
      values[key] = cli[key];
      sources[key] = 'cli';
    } else if (key in file) {
      values[key] = (file as Record<string, unknown>)[key];
      sources[key] = 'file';
    } else {
      values[key] = Array.isArray(spec.default) ? [...(spec.default as unknown[])] : spec.default;
      sources[key] = 'default';
    }
    if (!help && spec.required && (values[key] === null || values[key] === '')) {
      throw new CliError(`--${key} is required for ${command} (see webgpu-gpt ${command} --help)`);
    }
  }
  return {
    values: values as T,
    sources: sources as ParsedConfig<T>['sources'],
    help,
    configFile,
    positional,
    unknown,
  };
}

/** The value placeholder --help shows after a key. */
function valueLabel(spec: AnyKeySpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.arg) return ` ${spec.arg}`;
  if (spec.type === 'list') return ' <text>...';
  if (spec.type === 'string') return spec.choices ? ` <${spec.choices.join('|')}>` : ' <text>';
  return spec.type === 'int' ? ' <int>' : ' <num>';
}

/** --help text: usage, description, then the keys by group with their defaults. */
export function formatHelp<T>(schema: Schema<T>, o: { usage: string; description: string; footer?: string }): string {
  const lines: string[] = [o.usage, '', o.description, ''];
  const groups = new Map<string, [string, AnyKeySpec][]>();
  for (const [key, spec] of Object.entries(schema as Record<string, AnyKeySpec>)) {
    if (spec.hidden) continue;
    const g = spec.group ?? 'options';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push([key, spec]);
  }
  const left = (key: string, spec: AnyKeySpec): string => {
    // A boolean that is on by default is only ever written as --no-<key>.
    const name = spec.type === 'boolean' && spec.default === true ? `no-${key}` : key;
    const short = spec.short ? `, -${spec.short}` : '';
    return `  --${name}${short}${valueLabel(spec)}`;
  };
  const width = Math.min(34, Math.max(...[...groups.values()].flat().map(([k, s]) => left(k, s).length)) + 2);
  for (const [g, keys] of groups) {
    lines.push(`${g}`);
    for (const [key, spec] of keys) {
      const l = left(key, spec);
      const def = spec.required
        ? ' (required)'
        : spec.default === null || spec.type === 'list' || (spec.type === 'boolean' && spec.default === true)
          ? ''
          : ` (default ${typeof spec.default === 'string' ? JSON.stringify(spec.default) : String(spec.default)})`;
      const text = `${spec.help}${def}`;
      if (l.length + 2 > width) lines.push(l, `${' '.repeat(width)}${text}`);
      else lines.push(`${l.padEnd(width)}${text}`);
    }
    lines.push('');
  }
  lines.push('  --config <file.json>'.padEnd(width) + 'read keys from a JSON object; command-line keys override it');
  lines.push('  --help, -h'.padEnd(width) + 'this text');
  if (o.footer) lines.push('', o.footer);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The subcommands' schemas

export const MODEL_PRESETS = ['tiny', 'mini', 'small', 'medium', 'gpt2'] as const;

/** Everything `pretrain` reads. Saved as `<run dir>/config.json` once resolved. */
export interface TrainConfig {
  data: string | null;
  out: string | null;
  resume: string | null;
  // model
  model: string;
  nLayer: number | null;
  nHead: number | null;
  nEmbd: number | null;
  blockSize: number | null;
  dropout: number;
  // batch
  batchSize: number;
  tokensPerStep: number;
  // length
  steps: number;
  maxMinutes: number;
  // optimizer
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  gradClip: number;
  seed: number;
  // evaluation
  evalEvery: number;
  evalBatches: number;
  sampleTokens: number;
  samplePrompt: string;
  sampleTemperature: number;
  sampleTopK: number;
  // output
  keepCheckpoints: number;
  progress: string;
  gpuWait: string;
  maxBadSteps: number;
}

export const TRAIN_SCHEMA: Schema<TrainConfig> = {
  data: {
    type: 'string',
    default: null,
    group: 'data',
    help: 'folder written by `webgpu-gpt prepare` (train.bin, val.bin, tokenizer.json, report.json)',
  },
  out: {
    type: 'string',
    default: null,
    group: 'data',
    short: 'o',
    help: 'run folder: config.json, metrics.jsonl, loss.svg, checkpoints/, summary.json',
  },
  resume: {
    type: 'string',
    default: null,
    group: 'data',
    help: 'continue the stopped run in this folder (its saved config is used; --steps, --maxMinutes, --evalEvery, --lr, --minLr, --gradClip and the sampling keys may change)',
  },
  model: {
    type: 'string',
    default: 'small',
    choices: MODEL_PRESETS,
    group: 'model',
    help: 'model preset (model/config.ts); the keys below override it',
  },
  nLayer: { type: 'int', default: null, min: 1, group: 'model', help: 'transformer blocks' },
  nHead: { type: 'int', default: null, min: 1, group: 'model', help: 'attention heads' },
  nEmbd: { type: 'int', default: null, min: 4, group: 'model', help: 'width of the residual stream' },
  blockSize: { type: 'int', default: null, min: 1, group: 'model', help: 'context length T' },
  dropout: { type: 'number', default: 0, min: 0, max: 0.95, group: 'model', help: 'dropout probability' },
  batchSize: { type: 'int', default: 16, min: 1, group: 'batch', help: 'sequences per micro-batch (B)' },
  tokensPerStep: {
    type: 'int',
    default: 0,
    min: 0,
    group: 'batch',
    help: 'tokens per optimizer step: micro-batches are accumulated up to it (0 = one micro-batch, B·T)',
  },
  steps: {
    type: 'int',
    default: 2000,
    min: 1,
    group: 'schedule',
    help: 'optimizer steps (the cosine schedule ends here)',
  },
  maxMinutes: {
    type: 'number',
    default: 0,
    min: 0,
    group: 'schedule',
    help: 'time budget: after a few steps the step count is set from the measured step time so the run ends in time (0 = off)',
  },
  lr: { type: 'number', default: 1e-3, above: 0, group: 'optimizer', help: 'peak learning rate' },
  minLr: { type: 'number', default: 1e-4, min: 0, group: 'optimizer', help: 'floor of the cosine decay' },
  warmupSteps: { type: 'int', default: 100, min: 0, group: 'optimizer', help: 'linear warmup steps' },
  weightDecay: {
    type: 'number',
    default: 0.1,
    min: 0,
    group: 'optimizer',
    help: 'AdamW weight decay (matrices and embeddings only)',
  },
  beta1: { type: 'number', default: 0.9, min: 0, max: 0.999999, group: 'optimizer', help: 'AdamW beta1' },
  beta2: { type: 'number', default: 0.95, min: 0, max: 0.999999, group: 'optimizer', help: 'AdamW beta2' },
  eps: { type: 'number', default: 1e-8, above: 0, group: 'optimizer', help: 'AdamW epsilon' },
  gradClip: {
    type: 'number',
    default: 1,
    min: 0,
    group: 'optimizer',
    help: 'clip the gradient to this global norm (0 = off; the optimizer calls it maxNorm)',
  },
  seed: {
    type: 'int',
    default: 1337,
    min: 0,
    max: 0xffffffff,
    group: 'optimizer',
    help: 'seed of the weights, the batches and dropout: same seed, same run',
  },
  evalEvery: {
    type: 'int',
    default: 250,
    min: 0,
    group: 'evaluation',
    help: 'evaluate, sample and checkpoint every N steps (0 = only at the end)',
  },
  evalBatches: {
    type: 'int',
    default: 16,
    min: 1,
    group: 'evaluation',
    help: 'validation batches per evaluation (a fixed set)',
  },
  sampleTokens: {
    type: 'int',
    default: 160,
    min: 0,
    group: 'evaluation',
    help: 'tokens of sample text at each evaluation (0 = none)',
  },
  samplePrompt: {
    type: 'string',
    default: '',
    group: 'evaluation',
    help: 'prompt of the samples (empty = start from end-of-text)',
  },
  sampleTemperature: {
    type: 'number',
    default: 0.8,
    min: 0,
    group: 'evaluation',
    help: 'sampling temperature of the samples',
  },
  sampleTopK: { type: 'int', default: 40, min: 0, group: 'evaluation', help: 'top-k of the samples (0 = off)' },
  keepCheckpoints: {
    type: 'int',
    default: 3,
    min: 1,
    group: 'output',
    help: 'checkpoints kept in <run dir>/checkpoints',
  },
  progress: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'bar', 'lines', 'off'],
    group: 'output',
    help: 'progress display: a bar on a terminal, a line every few seconds in logs',
  },
  gpuWait: {
    type: 'string',
    default: 'spin',
    choices: ['spin', 'sleep'],
    group: 'output',
    help: 'waiting for a readback: spin (fastest; a busy JS thread) or sleep (leaves the CPU core to other processes)',
  },
  maxBadSteps: {
    type: 'int',
    default: 5,
    min: 1,
    group: 'output',
    help: 'stop after this many non-finite steps in a row',
  },
};

/**
 * The optimizer's hyperparameters from the training keys: the one place where the user's key
 * `gradClip` becomes AdamWConfig's `maxNorm` (the name every lower layer uses).
 */
export function adamwConfig(cfg: TrainConfig): AdamWConfig {
  return { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay, maxNorm: cfg.gradClip };
}

/** The resolved configuration as `key=value` words in lines of at most `width` characters (hidden keys left out). */
export function formatConfig(cfg: TrainConfig, width: number): string[] {
  const words: string[] = [];
  for (const [k, spec] of Object.entries(TRAIN_SCHEMA) as [string, AnyKeySpec][]) {
    if (spec.hidden || k === 'data' || k === 'out' || k === 'resume') continue;
    const v = (cfg as unknown as Record<string, unknown>)[k];
    if (v === null) continue;
    words.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

export interface GenerateConfig {
  checkpoint: string | null;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  tokenizer: string | null;
  allowTokenizerMismatch: boolean;
  infill: string | null;
  prefix: string | null;
  suffix: string | null;
  fimMode: string;
}

const INFILL_GROUP = 'infilling (a model pre-trained on data prepared with --fimRate)';

export const GENERATE_SCHEMA: Schema<GenerateConfig> = {
  checkpoint: {
    type: 'string',
    default: null,
    required: true,
    short: 'c',
    help: 'a run folder (its latest good checkpoint) or a checkpoint file',
  },
  prompt: { type: 'string', default: '', short: 'p', help: 'text to continue (empty = start from end-of-text)' },
  maxTokens: { type: 'int', default: 200, min: 1, short: 'n', help: 'tokens to generate' },
  temperature: { type: 'number', default: 0.8, min: 0, help: 'sampling temperature (0 = greedy)' },
  topK: { type: 'int', default: 40, min: 0, help: 'sample among the k most likely tokens (0 = off)' },
  topP: {
    type: 'number',
    default: 1,
    above: 0,
    max: 1,
    help: 'nucleus sampling: the smallest set of tokens with this much probability (1 = off)',
  },
  seed: { type: 'int', default: 0, min: 0, max: 0xffffffff, help: 'sampling seed' },
  tokenizer: { type: 'string', default: null, help: 'tokenizer.json to use instead of the one the checkpoint records' },
  allowTokenizerMismatch: {
    type: 'boolean',
    default: false,
    help: "accept a --tokenizer whose id differs from the checkpoint's (with a warning; the vocabulary must still fit)",
  },
  infill: {
    type: 'string',
    default: null,
    group: INFILL_GROUP,
    help: 'text with one gap marked [MASK]: prints the text with the gap filled',
  },
  prefix: {
    type: 'string',
    default: null,
    group: INFILL_GROUP,
    help: 'the text before the gap (instead of --infill)',
  },
  suffix: {
    type: 'string',
    default: null,
    group: INFILL_GROUP,
    help: 'the text after the gap (instead of --infill)',
  },
  fimMode: {
    type: 'string',
    default: 'psm',
    choices: ['psm', 'spm'],
    group: INFILL_GROUP,
    help: 'the order of the infilling prompt, as in training: psm or spm',
  },
};

export interface EvalConfig {
  checkpoint: string[] | null;
  input: string | null;
  task: string | null;
  json: boolean;
  report: string | null;
  batchSize: number;
  maxBatches: number;
  maxExamples: number;
  prompt: string | null;
  target: string | null;
  textField: string | null;
  labelField: string | null;
  references: string | null;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  tokenizer: string | null;
  allowTokenizerMismatch: boolean;
  infillMode: string;
  infillContextChars: number;
}

export const EVAL_SCHEMA: Schema<EvalConfig> = {
  checkpoint: {
    type: 'list',
    default: null,
    required: true,
    short: 'c',
    arg: '<path>...',
    help: 'a run folder (its latest good checkpoint) or a checkpoint; several (repeat the flag) are compared on the same examples',
  },
  input: {
    type: 'string',
    default: null,
    required: true,
    short: 'i',
    help: 'lm: a text file or a prepared folder (its val.bin); sft, classify: a JSONL file; infill: a text file (its paragraphs) or a prepared folder (its validation documents)',
  },
  task: {
    type: 'string',
    default: null,
    choices: ['lm', 'sft', 'classify', 'infill'],
    help: "default: the checkpoint's fine-tuning task for a .jsonl input, else lm",
  },
  json: { type: 'boolean', default: false, help: 'print one JSON object instead of text' },
  report: { type: 'string', default: null, help: 'write report.md, predictions.jsonl and pictures into this folder' },
  batchSize: {
    type: 'int',
    default: 8,
    min: 1,
    help: 'windows (lm) or examples per batch; sft generation: prompts at once (unset: the generator picks)',
  },
  maxBatches: { type: 'int', default: 0, min: 0, help: 'lm: evaluate at most this many batches (0 = the whole text)' },
  maxExamples: {
    type: 'int',
    default: 0,
    min: 0,
    help: 'sft, classify, infill: evaluate the first this many records or documents (0 = all)',
  },
  prompt: {
    type: 'string',
    default: null,
    help: "sft: the prompt template (default: the checkpoint's, else {prompt})",
  },
  target: {
    type: 'string',
    default: null,
    help: "sft: the target template (default: the checkpoint's, else {completion})",
  },
  textField: { type: 'string', default: null, help: "classify: the text field (default: the checkpoint's, else text)" },
  labelField: {
    type: 'string',
    default: null,
    help: "classify: the label field (default: the checkpoint's, else label)",
  },
  references: {
    type: 'string',
    default: null,
    help: 'sft: a field holding the reference or a list of references to score against (default: the target)',
  },
  maxNewTokens: {
    type: 'int',
    default: 32,
    min: 1,
    help: 'sft, infill: new tokens per example at most (stops at end-of-text)',
  },
  temperature: { type: 'number', default: 0, min: 0, help: 'sft: sampling temperature (0 = greedy)' },
  topK: { type: 'int', default: 0, min: 0, help: 'sft: sample from the k most likely tokens (0 = all)' },
  topP: { type: 'number', default: 1, above: 0, max: 1, help: 'sft: nucleus sampling mass (1 = all)' },
  seed: { type: 'int', default: 0, min: 0, max: 0xffffffff, help: "sampling seed, and the blind sheet's shuffle" },
  tokenizer: { type: 'string', default: null, help: 'tokenizer.json to use instead of the one the checkpoint records' },
  allowTokenizerMismatch: {
    type: 'boolean',
    default: false,
    help: "accept a --tokenizer whose id differs from the checkpoint's (with a warning; the vocabulary must still fit)",
  },
  infillMode: {
    type: 'string',
    default: 'psm',
    choices: ['psm', 'spm', 'l2r'],
    help: 'infill: the FIM prompt order, or l2r: the left-to-right baseline any model runs (sees the prefix only)',
  },
  infillContextChars: {
    type: 'int',
    default: 0,
    min: 0,
    help: 'infill: keep about this many characters (whole words) of prefix and of suffix around each gap (0 = all)',
  },
};

/** Everything `prepare` reads; train/cli/prepare.ts turns it into PrepareOptions. */
export interface PrepareConfig {
  input: string[];
  textField: string;
  docChars: number;
  strict: boolean;
  tokenizer: string;
  vocabSize: number | null;
  valFraction: number;
  seed: number;
  task: string;
  maxSentenceChars: number;
  exactDup: boolean;
  nearDup: boolean;
  nearDupThreshold: number;
  noise: boolean;
  controlChars: boolean;
  markup: boolean;
  boilerplate: boolean;
  tooShort: boolean;
  nonLetter: boolean;
  minChars: number;
  minLetterFraction: number;
  anonymize: boolean;
  fimRate: number;
  fimMode: string;
  fimChars: number;
  out: string | null;
  quiet: boolean;
}

const RULES_GROUP = 'cleanup (every rule is on by default; --no-<rule> switches one off)';
const rule = (help: string, aliases: string[] = []): KeySpec<boolean> => ({
  type: 'boolean',
  default: true,
  group: RULES_GROUP,
  help,
  aliases,
});

// Ranges are checked by prepare() itself (it is also called as a function), so the messages are
// the same either way.
export const PREPARE_SCHEMA: Schema<PrepareConfig> = {
  input: {
    type: 'list',
    default: [],
    short: 'i',
    aliases: ['inputs'],
    positional: true,
    arg: '<path>...',
    group: 'inputs',
    help: 'files or folders (searched for .txt, .md, .jsonl); without any, the Moby-Dick corpus',
  },
  textField: {
    type: 'string',
    default: PREPARE_DEFAULTS.textField,
    arg: '<name>',
    group: 'inputs',
    help: 'JSONL field with the text (dotted paths like meta.body work)',
  },
  docChars: {
    type: 'int',
    default: PREPARE_DEFAULTS.docChars,
    group: 'inputs',
    help: 'plain text: paragraphs packed into documents of at most n characters (0 = one per file)',
  },
  strict: {
    type: 'boolean',
    default: false,
    group: 'inputs',
    help: 'bad records (binary, invalid UTF-8, malformed JSONL) are errors, not counted skips',
  },
  tokenizer: {
    type: 'string',
    default: PREPARE_DEFAULTS.tokenizer,
    choices: ['gpt2', 'bpe', 'char'],
    group: 'tokenizer',
    help: "gpt2 (GPT-2's BPE, 50257 ids), bpe (trained here) or char",
  },
  vocabSize: {
    type: 'int',
    default: null,
    aliases: ['vocab'],
    group: 'tokenizer',
    help: `bpe: vocabulary size (default ${DEFAULT_BPE_VOCAB}); char: cap on the vocabulary`,
  },
  valFraction: {
    type: 'number',
    default: PREPARE_DEFAULTS.valFraction,
    aliases: ['val'],
    group: 'split',
    help: 'share of the characters for validation (--task nsp: of the documents, for val and for test each)',
  },
  seed: { type: 'int', default: PREPARE_DEFAULTS.seed, group: 'split', help: 'seed of the split' },
  task: {
    type: 'string',
    default: 'text',
    choices: ['text', 'nsp'],
    group: 'task',
    help: 'text: token shards for pre-training; nsp: next-sentence pairs as classify JSONL (train/data/nsp.ts)',
  },
  maxSentenceChars: {
    type: 'int',
    default: 0,
    min: 0,
    group: 'task',
    help: 'nsp: only sentences of at most n characters make pairs (0 = any length)',
  },
  exactDup: rule('exact duplicates (whitespace-normalised text)', ['dedup']),
  nearDup: rule('near duplicates (MinHash + LSH over word 5-shingles)'),
  nearDupThreshold: {
    type: 'number',
    default: DEFAULT_CLEANUP.nearDupThreshold,
    aliases: ['threshold'],
    group: RULES_GROUP,
    help: 'Jaccard threshold for near duplicates',
  },
  noise: rule('all five noise rules below'),
  controlChars: rule('control characters', ['control']),
  markup: rule('HTML tags, comments, entities', ['html']),
  boilerplate: rule('navigation-like and boilerplate lines'),
  tooShort: rule('documents under --minChars characters', ['short']),
  nonLetter: rule('documents under --minLetterFraction letters'),
  minChars: {
    type: 'int',
    default: DEFAULT_CLEANUP.minChars,
    group: RULES_GROUP,
    help: 'documents shorter than this are noise',
  },
  minLetterFraction: {
    type: 'number',
    default: DEFAULT_CLEANUP.minLetterFraction,
    group: RULES_GROUP,
    help: 'documents with a smaller share of letters (of non-space characters) are noise',
  },
  anonymize: rule('e-mail, phone, IP and card numbers -> <EMAIL> <PHONE> <IP> <CARD>', ['anonymise']),
  fimRate: {
    type: 'number',
    default: PREPARE_DEFAULTS.fimRate,
    group: 'fill-in-the-middle',
    help: 'share of train documents cut at two random places and rearranged as <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle (the tokenizer gains the 3 sentinels; 0 = off)',
  },
  fimMode: {
    type: 'string',
    default: PREPARE_DEFAULTS.fimMode,
    choices: ['psm', 'spm'],
    group: 'fill-in-the-middle',
    help: 'psm (prefix, suffix, middle) or spm (suffix, then prefix and middle)',
  },
  fimChars: {
    type: 'int',
    default: PREPARE_DEFAULTS.fimChars,
    group: 'fill-in-the-middle',
    help: 'cut documents into fragments of about n characters, each one rearranged at --fimRate and ended with end-of-text, so that examples fit a short context (0 = whole documents)',
  },
  out: {
    type: 'string',
    default: null,
    required: true,
    short: 'o',
    aliases: ['output'],
    arg: '<dir>',
    group: 'output',
    help: 'output folder (replaced if it holds an earlier prepare output)',
  },
  quiet: {
    type: 'boolean',
    default: false,
    short: 'q',
    aliases: ['noProgress'],
    group: 'output',
    help: 'no progress output',
  },
};
