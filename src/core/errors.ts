/**
 * Errors meant for people. The CLI prints `message` on one line and exits with `exitCode`;
 * anything else is a bug and gets a stack trace with --debug.
 */

/** A wrong option value or argument: exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A problem with the user's files or environment found while running: exit code 1. */
export class InputError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Exit code for an error: 2 for usage, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}
