import type { Sql } from '../db/database.js';
import { updateJobProgress } from '../db/jobs.js';
import type { Job, JobProgress } from '../model/job.js';
import { eventForJob, type EventBus } from '../events/job-events.js';
import type { JobLedger, ScanCounts } from './ledger.js';

type JobRef = Pick<Job, 'id' | 'catalog_id' | 'type'>;

/**
 * Turns per-file completions into job_progress events: coalesced per job (every `intervalMs`),
 * summed over all processes through the ledger, and persisted to public.jobs at most once a second.
 */
export class ProgressPublisher {
  readonly #dirty = new Map<string, { job: JobRef; stage: string; shards: Map<number, [number, number]> }>();
  readonly #lastDbWrite = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: Sql,
    private readonly bus: EventBus,
    private readonly ledger: JobLedger,
    intervalMs = 250,
  ) {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** A part's own running count (units done and failed in it so far), in the job's stage `stage`. */
  shardProgress(job: JobRef, shard: number, done: number, failed: number, stage = 'ingest'): void {
    let d = this.#dirty.get(job.id);
    if (!d) this.#dirty.set(job.id, (d = { job, stage, shards: new Map() }));
    d.stage = stage;
    d.shards.set(shard, [done, failed]);
  }

  /** A stage change or discovery count: sent at once. */
  async publish(job: JobRef, progress: JobProgress, persist = true): Promise<void> {
    this.bus.publish({ type: 'job_progress', job_id: job.id, catalog_id: job.catalog_id, job_type: job.type, status: 'running', progress });
    if (persist) {
      this.#lastDbWrite.set(job.id, Date.now());
      await updateJobProgress(this.sql, job.id, progress).catch(() => {});
    }
  }

  /**
   * The callback for a scan's walk: the growing file count goes into the ledger (at most 4 times
   * a second), so that every process's progress says `discover` with the count so far until the
   * walk ends; it is published at once when no shard has reported yet.
   */
  discovering(job: JobRef): (found: number) => void {
    let last = 0;
    return (found) => {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      void this.ledger.begin(job.id, found, true).then(async () => {
        if (!this.#dirty.has(job.id)) await this.publish(job, { done: 0, total: found, failed: 0, rate: 0, eta_s: null, stage: 'discover' }, false);
      }, () => {});
    };
  }

  /** The final event of a job, from its final row. */
  announce(job: Job): void {
    this.#dirty.delete(job.id);
    this.#lastDbWrite.delete(job.id);
    this.bus.publish(eventForJob(job));
  }

  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce()).catch(() => {});
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const batch = [...this.#dirty.values()];
    this.#dirty.clear();
    for (const { job, stage, shards } of batch) {
      let counts: ScanCounts | undefined;
      for (const [shard, [done, failed]] of shards) counts = await this.ledger.record(job.id, shard, done, failed);
      if (!counts) continue;
      const progress = progressFromCounts(counts, stage);
      const now = Date.now();
      const persist = now - (this.#lastDbWrite.get(job.id) ?? 0) >= 1000;
      await this.publish(job, progress, persist);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

export function progressFromCounts(c: ScanCounts, stage: string): JobProgress {
  const elapsed = Math.max(0.001, (Date.now() - c.startedAt) / 1000);
  const rate = c.done / elapsed;
  // While the walk goes on the total still grows: no ETA yet.
  return {
    done: c.done,
    total: Math.max(c.total, c.done),
    failed: c.failed,
    rate: Math.round(rate * 10) / 10,
    eta_s: rate > 0 && !c.discovering ? Math.round(Math.max(0, c.total - c.done) / rate) : null,
    stage: c.discovering && stage === 'ingest' ? 'discover' : stage,
  };
}
