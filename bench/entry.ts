// What the benches of a whole program (train, generate, finetune) share: their flags' parsing
// (with the runner's own flags accepted), main(argv) for the bench runner, the last result for its
// --json, and the block that runs such a file alone with `npx tsx bench/<name>.bench.ts ...`.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { destroyRuntime } from '../kernels/gpu/runtime.ts';
import { PRESET_NAMES } from '../model/config.ts';
import { CliError } from '../train/cli-error.ts';
import { parseConfig, type Schema } from '../train/config.ts';
import { BenchUsageError } from './harness.ts';

/** The bench runner's own flags, passed along with the rest of the command line: accepted, unused. */
interface RunnerFlags {
  runs: number | null;
  naive: boolean;
  ceilings: boolean;
  timing: string | null;
}

const RUNNER_FLAGS: Schema<RunnerFlags> = {
  runs: { type: 'int', default: null, min: 1, help: "the runner's" },
  naive: { type: 'boolean', default: true, help: "the runner's" },
  ceilings: { type: 'boolean', default: true, help: "the runner's" },
  timing: { type: 'string', default: null, help: "the runner's" },
};

/** A model dimension flag: a positive int, default null (the preset's). */
export const dimFlag = (help: string) => ({ type: 'int', default: null, min: 1, help }) as const;

/** --json and the model's shape: a preset, each dimension of which a flag may override. */
interface ShapeFlags {
  json: string | null;
  preset: string;
  nLayer: number | null;
  nHead: number | null;
  nEmbd: number | null;
  blockSize: number | null;
}

const SHAPE_FLAGS: Schema<ShapeFlags> = {
  json: { type: 'string', default: null, help: 'write the result as JSON' },
  preset: { type: 'string', default: 'mini', choices: PRESET_NAMES, help: 'model preset' },
  nLayer: dimFlag('transformer blocks'),
  nHead: dimFlag('attention heads'),
  nEmbd: dimFlag('width'),
  blockSize: dimFlag('context length T'),
};

/** The flags every whole-program bench has: the model's shape, --json and the runner's own. */
export interface BenchFlags extends ShapeFlags, RunnerFlags {}

export const BENCH_FLAGS: Schema<BenchFlags> = { ...SHAPE_FLAGS, ...RUNNER_FLAGS };

/**
 * The flags of the bench `name` from the runner's command line (the word `name` left out); a
 * command-line mistake becomes a BenchUsageError followed by `usage`.
 */
export function parseBenchFlags<T>(
  schema: Schema<T>,
  argv: readonly string[],
  name: string,
  usage: string,
): { flags: T; help: boolean } {
  try {
    const parsed = parseConfig(
      schema,
      argv.filter((a) => a !== name),
      `bench ${name}`,
    );
    return { flags: parsed.values, help: parsed.help };
  } catch (e) {
    if (e instanceof CliError)
      throw new BenchUsageError(`${e.message.replace(/ \(see webgpu-gpt .*\)$/, '')}\n${usage}`);
    throw e;
  }
}

export interface BenchEntry {
  /** Runs the bench; 0 done, 1 it failed, 2 a command-line mistake (printed alone). */
  main(argv: string[]): Promise<number>;
  /** The last run's result: the bench runner writes it to --json (alone, or after the kernel records). */
  lastResult(): unknown;
}

/** main() and lastResult() of the bench `name`, whose run returns its result (null: nothing ran, e.g. --help). */
export function benchEntry(name: string, run: (argv: string[]) => Promise<unknown>): BenchEntry {
  let last: unknown = null;
  return {
    async main(argv) {
      try {
        const res = await run(argv);
        if (res != null) last = res;
        return 0;
      } catch (e) {
        if (e instanceof BenchUsageError) {
          console.error(`error: ${e.message}`);
          return 2;
        }
        console.error(`${name} bench: ${(e as Error).message}`);
        return 1;
      }
    },
    lastResult: () => last,
  };
}

/**
 * When the module at moduleUrl is the script node was started with, runs its bench on the command
 * line, writes the result to --json FILE, and exits with main's status; otherwise does nothing.
 */
export async function runIfStandalone(moduleUrl: string, entry: BenchEntry): Promise<void> {
  if (!process.argv[1] || moduleUrl !== new URL(`file://${resolve(process.argv[1])}`).href) return;
  const argv = process.argv.slice(2);
  const rc = await entry.main(argv);
  const json = argv.indexOf('--json');
  if (rc === 0 && json >= 0 && argv[json + 1])
    writeFileSync(resolve(argv[json + 1]!), JSON.stringify(entry.lastResult(), null, 2) + '\n');
  await destroyRuntime();
  process.exit(rc);
}
