import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { finishJob, markJobRunning } from '../db/jobs.js';
import type { EventBus } from '../events/job-events.js';
import { openDedupeWork, type DedupeWork } from '../jobs/dedupe-work.js';
import { embedPart, finalizeDuplicates, planDuplicates, searchPart, sliceSize, closeDuplicates, SearchIndexCache, type DuplicatesParams, type DuplicatesSummary, type DuplicatesWork } from '../jobs/duplicates.js';
import { workerInfo, type JobExecutor, type WorkerInfo } from '../jobs/executor.js';
import { failureOf } from '../jobs/claim.js';
import { LeaseKeeper } from '../jobs/lease.js';
import { MemoryLedger } from '../jobs/ledger.js';
import { ProgressPublisher } from '../jobs/progress-publisher.js';
import { finalizeScan, recordShard, runScanShard, ShardFeed, shardFiles, walkScan, type ScanParams, type ScanSummary, type ShardWork } from '../jobs/scan.js';
import { openShardWork } from '../jobs/shard-work.js';
import { runOrganize, type OrganizeSummary } from '../jobs/organize.js';
import { thumbnailDir, type Catalog } from '../model/catalog.js';
import type { Job } from '../model/job.js';
import { messageOf, UserError } from '../util/errors.js';
import { PairTable } from '../dedupe/pair-table.js';
import { PARTIAL_DIR } from '../workers/file-task.js';
import { RateMeter } from './rate-meter.js';

/** Why a running job's signal was aborted: a cancel, or the loss of its lease. */
type StopReason = { code: 'cancelled' } | { code: 'lease_lost'; message: string };

/** A job this process was running that had to stop because another process may now own it. */
export class JobLostError extends UserError {
  constructor(
    readonly jobId: string,
    reason: string,
  ) {
    super(`job ${jobId} stopped: ${reason}`, 'unavailable');
    this.name = 'JobLostError';
  }
}

/**
 * The embedded default: jobs run one after another in this process, on its thread pool, through
 * the same job modules the queue workers run. Used by `lumina ingest` and `lumina dupes`, and by
 * `lumina serve` when no Redis is configured. Every job it holds carries its owner id and a lease
 * it renews, so other processes can tell it is alive.
 */
export class LocalRunner implements JobExecutor {
  readonly mode = 'embedded' as const;
  readonly #ledger = new MemoryLedger();
  readonly #publisher: ProgressPublisher;
  readonly #running = new Map<string, AbortController>();
  /** Each job this runner holds, until its body has returned: what settle() waits for. */
  readonly #bodies = new Map<string, Promise<unknown>>();
  readonly #meter = new RateMeter();
  readonly #startedAt = new Date();
  readonly #leases: LeaseKeeper;
  readonly #lost = new Map<string, string>();
  #chain: Promise<unknown> = Promise.resolve();
  #closing = false;
  #work: ShardWork | null = null;
  readonly #dedupe: DedupeWork;
  readonly #indexes: SearchIndexCache;
  #closers: (() => Promise<void>)[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly config: LuminaConfig,
    bus: EventBus,
    owner: string,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`lumina: ${line}\n`),
  ) {
    this.#publisher = new ProgressPublisher(sql, bus, this.#ledger);
    this.#dedupe = openDedupeWork(sql, config);
    this.#indexes = new SearchIndexCache(sql, 1);
    this.#leases = new LeaseKeeper(sql, { owner, leaseMs: config.jobLeaseMs, onLost: (id, reason) => this.#onLost(id, reason) });
  }

  /** The owner id this runner writes on the jobs it runs. */
  get owner(): string {
    return this.#leases.owner;
  }

  /** Queues a job whose row names this runner as its owner; it runs after the ones before it. */
  async submit(job: Job, catalog: Catalog): Promise<void> {
    this.#leases.hold(job.id);
    this.#chain = this.#chain.then(() => this.run(job, catalog).catch((err) => this.log(`job ${job.id} failed: ${messageOf(err)}`)));
  }

  /** Runs one job to its end; null when it was cancelled. Throws (after recording it) when it fails. */
  run(job: Job, catalog: Catalog): Promise<ScanSummary | DuplicatesSummary | OrganizeSummary | null> {
    this.#leases.hold(job.id);
    const body = job.type === 'duplicates' ? this.#runDuplicates(job, catalog) : job.type === 'organize' ? this.#runOrganize(job, catalog) : this.#runScan(job, catalog);
    this.#bodies.set(job.id, body);
    const forget = () => {
      if (this.#bodies.get(job.id) === body) this.#bodies.delete(job.id);
    };
    body.then(forget, forget);
    return body;
  }

  async settle(jobId: string, timeoutMs: number): Promise<void> {
    const body = this.#bodies.get(jobId);
    if (!body) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([body.catch(() => {}), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  async cancel(jobId: string): Promise<void> {
    await this.#ledger.cancel(jobId);
    this.#running.get(jobId)?.abort({ code: 'cancelled' } satisfies StopReason);
  }

  #onLost(jobId: string, reason: string): void {
    const running = this.#running.get(jobId);
    if (running) running.abort({ code: 'lease_lost', message: reason } satisfies StopReason);
    else this.#lost.set(jobId, reason);
  }

  /**
   * Runs one job's body with what every job needs around it: the running mark, cancellation, the
   * lease, and a failure recorded on the job with its code. Null when it was cancelled.
   */
  async #runJob<T>(job: Job, body: (abort: AbortSignal) => Promise<T | null>): Promise<T | null> {
    const abort = new AbortController();
    this.#running.set(job.id, abort);
    const stopped = () => abort.signal.reason as StopReason | undefined;
    try {
      // Shutting down: jobs still waiting stay queued under their lease, for the next start to take over.
      if (this.#closing) return null;
      // Ended (cancelled) or taken over while it waited: nothing to do, nothing to report.
      if (!(await markJobRunning(this.sql, job.id, this.owner)) || (await this.#ledger.isCancelled(job.id))) return null;
      const lostBefore = this.#lost.get(job.id);
      if (lostBefore) throw new JobLostError(job.id, lostBefore);
      const out = await body(abort.signal);
      const reason = stopped();
      if (reason?.code === 'lease_lost') throw new JobLostError(job.id, reason.message);
      return reason?.code === 'cancelled' ? null : out;
    } catch (err) {
      const reason = stopped();
      const lost = err instanceof JobLostError ? err : reason?.code === 'lease_lost' ? new JobLostError(job.id, reason.message) : null;
      const failure = lost ? { error: lost.message, errorCode: 'lease_lost' as const } : failureOf(err);
      const failed = await finishJob(this.sql, job.id, 'failed', failure).catch(() => null);
      if (failed) this.#publisher.announce(failed);
      throw lost ?? (failure.errorCode === 'database_unavailable' ? new UserError(failure.error, 'unavailable') : err);
    } finally {
      this.#running.delete(job.id);
      this.#lost.delete(job.id);
      this.#leases.release(job.id);
      await this.#ledger.forget(job.id);
    }
  }

  #runScan(job: Job, catalog: Catalog): Promise<ScanSummary | null> {
    return this.#runJob(job, async (signal) => {
      const params = job.params as unknown as ScanParams;
      const thumbnails = thumbnailDir(this.config.dataDir, catalog.id);
      // One scan of a catalog at a time, so no other writer uses this folder's leftovers.
      fs.rmSync(path.join(thumbnails, PARTIAL_DIR), { recursive: true, force: true });

      const shardSize = params.shard_size ?? this.config.shardSize;
      const work = { ...this.#shardWork(), signal };
      const feed = new ShardFeed();
      // The walk saves shards as it cuts them; two lanes ingest them meanwhile, one keeping the
      // pool busy while the other finishes and writes.
      const walking = walkScan(this.sql, job.id, catalog, params.directories, shardSize, {
        onShard: (index) => feed.add(index),
        onFound: this.#publisher.discovering(job),
        signal,
      }).finally(() => feed.end());
      const lane = async () => {
        for (let index = await feed.take(); index !== null && !signal.aborted; index = await feed.take()) {
          const files = await shardFiles(this.sql, job.id, index);
          if (!files) return;
          const out = await runScanShard(work, this.#publisher, job, catalog, thumbnails, { index, files });
          this.#meter.add(out.added + out.updated + out.unchanged + out.errors);
          if (out.aborted) return;
          const { aborted: _a, ...outcome } = out;
          await recordShard(this.sql, job.id, index, outcome);
        }
      };
      const lanes = Promise.all([lane(), lane()]);
      const walked = await walking.catch(async (err) => {
        // The lanes end with the feed; the job fails with the walk's error.
        await lanes.catch(() => {});
        throw err;
      });
      if (walked) {
        await this.#ledger.begin(job.id, walked.files);
        await this.#publisher.publish(job, { done: 0, total: walked.files, failed: 0, rate: 0, eta_s: null, stage: 'ingest' }, false);
      }
      await lanes;
      await this.#publisher.flush();
      if (signal.aborted || !walked) return null;

      await this.#publisher.publish(job, { done: walked.files, total: walked.files, failed: 0, rate: 0, eta_s: 0, stage: 'finalize' }, false);
      const { summary, job: finished } = await finalizeScan(this.sql, catalog, job);
      if (finished) this.#publisher.announce(finished);
      return finished ? summary : null;
    });
  }

  /** The duplicates job's steps in this process: plan, embed, every search slice, finalize. */
  #runDuplicates(job: Job, catalog: Catalog): Promise<DuplicatesSummary | null> {
    return this.#runJob(job, async (signal) => {
      const params = job.params as unknown as DuplicatesParams;
      const work = this.#duplicatesWork();
      const stage = (name: string, done = 0, total = 0) =>
        this.#publisher.publish(job, { done, total, failed: 0, rate: 0, eta_s: null, stage: name }, name !== 'search');
      try {
        await stage('plan');
        const plan = await planDuplicates(work, job, catalog, params);
        const embedUnits = plan.total - 4 * plan.n;
        if (embedUnits) await stage('embed', 0, plan.total);
        const embed = await embedPart(work, catalog, params, {
          signal,
          onProgress: (done) => void stage('embed', done, plan.total),
          log: this.log,
        });
        if (signal.aborted) return null;
        const pairs = new PairTable();
        let searched = embedUnits;
        await stage('search', searched, plan.total);
        for (const slice of plan.slices) {
          if (signal.aborted) return null;
          pairs.append(await searchPart(work, job, catalog, params, slice, plan.n));
          searched += sliceSize(slice);
          await stage('search', searched, plan.total);
        }
        await stage('group', plan.total, plan.total);
        // The index is not needed past the search: its memory goes before finalize loads the groups.
        work.indexes.forget(job.id);
        const { summary, job: finished } = await finalizeDuplicates(this.sql, { catalog, job, params, pairs, searched: plan.n, embed, thumbnails: thumbnailDir(this.config.dataDir, catalog.id) });
        if (finished) this.#publisher.announce(finished);
        return finished ? summary : null;
      } finally {
        await closeDuplicates(work, null, job.id);
      }
    });
  }

  #runOrganize(job: Job, catalog: Catalog): Promise<OrganizeSummary | null> {
    return this.#runJob(job, async (signal) => {
      const out = await runOrganize({ sql: this.sql, job, catalog, signal, progress: (p) => this.#publisher.publish(job, p) });
      if (out?.job) this.#publisher.announce(out.job);
      return out?.job ? out.summary : null;
    });
  }

  /** This process as a worker, for GET /api/workers. */
  info(): WorkerInfo {
    return workerInfo(
      {
        id: `embedded-${os.hostname()}-${process.pid}`,
        threads: this.config.workers,
        concurrency: 2,
        queues: ['discover', 'ingest', 'finalize', 'dedupe', 'search', 'embed'],
        active_shards: this.#running.size,
      },
      this.#meter,
      this.#startedAt,
    );
  }

  #shardWork(): ShardWork {
    if (!this.#work) {
      const opened = openShardWork(this.sql, this.config);
      // Perl starts while the threads load sharp, not when the first files are waiting for it.
      void opened.work.metadata.start();
      this.#closers.push(opened.close);
      this.#work = opened.work;
    }
    return this.#work;
  }

  #duplicatesWork(): DuplicatesWork {
    return { sql: this.sql, dataDir: this.config.dataDir, joins: this.#dedupe.joins, embedder: this.#dedupe.embedder, indexes: this.#indexes };
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const c of this.#running.values()) c.abort({ code: 'cancelled' } satisfies StopReason);
    await this.#chain;
    this.#leases.close();
    await this.#publisher.close();
    await Promise.all([...this.#closers.map((c) => c()), this.#dedupe.close()]);
    this.#closers = [];
    this.#work = null;
  }
}
