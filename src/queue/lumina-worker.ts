import { Worker, type Processor } from 'bullmq';
import os from 'node:os';
import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { workerInfo, type WorkerInfo } from '../jobs/executor.js';
import { failJob } from '../jobs/claim.js';
import { openShardWork } from '../jobs/shard-work.js';
import { ProgressPublisher } from '../jobs/progress-publisher.js';
import { RateMeter } from '../runner/rate-meter.js';
import { UserError, messageOf } from '../util/errors.js';
import { QueueSet } from './cluster-executor.js';
import { DEFAULT_QUEUES, QUEUE_NAMES, type QueueName, type ShardPayload } from './names.js';
import { createOrganizeProcessors } from './organize-processors.js';
import { createProcessors } from './processors.js';
import { createDedupeProcessors } from './dedupe-processors.js';
import { openDedupeWork, type DedupeWork } from '../jobs/dedupe-work.js';
import { RedisEventBus } from './redis-event-bus.js';
import { RedisLedger } from './redis-ledger.js';
import { connectRedis } from './redis.js';
import { WorkerRegistry } from './worker-registry.js';

/** Queues whose work, failing for good, fails the whole job (a shard's failure is reported by finalize instead). */
const JOB_ENDING = new Set<QueueName>(['discover', 'finalize', 'dedupe', 'organize']);

export interface WorkerOptions {
  /** Shards in flight at once on this host (the thread pool is shared by them). */
  concurrency: number;
  queues: QueueName[];
  /** How long a lost worker's shard stays locked before another worker takes it. */
  lockMs: number;
  /** On shutdown, how long running shards may go on before they are handed back. */
  graceMs: number;
}

/**
 * `lumina worker`: consumes the queues on this host's thread pool, announces itself with a
 * heartbeat, and on shutdown finishes or hands back its shards.
 */
export class LuminaWorker {
  readonly id = `${os.hostname()}-${process.pid}`;
  readonly #redis;
  readonly #queues: QueueSet;
  readonly #registry: WorkerRegistry;
  readonly #bus: RedisEventBus;
  readonly #publisher: ProgressPublisher;
  readonly #ledger: RedisLedger;
  readonly #shardWork: ReturnType<typeof openShardWork>;
  readonly #meter = new RateMeter();
  readonly #shutdown = new AbortController();
  readonly #workers: Worker[] = [];
  readonly #startedAt = new Date();
  #stopping: Promise<void> | null = null;
  #active = 0;
  readonly #dedupeWork: DedupeWork;

  constructor(
    private readonly sql: Sql,
    private readonly config: LuminaConfig & { redisUrl: string },
    private readonly opts: WorkerOptions,
  ) {
    this.#redis = connectRedis(config.redisUrl, 'worker');
    this.#queues = new QueueSet(this.#redis, config.queuePrefix);
    this.#registry = new WorkerRegistry(this.#redis, config.queuePrefix);
    this.#bus = new RedisEventBus(this.#redis, config.redisUrl, config.queuePrefix);
    this.#ledger = new RedisLedger(this.#redis, config.queuePrefix);
    this.#publisher = new ProgressPublisher(sql, this.#bus, this.#ledger);
    this.#shardWork = openShardWork(sql, config);
    this.#dedupeWork = openDedupeWork(sql, config);
  }

  start(): void {
    // A host that ingests has perl up before its first shard; one that only embeds or walks starts none.
    if (this.opts.queues.includes('ingest')) void this.#shardWork.work.metadata.start();
    const processors = createProcessors({
      sql: this.sql,
      config: this.config,
      queues: this.#queues,
      ledger: this.#ledger,
      publisher: this.#publisher,
      meter: this.#meter,
      shutdown: this.#shutdown.signal,
      work: this.#shardWork.work,
    });
    const dedupeProcessors = createDedupeProcessors({
      sql: this.sql,
      queues: this.#queues,
      ledger: this.#ledger,
      publisher: this.#publisher,
      joins: this.#dedupeWork.joins,
      embedder: this.#dedupeWork.embedder,
      dataDir: this.config.dataDir,
    });
    const organizeProcessors = createOrganizeProcessors({ sql: this.sql, queues: this.#queues, ledger: this.#ledger, publisher: this.#publisher, shutdown: this.#shutdown.signal });
    const { shardFailed, ...scanProcessors } = processors;
    const all = { ...scanProcessors, ...dedupeProcessors, ...organizeProcessors };
    // A search or embed job spreads over this host's threads itself: one at a time.
    const concurrencyOf: Record<QueueName, number> = { discover: 1, ingest: this.opts.concurrency, finalize: 2, dedupe: 1, search: 1, embed: 1, organize: 1 };
    for (const name of this.opts.queues) {
      const processor = all[name] as Processor;
      const counted: Processor = async (job, token) => {
        this.#active++;
        this.#registry.touch();
        try {
          return await processor(job, token);
        } catch (err) {
          // A plan or finalize that fails for good (a broken catalog, hashes that cannot load) ends
          // the Lumina job on its last attempt, so the catalog is not left with a job forever running.
          if (JOB_ENDING.has(name) && err instanceof Error && err.name !== 'WaitingError' && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
            const failed = await failJob(this.sql, (job.data as { job_id: string }).job_id, err).catch(() => null);
            if (failed) this.#publisher.announce(failed);
          }
          throw err;
        } finally {
          this.#active--;
          this.#registry.touch();
        }
      };
      const worker = new Worker(name, counted, {
        connection: this.#redis,
        prefix: this.config.queuePrefix,
        concurrency: concurrencyOf[name],
        lockDuration: this.opts.lockMs,
        stalledInterval: Math.max(1000, Math.floor(this.opts.lockMs / 2)),
        maxStalledCount: 3,
      });
      worker.on('failed', (job, err) => {
        if (err.name !== 'WaitingError') process.stderr.write(`lumina: ${name} job ${job?.id ?? '?'} failed (attempt ${job?.attemptsMade ?? '?'}): ${messageOf(err)}\n`);
        // A shard that stalled past maxStalledCount is failed by BullMQ without its processor's catch:
        // recorded here, or its scan would wait for it forever.
        if (name === 'ingest' && job) {
          const record = async () => {
            if (await job.isFailed()) await shardFailed(job.data as ShardPayload, messageOf(err));
          };
          record().catch((e) => process.stderr.write(`lumina: could not record shard ${job.id} as failed: ${messageOf(e)}\n`));
        }
      });
      worker.on('error', (err) => process.stderr.write(`lumina: ${name} worker: ${messageOf(err)}\n`));
      this.#workers.push(worker);
    }
    this.#registry.start(() => this.info());
  }

  info(): WorkerInfo {
    return workerInfo(
      { id: this.id, threads: this.config.workers, concurrency: this.opts.concurrency, queues: this.opts.queues, active_shards: this.#active },
      this.#meter,
      this.#startedAt,
    );
  }

  /** Stops taking work; running shards get `graceMs` to finish, then write what they have and go back. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const closing = Promise.all(this.#workers.map((w) => w.close()));
      const timer = setTimeout(() => this.#shutdown.abort(), this.opts.graceMs);
      await closing;
      clearTimeout(timer);
      await this.#registry.stop(this.id);
      await this.#publisher.close();
      await this.#bus.close();
      await this.#queues.close();
      await this.#shardWork.close();
      await this.#dedupeWork.close();
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    })();
    return this.#stopping;
  }
}

export function parseQueues(text: string | undefined): QueueName[] {
  if (!text) return [...DEFAULT_QUEUES];
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(QUEUE_NAMES as readonly string[]).includes(n)) throw new UserError(`unknown queue "${n}" (queues: ${QUEUE_NAMES.join(', ')})`);
  }
  return names as QueueName[];
}
