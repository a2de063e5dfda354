/** What went wrong, in terms both the CLI (exit code) and the API (HTTP status) can map. */
export type ErrorKind = 'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable';

/** An error whose message is meant for the user as it is: printed on one line, no stack. */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly kind: ErrorKind = 'invalid',
    /** A finer code for API clients than the kind's own (e.g. 'validation_failed'). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** The code of the UserError a second process gets for an embedded data directory in use (the token commands then reach a running server instead). */
export const DATA_DIR_IN_USE = 'data_dir_in_use';

/** The message of anything thrown, on one line. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').trim() || 'unknown error';
}
