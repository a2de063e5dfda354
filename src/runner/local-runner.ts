import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LuminaConfig } from '../config/config.js';
import { outputDirs, type Catalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { finishJob, markJobRunning, type Job, type JobProgress } from '../db/jobs.js';
import { LocalEventBus, type EventBus } from '../events/job-events.js';
import { workerInfo, type JobExecutor, type WorkerInfo } from '../jobs/executor.js';
import { openShardWork } from '../jobs/shard-work.js';
import { MemoryLedger } from '../jobs/ledger.js';
import { ProgressPublisher } from '../jobs/progress-publisher.js';
import { addOutcome, emptyTotals, finalizeScan, planScan, runScanShard, type ScanParams, type ScanSummary, type ShardWork } from '../jobs/scan.js';
import { messageOf, UserError } from '../util/errors.js';
import { PARTIAL_DIR } from '../workers/file-task.js';
import { RateMeter } from './rate-meter.js';
import { buildIndex } from '../dedupe/hamming-index.js';
import type { EmbedSummary } from '../embed/embed-service.js';
import { openDedupeWork, type DedupeWork } from '../jobs/dedupe-work.js';
import { finalizeDuplicates, loadForDuplicates, pairsOf, searchInput, type DuplicatesParams, type DuplicatesSummary } from '../jobs/duplicates.js';

/**
 * The embedded default: jobs run one after another in this process, on its thread pool, through
 * the same scan steps the queue workers run. Used by `lumina ingest` and by `lumina serve`
 * when no Redis is configured.
 */
/**
 * Runs one job in this process with a runner of its own and waits for it: what `lumina ingest`
 * and `lumina dupes` do. Progress events of that job go to `onProgress`; a cancelled job throws.
 */
export async function runJobHere<T>(
  sql: Sql,
  config: LuminaConfig,
  job: Job,
  onProgress: ((p: JobProgress) => void) | undefined,
  run: (runner: LocalRunner) => Promise<T | null>,
): Promise<T> {
  const bus = new LocalEventBus();
  const unsubscribe = bus.subscribe((e) => {
    if (e.job_id === job.id) onProgress?.(e.progress);
  });
  const runner = new LocalRunner(sql, config, bus);
  try {
    const result = await run(runner);
    if (!result) throw new UserError(`job ${job.id} was cancelled`);
    return result;
  } finally {
    unsubscribe();
    await runner.close();
  }
}

export class LocalRunner implements JobExecutor {
  readonly mode = 'embedded' as const;
  readonly #ledger = new MemoryLedger();
  readonly #publisher: ProgressPublisher;
  readonly #running = new Map<string, AbortController>();
  readonly #meter = new RateMeter();
  readonly #startedAt = new Date();
  #chain: Promise<unknown> = Promise.resolve();
  #work: ShardWork | null = null;
  readonly #dedupe: DedupeWork;
  #closers: (() => Promise<void>)[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly config: LuminaConfig,
    bus: EventBus,
  ) {
    this.#publisher = new ProgressPublisher(sql, bus, this.#ledger);
    this.#dedupe = openDedupeWork(sql, config);
  }

  async submit(job: Job, catalog: Catalog): Promise<void> {
    const run: () => Promise<unknown> = job.type === 'duplicates' ? () => this.runDuplicates(job, catalog) : () => this.runScan(job, catalog);
    this.#chain = this.#chain.then(() => run().catch((err) => process.stderr.write(`lumina: job ${job.id} failed: ${messageOf(err)}\n`)));
  }

  async cancel(jobId: string): Promise<void> {
    await this.#ledger.cancel(jobId);
    this.#running.get(jobId)?.abort();
  }

  /**
   * Runs one job's body with what every job needs around it: the running mark, cancellation, and
   * a failure recorded on the job. Null when it was cancelled; throws (after recording) on failure.
   */
  async #runJob<T>(job: Job, body: (abort: AbortSignal) => Promise<T | null>): Promise<T | null> {
    const abort = new AbortController();
    this.#running.set(job.id, abort);
    try {
      if (!(await markJobRunning(this.sql, job.id)) || (await this.#ledger.isCancelled(job.id))) return null;
      return await body(abort.signal);
    } catch (err) {
      const failed = await finishJob(this.sql, job.id, 'failed', { error: messageOf(err) }).catch(() => null);
      if (failed) this.#publisher.announce(failed);
      throw err;
    } finally {
      this.#running.delete(job.id);
      await this.#ledger.forget(job.id);
    }
  }

  /** Runs one scan to its end; null when it was cancelled. Throws (after recording it) when it fails. */
  runScan(job: Job, catalog: Catalog): Promise<ScanSummary | null> {
    return this.#runJob(job, async (signal) => {
      const params = job.params as unknown as ScanParams;
      const dirs = outputDirs(this.config.dataDir, catalog);
      const thumbs = dirs.thumbnails;
      // Jobs run one at a time here, so no other writer uses this folder's leftovers.
      fs.rmSync(path.join(thumbs, PARTIAL_DIR), { recursive: true, force: true });

      const plan = await planScan(params.directories, params.shard_size ?? this.config.shardSize, this.#publisher.discovering(job));
      await this.#ledger.begin(job.id, plan.files);
      await this.#publisher.publish(job, { done: 0, total: plan.files, failed: 0, rate: 0, eta_s: null, stage: 'ingest' });

      const work = { ...this.#shardWork(), signal };
      const totals = emptyTotals();
      // Two shards in flight: one keeps the pool busy while the other finishes and writes.
      let next = 0;
      const lane = async () => {
        while (next < plan.shards.length && !signal.aborted) {
          const index = next++;
          const out = await runScanShard(work, this.#publisher, job, catalog, dirs, { index, files: plan.shards[index]! });
          this.#meter.add(out.added + out.updated + out.unchanged + out.errors);
          addOutcome(totals, out);
        }
      };
      await Promise.all([lane(), lane()]);
      await this.#publisher.flush();
      if (signal.aborted) return null;

      await this.#publisher.publish(job, { done: plan.files, total: plan.files, failed: totals.errors, rate: 0, eta_s: 0, stage: 'finalize' }, false);
      const { shards: _s, ...rest } = plan;
      const { summary, job: finished } = await finalizeScan(this.sql, { catalog, job, plan: rest, totals, failedShards: [] });
      if (finished) this.#publisher.announce(finished);
      return summary;
    });
  }

  /** Runs one duplicates job: embeddings, the threaded self-join over shared hash arrays, groups. */
  runDuplicates(job: Job, catalog: Catalog): Promise<DuplicatesSummary | null> {
    return this.#runJob(job, async (signal) => {
      const params = job.params as unknown as DuplicatesParams;
      const stage = (name: string, done = 0, total = 0) =>
        this.#publisher.publish(job, { done, total, failed: 0, rate: 0, eta_s: null, stage: name }, name !== 'search');
      let embed: EmbedSummary | null = null;
      if (params.embeddings !== 'off') {
        await stage('embed');
        try {
          embed = await this.#dedupe.embedder().embedPending(catalog, { signal, onProgress: (done, total) => void stage('embed', done, total) });
        } catch (err) {
          // 'auto' goes on with the hashes alone; 'on' was a promise of CNN confirmation.
          if (params.embeddings === 'on') throw new Error(`embeddings were required (--embeddings on) but could not be made: ${messageOf(err)}`);
          process.stderr.write(`lumina: no embeddings this run (${messageOf(err)}); duplicates are found by their hashes alone\n`);
        }
      }
      await stage('load');
      const assets = await loadForDuplicates(this.sql, catalog);
      const input = searchInput(assets);
      const n = input.reps.length;
      await stage('search', 0, n);
      const list = await this.#dedupe.joins().join(buildIndex(input.hashes), { radius: params.threshold, turnedRadius: params.turned_threshold }, undefined, (done, total) =>
        void stage('search', Math.round((n * done) / total), n),
      );
      if (signal.aborted) return null;
      await stage('group', n, n);
      const { summary, job: finished } = await finalizeDuplicates(this.sql, { catalog, job, params, assets, searched: n, pairs: pairsOf(list, input.reps), embed });
      if (finished) this.#publisher.announce(finished);
      return summary;
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
      this.#closers.push(opened.close);
      this.#work = opened.work;
    }
    return this.#work;
  }

  async close(): Promise<void> {
    for (const c of this.#running.values()) c.abort();
    await this.#chain;
    await this.#publisher.close();
    await Promise.all([...this.#closers.map((c) => c()), this.#dedupe.close()]);
    this.#closers = [];
    this.#work = null;
  }
}
