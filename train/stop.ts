// Stopping a run cleanly: Ctrl-C (SIGINT), SIGTERM, SIGHUP or an AbortSignal ask the loop to
// finish the step, write a checkpoint and return; a second Ctrl-C a moment later quits at once
// (the last checkpoint stays intact).

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class StopRequest {
  /** True once a stop was asked for: the loop checks it after every step. */
  requested = false;
  private first = 0;
  private readonly handler = (sig: NodeJS.Signals): void => this.onSignal(sig);
  private listening = false;

  /** `say` prints a line for the user (above a progress bar). */
  constructor(private readonly say: (line: string) => void) {}

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
      this.say(
        sig === 'SIGINT'
          ? '\nCtrl-C: finishing this step and writing a checkpoint (press again to quit at once)'
          : `\n${sig}: finishing this step and writing a checkpoint`,
      );
    } else if (now - this.first > 1500) {
      process.stderr.write('\nquitting without a checkpoint (the last one is intact)\n');
      process.exit(130);
    }
  }
}
