// Replaces an output folder atomically: everything is written into a temporary folder beside it,
// which is renamed into place only once complete. A failed or interrupted run leaves the previous
// folder as it was; the temporary folders of dead processes are removed by the next run.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError } from '../cli-error.ts';

const TMP_PREFIX = '.prepare-tmp-';
const OLD_PREFIX = '.prepare-old-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary folders that interrupted runs (dead processes) left beside `out`. */
function removeStaleTemps(out: string): void {
  const parent = dirname(out);
  const base = basename(out);
  for (const name of readdirSync(parent)) {
    for (const prefix of [TMP_PREFIX, OLD_PREFIX]) {
      const head = `.${base}${prefix}`;
      if (!name.startsWith(head)) continue;
      const pid = Number.parseInt(name.slice(head.length), 10);
      if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid))
        rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
}

/** Checks that `out` can be replaced: it does not exist, is empty, or holds `marker` (a file only
 *  this tool writes), so a mistyped --out never deletes someone's folder. */
export function checkReplaceable(out: string, marker: string): void {
  if (!existsSync(out)) return;
  const st = statSync(out);
  if (!st.isDirectory()) throw new CliError(`--out ${out} exists and is not a folder`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes(marker)) {
    throw new CliError(
      `--out ${out} exists and does not hold a previous prepare output (no ${marker}); refusing to overwrite it`,
    );
  }
}

/** Moves the finished temporary folder into place; the old output (if any) is removed afterwards. */
function commit(tmp: string, out: string, marker: string): void {
  checkReplaceable(out, marker);
  if (!existsSync(out)) {
    renameSync(tmp, out);
    return;
  }
  const old = join(dirname(out), `.${basename(out)}${OLD_PREFIX}${process.pid}-${Date.now()}`);
  renameSync(out, old);
  try {
    renameSync(tmp, out);
  } catch (err) {
    renameSync(old, out);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
}

/** Calls `write(tmp)` on a fresh temporary folder beside `out`, then renames it to `out`. If `write`
 *  throws, the temporary folder goes and `out` stays as it was. */
export function replaceDirAtomically(out: string, marker: string, write: (tmp: string) => void): void {
  mkdirSync(dirname(out), { recursive: true });
  removeStaleTemps(out);
  const tmp = join(dirname(out), `.${basename(out)}${TMP_PREFIX}${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    write(tmp);
    commit(tmp, out, marker);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
