import fs from 'node:fs';
import type { Redis } from 'ioredis';
import type { LuminaConfig } from './config/config.js';
import { openDatabase, ping, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { LocalEventBus, type EventBus } from './events/job-events.js';
import type { JobExecutor, WorkerInfo } from './jobs/executor.js';
import { newOwnerId } from './jobs/lease.js';
import type { Catalog } from './model/catalog.js';
import type { Job } from './model/job.js';
import type { LuminaWorker, WorkerOptions } from './queue/lumina-worker.js';
import type { LocalRunner } from './runner/local-runner.js';
import { AssetService } from './services/asset-service.js';
import { CatalogService } from './services/catalog-service.js';
import { DuplicateService } from './services/duplicate-service.js';
import { JobService } from './services/job-service.js';
import { OrganizeService } from './services/organize-service.js';
import { TokenService } from './services/token-service.js';

/**
 * The one place a process is assembled, embedded or cluster alike: the database, where jobs run
 * (this process, or the queues when a served process has Redis), the event bus, and the services
 * that every transport (CLI, API, queue workers) calls.
 */

export interface Services {
  catalogs: CatalogService;
  assets: AssetService;
  jobs: JobService;
  duplicates: DuplicateService;
  tokens: TokenService;
  organize: OrganizeService;
}

export interface App {
  config: LuminaConfig;
  mode: 'embedded' | 'cluster';
  /** Which database: the embedded one holds the data directory's lock for this process alone. */
  database: Database['kind'];
  services: Services;
  bus: EventBus;
  redis: Redis | null;
  /** Is the database there (for /health)? */
  pingDatabase(): Promise<void>;
  workers(): Promise<WorkerInfo[]>;
  /** Queue depths by queue and state (cluster mode; empty when embedded). */
  queueDepths(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}

export interface AppOptions {
  /**
   * 'here': jobs run in this process whatever is configured (`lumina ingest`, `lumina dupes`, and
   * commands that run none); 'queue': on the queues when Redis is configured, else here (`lumina
   * jobs cancel` reaches queued work that way); 'serve': as 'queue', and a server also takes over
   * the jobs a stopped process left behind, now and whenever an owner is found gone.
   */
  jobs: 'here' | 'queue' | 'serve';
}

export async function openApp(config: LuminaConfig, options: AppOptions): Promise<App> {
  makePrivate(config.dataDir);
  const db = await openDatabase(config);
  const closers: (() => Promise<unknown>)[] = [() => db.close()];
  try {
    const app = options.jobs !== 'here' && config.redisUrl ? await clusterParts(db, config, closers) : localParts(db, config, closers);
    const services = assemble(db, config, app.executor, app.bus);
    if (options.jobs === 'serve') {
      await services.catalogs.sweepOrphanedFiles();
      if (app.mode === 'embedded') await keepTakingOverOrphans(services.jobs, config.jobLeaseMs, closers);
    }
    return {
      config,
      mode: app.mode,
      database: db.kind,
      services,
      bus: app.bus,
      redis: app.redis,
      pingDatabase: () => ping(db.sql),
      workers: app.workers,
      queueDepths: app.queueDepths,
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}

interface Parts {
  mode: 'embedded' | 'cluster';
  executor: JobExecutor;
  bus: EventBus;
  redis: Redis | null;
  workers(): Promise<WorkerInfo[]>;
  queueDepths(): Promise<Record<string, Record<string, number>>>;
}

function localParts(db: Database, config: LuminaConfig, closers: (() => Promise<unknown>)[]): Parts {
  const bus = new LocalEventBus();
  const owner = newOwnerId();
  const runner = new LazyLocalRunner(owner, async () => new (await import('./runner/local-runner.js')).LocalRunner(db.sql, config, bus, owner));
  closers.unshift(() => runner.close(), () => bus.close());
  return { mode: 'embedded', executor: runner, bus, redis: null, workers: async () => [await runner.info()], queueDepths: async () => ({}) };
}

/**
 * The in-process runner, loaded with the first job it is given: the job modules and the pipeline
 * under them (sharp, ExifTool) are no use to a command that runs none (`lumina catalog list`).
 * Until then it holds no job, so there is nothing to cancel, settle or close.
 */
class LazyLocalRunner implements JobExecutor {
  readonly mode = 'embedded' as const;
  #runner: Promise<LocalRunner> | null = null;

  constructor(
    readonly owner: string,
    private readonly load: () => Promise<LocalRunner>,
  ) {}

  #loaded(): Promise<LocalRunner> {
    return (this.#runner ??= this.load());
  }

  async run(job: Job, catalog: Catalog): Promise<unknown> {
    return (await this.#loaded()).run(job, catalog);
  }

  async submit(job: Job, catalog: Catalog): Promise<void> {
    await (await this.#loaded()).submit(job, catalog);
  }

  async cancel(jobId: string): Promise<void> {
    if (this.#runner) await (await this.#runner).cancel(jobId);
  }

  async settle(jobId: string, timeoutMs: number): Promise<void> {
    if (this.#runner) await (await this.#runner).settle(jobId, timeoutMs);
  }

  async info(): Promise<WorkerInfo> {
    return (await this.#loaded()).info();
  }

  async close(): Promise<void> {
    if (this.#runner) await (await this.#runner).close();
  }
}

async function clusterParts(db: Database, config: LuminaConfig, closers: (() => Promise<unknown>)[]): Promise<Parts> {
  const url = config.redisUrl!;
  // BullMQ and ioredis are loaded in cluster mode only: an embedded start has no use for them.
  const [{ ClusterExecutor, QueueSet }, { RedisEventBus }, { RedisLedger }, { checkRedis, connectRedis }, { WorkerRegistry }] = await Promise.all([
    import('./queue/cluster-executor.js'),
    import('./queue/redis-event-bus.js'),
    import('./queue/redis-ledger.js'),
    import('./queue/redis.js'),
    import('./queue/worker-registry.js'),
  ]);
  const redis = connectRedis(url, 'api');
  closers.unshift(() => redis.quit().catch(() => redis.disconnect()));
  await checkRedis(redis, url);
  const queues = new QueueSet(redis, config.queuePrefix);
  const bus = new RedisEventBus(redis, url, config.queuePrefix);
  const registry = new WorkerRegistry(redis, config.queuePrefix);
  closers.unshift(() => bus.close(), () => queues.close());
  return {
    mode: 'cluster',
    executor: new ClusterExecutor(queues, new RedisLedger(redis, config.queuePrefix)),
    bus,
    redis,
    workers: () => registry.list(),
    queueDepths: () => queues.depths(),
  };
}

function assemble(db: Database, config: LuminaConfig, executor: JobExecutor, bus: EventBus): Services {
  // Deleting a catalog cancels its jobs first: the catalogs service calls the jobs service's rule.
  let jobs: JobService | null = null;
  const catalogs = new CatalogService(db.sql, config.dataDir, (id) => jobs!.cancelAllOf(id));
  jobs = new JobService({ sql: db.sql, executor, bus, catalogs, exclusive: db.kind === 'embedded', leaseMs: config.jobLeaseMs });
  return {
    catalogs,
    assets: new AssetService(db.sql, config.dataDir),
    jobs,
    duplicates: new DuplicateService(db.sql),
    tokens: new TokenService(db.sql),
    organize: new OrganizeService(db.sql, catalogs, jobs),
  };
}

/**
 * A server without Redis runs local jobs itself: those whose owner is gone (left by a killed
 * server or ingest) are taken over at start and then once a lease, so none stays "running" for
 * nobody.
 */
async function keepTakingOverOrphans(jobs: JobService, leaseMs: number, closers: (() => Promise<unknown>)[]): Promise<void> {
  await jobs.resumeOrphans();
  let sweeping = Promise.resolve();
  const timer = setInterval(() => {
    sweeping = sweeping.then(() => jobs.resumeOrphans().then(() => undefined, () => undefined));
  }, leaseMs);
  timer.unref();
  closers.unshift(async () => {
    clearInterval(timer);
    await sweeping;
  });
}

/**
 * The data directory holds the embedded database, thumbnails and CNN inputs: no other local user
 * may read it. It is made 0700, and this process creates every file 0600 and folder 0700 whatever
 * the umask it was started with (a process writing user-facing files elsewhere sets their modes).
 */
function makePrivate(dataDir: string): void {
  process.umask(0o077);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // A data directory made by an older version, or by hand, is closed too, when it is ours to
  // close (a shared folder another user owns keeps its mode; what we write in it is private).
  const st = fs.statSync(dataDir);
  if (st.mode & 0o077 && st.uid === process.getuid?.()) fs.chmodSync(dataDir, 0o700);
}

async function closeAll(closers: (() => Promise<unknown>)[]): Promise<void> {
  for (const close of closers.splice(0)) await close().catch(() => {});
}

/** `lumina worker`: a queue worker over the shared PostgreSQL and Redis. */
export async function openWorker(config: LuminaConfig & { redisUrl: string }, options: WorkerOptions): Promise<{ worker: LuminaWorker; close(): Promise<void> }> {
  const [{ checkRedis, connectRedis }, { LuminaWorker }] = await Promise.all([import('./queue/redis.js'), import('./queue/lumina-worker.js')]);
  const probe = connectRedis(config.redisUrl, 'probe');
  try {
    await checkRedis(probe, config.redisUrl);
  } finally {
    probe.disconnect();
  }
  makePrivate(config.dataDir);
  const db = await openDatabase(config);
  const worker = new LuminaWorker(db.sql, config, options);
  return {
    worker,
    async close() {
      await worker.stop();
      await db.close();
    },
  };
}

/** `lumina migrate`: the versions applied now (empty when the database was up to date). */
export async function migrateDatabase(config: LuminaConfig): Promise<string[]> {
  makePrivate(config.dataDir);
  const db = await openDatabase(config, { migrate: false });
  try {
    return (await migrate(db.sql)).applied;
  } finally {
    await db.close();
  }
}
