import { Redis } from 'ioredis';
import { UserError, messageOf } from '../util/errors.js';

/**
 * A Redis connection that waits out a Redis restart instead of failing: commands queue while it
 * reconnects (BullMQ workers need exactly this: maxRetriesPerRequest null).
 */
export function connectRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: `lumina-${name}`,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2000),
    lazyConnect: false,
  });
  // Connection errors are retried by ioredis; logging each one would flood the log during a restart.
  let warned = 0;
  redis.on('error', (err) => {
    const now = Date.now();
    if (now - warned > 10_000) {
      warned = now;
      process.stderr.write(`lumina: redis (${name}): ${messageOf(err)}\n`);
    }
  });
  return redis;
}

/** Fails fast with a clear message when Redis cannot be reached at start. */
export async function checkRedis(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  const ping = redis.ping();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new UserError(`cannot reach Redis at ${redactUrl(url)} (REDIS_URL)`, 'unavailable')), timeoutMs).unref(),
  );
  await Promise.race([ping, timeout]);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

/** Deletes every key under a prefix (tests, `lumina queue purge`). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
