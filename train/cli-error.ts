/**
 * An error caused by the user's input (bad flag, missing file, unusable corpus). The CLI prints
 * `error: <message>` and exits with status 1 instead of a stack trace.
 */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}
