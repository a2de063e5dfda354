import type { Redis } from 'ioredis';
import type { LuminaConfig } from '../config/config.js';
import { findCatalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import type { Job } from '../db/jobs.js';
import { LocalEventBus, type EventBus } from '../events/job-events.js';
import type { JobExecutor, WorkerInfo } from '../jobs/executor.js';
import { ClusterExecutor, QueueSet } from '../queue/cluster-executor.js';
import { RedisEventBus } from '../queue/redis-event-bus.js';
import { RedisLedger } from '../queue/redis-ledger.js';
import { checkRedis, connectRedis } from '../queue/redis.js';
import { WorkerRegistry } from '../queue/worker-registry.js';
import { LocalRunner } from '../runner/local-runner.js';

/** Where `lumina serve` sends work and hears about it: queues on Redis, or this process. */
export interface Backend {
  mode: 'embedded' | 'cluster';
  executor: JobExecutor;
  bus: EventBus;
  redis: Redis | null;
  workers(): Promise<WorkerInfo[]>;
  queueDepths(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}

export async function openBackend(sql: Sql, config: LuminaConfig): Promise<Backend> {
  if (config.redisUrl) {
    const redis = connectRedis(config.redisUrl, 'api');
    try {
      await checkRedis(redis, config.redisUrl);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const queues = new QueueSet(redis, config.queuePrefix);
    const bus = new RedisEventBus(redis, config.redisUrl, config.queuePrefix);
    const registry = new WorkerRegistry(redis, config.queuePrefix);
    return {
      mode: 'cluster',
      executor: new ClusterExecutor(queues, new RedisLedger(redis, config.queuePrefix)),
      bus,
      redis,
      workers: () => registry.list(),
      queueDepths: () => queues.depths(),
      async close() {
        await bus.close();
        await queues.close();
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  }
  const bus = new LocalEventBus();
  const runner = new LocalRunner(sql, config, bus);
  await resumeLocalJobs(sql, runner);
  return {
    mode: 'embedded',
    executor: runner,
    bus,
    redis: null,
    workers: async () => [runner.info()],
    queueDepths: async () => ({}),
    async close() {
      await runner.close();
      await bus.close();
    },
  };
}

/** Local jobs a previous process left queued or running start again (their writes are idempotent). */
async function resumeLocalJobs(sql: Sql, runner: LocalRunner): Promise<void> {
  const jobs = await sql<Job[]>`
    select * from public.jobs where status in ('queued', 'running') and coalesce(params->>'runner', 'local') = 'local'
    order by created_at`;
  for (const job of jobs) {
    const catalog = job.catalog_id ? await findCatalog(sql, job.catalog_id) : null;
    if (catalog) await runner.submit(job, catalog);
  }
}
