import { isConnectionLost } from '../db/errors.js';

/** How transports tell a backing service that went away (database, Redis) from a bug. */
export function isServiceUnavailable(err: unknown): boolean {
  return isConnectionLost(err) || (err as { code?: string })?.code === 'ECONNREFUSED';
}
