/** A scan's file counts, summed over its shards. */
export interface ScanCounts {
  total: number;
  done: number;
  failed: number;
  /** When ingest began (ms since epoch): the rate is measured from here. */
  startedAt: number;
  /** The walk is still going: `total` is what it has found so far. */
  discovering: boolean;
}

/**
 * Where the processes working on one job keep its shared counts and its cancel flag.
 * Every shard reports its own count and the largest seen wins, so a shard that is retried
 * (at-least-once delivery) never counts its files twice and progress never moves backwards.
 */
export interface JobLedger {
  /**
   * The job's file count so far, and whether the walk goes on (its count then still grows). The
   * first call starts the clock the rate is measured by; later ones move only the count.
   */
  begin(jobId: string, total: number, discovering?: boolean): Promise<void>;
  record(jobId: string, shard: number, done: number, failed: number): Promise<ScanCounts>;
  cancel(jobId: string): Promise<void>;
  isCancelled(jobId: string): Promise<boolean>;
  /** Drops the job's counts; its cancel flag outlives them, so that late parts still see it. */
  forget(jobId: string): Promise<void>;
}

/** One process (embedded mode). */
export class MemoryLedger implements JobLedger {
  readonly #jobs = new Map<string, ScanCounts & { shards: Map<number, [number, number]> }>();
  readonly #cancelled = new Set<string>();

  #entry(jobId: string) {
    let e = this.#jobs.get(jobId);
    if (!e) this.#jobs.set(jobId, (e = { total: 0, done: 0, failed: 0, startedAt: Date.now(), discovering: false, shards: new Map() }));
    return e;
  }

  async begin(jobId: string, total: number, discovering = false): Promise<void> {
    const e = this.#entry(jobId);
    e.total = total;
    e.discovering = discovering;
  }

  async record(jobId: string, shard: number, done: number, failed: number): Promise<ScanCounts> {
    const e = this.#entry(jobId);
    const [pd, pf] = e.shards.get(shard) ?? [0, 0];
    if (done > pd) {
      e.shards.set(shard, [done, Math.max(failed, pf)]);
      e.done += done - pd;
      e.failed += Math.max(0, failed - pf);
    }
    return { total: e.total, done: e.done, failed: e.failed, startedAt: e.startedAt, discovering: e.discovering };
  }

  async cancel(jobId: string): Promise<void> {
    this.#cancelled.add(jobId);
  }

  async isCancelled(jobId: string): Promise<boolean> {
    return this.#cancelled.has(jobId);
  }

  async forget(jobId: string): Promise<void> {
    this.#jobs.delete(jobId);
  }
}
