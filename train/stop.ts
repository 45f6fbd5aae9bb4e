// Stopping a run cleanly: Ctrl-C (SIGINT), SIGTERM, SIGHUP or an AbortSignal ask the loop to
// finish the step, write a checkpoint and return; a second Ctrl-C a moment later quits at once
// (the last checkpoint stays intact).
//
// Exit statuses (the CLI's, documented in doc/interrupting.md): a run stopped by a signal exits
// with 128 + the signal's number once its checkpoint is on disk (SIGINT 130, SIGTERM 143, SIGHUP
// 129), as a shell reports a process killed by that signal, so scripts, `timeout` and service
// managers see "stopped", never the 0 of a finished run.

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The exit status of a run stopped by each signal: 128 + its number. */
export const STOP_EXIT_STATUS: Record<(typeof SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export class StopRequest {
  /** True once a stop was asked for: the loop checks it after every step. */
  requested = false;
  /** The signal that asked for the stop (null: none, or an abort). */
  signal: (typeof SIGNALS)[number] | null = null;
  private first = 0;
  private readonly handler = (sig: NodeJS.Signals): void => this.onSignal(sig);
  private listening = false;

  /** `say` prints a line for the user (above a progress bar, once there is one: see tellVia). */
  constructor(private say: (line: string) => void) {}

  /** Prints the stop messages through `say` from now on. */
  tellVia(say: (line: string) => void): this {
    this.say = say;
    return this;
  }

  /** Stops like a first Ctrl-C when `signal` is aborted. */
  follow(signal: AbortSignal | undefined): this {
    signal?.addEventListener('abort', () => (this.requested = true));
    return this;
  }

  /** Handles the process signals (the CLI; tests leave them alone). */
  listen(): this {
    for (const s of SIGNALS) process.on(s, this.handler);
    this.listening = true;
    return this;
  }

  dispose(): void {
    if (!this.listening) return;
    for (const s of SIGNALS) process.off(s, this.handler);
    this.listening = false;
  }

  private onSignal(sig: NodeJS.Signals): void {
    // One Ctrl-C often arrives more than once (the terminal signals the whole process group, and
    // npm and tsx relay it to their child too): only a second press a moment later quits at once.
    const now = performance.now();
    if (this.first === 0) {
      this.first = now;
      this.requested = true;
      this.signal = sig as (typeof SIGNALS)[number];
      this.say(
        sig === 'SIGINT'
          ? '\nCtrl-C: finishing this step and writing a checkpoint (press again to quit at once)'
          : `\n${sig}: finishing this step and writing a checkpoint`,
      );
    } else if (now - this.first > 1500) {
      process.stderr.write('\nquitting without a checkpoint (the last one is intact)\n');
      process.exit(STOP_EXIT_STATUS[sig as (typeof SIGNALS)[number]] ?? 130);
    }
  }
}
