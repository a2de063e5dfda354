import type { Redis } from 'ioredis';
import type { JobLedger, ScanCounts } from '../jobs/ledger.js';
import { keys } from './names.js';

const TTL_MS = 7 * 24 * 3600 * 1000;

// KEYS: job hash, shard hash. ARGV: shard, done, failed, ttl. Applies a shard's count only when it
// grew (a retried shard starts again from 0), keeping the job's sums in step, atomically.
const RECORD = `
local prev = redis.call('HGET', KEYS[2], ARGV[1])
local pd, pf = 0, 0
if prev then
  local comma = string.find(prev, ',')
  pd = tonumber(string.sub(prev, 1, comma - 1))
  pf = tonumber(string.sub(prev, comma + 1))
end
local d, f = tonumber(ARGV[2]), tonumber(ARGV[3])
if d > pd then
  if f < pf then f = pf end
  redis.call('HSET', KEYS[2], ARGV[1], d .. ',' .. f)
  redis.call('HINCRBY', KEYS[1], 'done', d - pd)
  redis.call('HINCRBY', KEYS[1], 'failed', f - pf)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return redis.call('HMGET', KEYS[1], 'total', 'done', 'failed', 'started', 'discovering')
`;

/** The job ledger shared by every worker host, kept in Redis. */
export class RedisLedger implements JobLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async begin(jobId: string, total: number, discovering = false): Promise<void> {
    const key = keys.job(this.prefix, jobId);
    await this.redis.multi().hset(key, 'total', total, 'discovering', discovering ? 1 : 0).hsetnx(key, 'started', Date.now()).pexpire(key, TTL_MS).exec();
  }

  async record(jobId: string, shard: number, done: number, failed: number): Promise<ScanCounts> {
    const [total, d, f, started, discovering] = (await this.redis.eval(
      RECORD,
      2,
      keys.job(this.prefix, jobId),
      keys.jobShards(this.prefix, jobId),
      shard,
      done,
      failed,
      TTL_MS,
    )) as (string | null)[];
    return { total: Number(total ?? 0), done: Number(d ?? 0), failed: Number(f ?? 0), startedAt: Number(started ?? Date.now()), discovering: discovering === '1' };
  }

  async cancel(jobId: string): Promise<void> {
    const key = keys.job(this.prefix, jobId);
    await this.redis.multi().hset(key, 'cancelled', 1).pexpire(key, TTL_MS).exec();
  }

  async isCancelled(jobId: string): Promise<boolean> {
    return (await this.redis.hget(keys.job(this.prefix, jobId), 'cancelled')) === '1';
  }

  async forget(jobId: string): Promise<void> {
    // The cancel flag outlives the counts briefly so that late shards still see it.
    await this.redis.multi().hdel(keys.job(this.prefix, jobId), 'total', 'done', 'failed', 'started', 'discovering').del(keys.jobShards(this.prefix, jobId)).exec();
  }
}
