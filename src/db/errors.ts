/** PostgreSQL and connection error codes, recognized in one place. */

/** The client's (postgres.js), Node's socket and the server's codes for a connection that went away. */
const CONNECTION_LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);

function codeOf(err: unknown): string | undefined {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** A unique_violation (23505), of the named constraint when one is given (postgres.js's `constraint_name`). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return codeOf(err) === '23505' && (constraint === undefined || (err as { constraint_name?: unknown }).constraint_name === constraint);
}

/** The connection to the server was lost or could not be made: the work can be retried on a new one. */
export function isConnectionLost(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && CONNECTION_LOST.has(code);
}
