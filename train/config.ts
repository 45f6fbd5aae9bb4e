// Configuration for every subcommand: a schema of keys (type, default, description), a JSON file
// (`--config f.json`) and command-line overrides (`--key=value` or `--key value`), in that order
// of precedence. Keys are camelCase and spelled the same in the file and on the command line
// (`--max-tokens` is accepted as an alias of `--maxTokens`). Unknown keys and values of the wrong
// type are CliErrors that name the key, so a typo never silently trains the wrong model.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { CliError } from './cli-error.ts';

export type KeyType = 'int' | 'number' | 'string' | 'boolean';

type TypeFor<V> = [NonNullable<V>] extends [boolean]
  ? 'boolean'
  : [NonNullable<V>] extends [number]
    ? 'int' | 'number'
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
  /** Words that are not options (a subcommand may take them, e.g. a prompt). */
  positional: string[];
}

const kebabToCamel = (s: string): string => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function describeType(spec: AnyKeySpec): string {
  switch (spec.type) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
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

/**
 * Parses a subcommand's arguments against its schema. `--config FILE` is read first, then every
 * `--key=value` / `--key value` / `--flag` / `--no-flag` overrides it. Returns the values (defaults
 * filled in) and where each came from. With `--help` the required keys are not checked.
 */
export function parseConfig<T>(schema: Schema<T>, argv: readonly string[], command: string): ParsedConfig<T> {
  const specs = schema as Record<string, AnyKeySpec>;
  const known = Object.keys(specs);
  const shorts = new Map<string, string>();
  for (const [k, s] of Object.entries(specs)) if (s.short) shorts.set(s.short, k);
  const cli: Record<string, unknown> = {};
  const positional: string[] = [];
  let help = false;
  let configFile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let name = flag.startsWith('--') ? flag.slice(2) : flag.slice(1);
    if (!flag.startsWith('--')) {
      if (name === 'h') name = 'help';
      else if (shorts.has(name)) name = shorts.get(name)!;
      else throw new CliError(`unknown option ${flag} for ${command} (see webgpu-gpt ${command} --help)`);
    }
    if (name === 'help') {
      help = true;
      continue;
    }
    const nextValue = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2))
        throw new CliError(`--${name} needs a value (see webgpu-gpt ${command} --help)`);
      i++;
      return v;
    };
    if (name === 'config') {
      configFile = nextValue();
      continue;
    }
    let key = specs[name] ? name : kebabToCamel(name);
    let negated = false;
    if (!specs[key] && /^no-?[a-zA-Z]/.test(name)) {
      const rest = kebabToCamel(name.replace(/^no-?/, ''));
      const k2 = rest.charAt(0).toLowerCase() + rest.slice(1);
      if (specs[k2]?.type === 'boolean') {
        key = k2;
        negated = true;
      }
    }
    const spec = specs[key];
    if (!spec)
      throw new CliError(
        `unknown option --${name} for ${command}${suggest(name, known)} (see webgpu-gpt ${command} --help)`,
      );
    const where = `--${key}`;
    if (negated) {
      if (inline !== undefined) throw new CliError(`--no-${key} takes no value`);
      cli[key] = false;
    } else if (spec.type === 'boolean' && inline === undefined) {
      const nxt = argv[i + 1]?.toLowerCase();
      if (nxt !== undefined && ['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'].includes(nxt)) {
        cli[key] = fromText(spec, argv[++i]!, where);
      } else cli[key] = true;
    } else {
      cli[key] = checkValue(key, spec, fromText(spec, nextValue(), where), where);
    }
  }
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
      values[key] = spec.default;
      sources[key] = 'default';
    }
    if (!help && spec.required && (values[key] === null || values[key] === '')) {
      throw new CliError(`--${key} is required for ${command} (see webgpu-gpt ${command} --help)`);
    }
  }
  return { values: values as T, sources: sources as ParsedConfig<T>['sources'], help, configFile, positional };
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
    const short = spec.short ? `, -${spec.short}` : '';
    const arg =
      spec.type === 'boolean'
        ? ''
        : spec.type === 'string'
          ? spec.choices
            ? ` <${spec.choices.join('|')}>`
            : ' <text>'
          : spec.type === 'int'
            ? ' <int>'
            : ' <num>';
    return `  --${key}${short}${arg}`;
  };
  const width = Math.min(34, Math.max(...[...groups.values()].flat().map(([k, s]) => left(k, s).length)) + 2);
  for (const [g, keys] of groups) {
    lines.push(`${g}`);
    for (const [key, spec] of keys) {
      const l = left(key, spec);
      const def = spec.required
        ? ' (required)'
        : spec.default === null
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
  // test hooks
  injectNanSteps: string;
  stopAfterSteps: number;
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
    help: 'continue the stopped run in this folder (its saved config is used; --steps/--maxMinutes may extend it)',
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
    help: 'clip the gradient to this global norm (0 = off)',
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
  injectNanSteps: {
    type: 'string',
    default: '',
    hidden: true,
    help: 'test hook: comma-separated steps whose gradient is poisoned with NaN',
  },
  stopAfterSteps: {
    type: 'int',
    default: 0,
    min: 0,
    hidden: true,
    help: 'test hook: stop (as on Ctrl-C) after this many steps of this session',
  },
};

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
}

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
};

export interface EvalConfig {
  checkpoint: string | null;
  input: string | null;
  json: boolean;
  batchSize: number;
  maxBatches: number;
  tokenizer: string | null;
  allowTokenizerMismatch: boolean;
}

export const EVAL_SCHEMA: Schema<EvalConfig> = {
  checkpoint: {
    type: 'string',
    default: null,
    required: true,
    short: 'c',
    help: 'a run folder (its latest good checkpoint) or a checkpoint file',
  },
  input: { type: 'string', default: null, required: true, short: 'i', help: 'text file to evaluate on' },
  json: { type: 'boolean', default: false, help: 'print one JSON object instead of text' },
  batchSize: { type: 'int', default: 8, min: 1, help: 'windows per batch' },
  maxBatches: { type: 'int', default: 0, min: 0, help: 'evaluate at most this many batches (0 = the whole text)' },
  tokenizer: { type: 'string', default: null, help: 'tokenizer.json to use instead of the one the checkpoint records' },
  allowTokenizerMismatch: {
    type: 'boolean',
    default: false,
    help: "accept a --tokenizer whose id differs from the checkpoint's (with a warning; the vocabulary must still fit)",
  },
};
