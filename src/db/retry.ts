import { isConnectionLost } from './errors.js';

/**
 * Runs an idempotent database call again when the connection under it was lost (a restarted
 * server, a terminated backend): the client reconnects for the next attempt. Other errors, and a
 * connection still lost after the last attempt, are thrown.
 */
export async function withReconnect<T>(call: () => Promise<T>, attempts = 4, delayMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts || !isConnectionLost(err)) throw err;
      await new Promise((r) => setTimeout(r, delayMs * attempt));
    }
  }
}
