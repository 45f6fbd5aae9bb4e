// `npm run bench -- <kernel...|all|train> [--json FILE] [--quick] [--runs N] [--<dim> value ...]`
// The runner itself is bench/harness.ts (runBench); this file only sets the exit status:
// 0 all good, 1 a case failed validation or running, 2 a command-line mistake.
import { destroyRuntime } from '../engine/runtime.ts';
import { BenchUsageError, runBench } from './harness.ts';

try {
  const { failures } = await runBench(process.argv.slice(2));
  process.exitCode = failures.length > 0 ? 1 : 0;
} catch (e) {
  if (e instanceof BenchUsageError) {
    console.error(e.message);
    process.exitCode = 2;
  } else {
    console.error(e);
    process.exitCode = 1;
  }
} finally {
  await destroyRuntime();
}
