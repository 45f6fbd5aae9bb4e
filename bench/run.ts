// `npm run bench -- <kernel...|all|train> [--json FILE] [--quick] [--runs N] [--<dim> value ...]`
// (also `webgpu-gpt bench ...`). The runner itself is bench/harness.ts (runBench); this file only
// sets the exit status: 0 all good, 1 a case failed validation or running, 2 a command-line mistake.
import { destroyRuntime } from '../kernels/gpu/runtime.ts';
import { BenchUsageError, runBench } from './harness.ts';

export async function benchMain(argv: string[]): Promise<number> {
  try {
    const { failures } = await runBench(argv);
    return failures.length > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof BenchUsageError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(e);
    return 1;
  } finally {
    await destroyRuntime();
  }
}

if (process.argv[1]?.endsWith('bench/run.ts')) process.exitCode = await benchMain(process.argv.slice(2));
