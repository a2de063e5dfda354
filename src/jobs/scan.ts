import { markMissing } from '../db/assets.js';
import type { Sql } from '../db/database.js';
import { finishJob, whileRunning } from '../db/jobs.js';
import { withReconnect } from '../db/retry.js';
import type { Catalog } from '../model/catalog.js';
import { secondsSinceStart, type Job, type JobProgress, type JobRunner } from '../model/job.js';
import { loadShard, loadWalk, saveShard, saveShardOutcome, saveWalk, scanComplete, shardOutcomes, type WalkRecord } from '../db/scan-shards.js';
import { emptyWalkReport, MAX_PROBLEMS, walk, type DiscoveredFile, type DiscoveryProblem } from '../pipeline/discover.js';
import { extensionOf, fileTypeOf } from '../pipeline/file-types.js';
import { isInsideAny, realLocation } from '../pipeline/real-paths.js';
import { emptyTimings, ingestShard, STAGES, type ShardContext, type ShardOutcome, type StageTimings } from '../pipeline/ingest-shard.js';
import type { ProgressPublisher } from './progress-publisher.js';

/**
 * The three steps of a scan job as plain functions, called alike by the in-process runner
 * (embedded mode) and by the queue processors (cluster mode): walk → shards → finalize. The walk
 * saves each shard in the database as it cuts it, and the shards are ingested while it goes on.
 */

/** What public.jobs.params holds for a scan. */
export interface ScanParams {
  directories: string[];
  /** 'local' runs in the submitting process; 'cluster' runs on queue workers. */
  runner: JobRunner;
  /** Files per shard for this job; the configured default when absent. */
  shard_size?: number;
}

/** Where a walk stands: what is found so far, and its shards as they are cut. */
export interface WalkHooks {
  /** A shard was saved (shards are cut in order: 0, 1, 2, ...): it can be ingested now. */
  onShard(index: number): Promise<void> | void;
  /** The growing file count. */
  onFound?(found: number): void;
  /** Stops the walk between folders; the walk record is then not written. */
  signal?: AbortSignal;
}

/**
 * Step 1: walk the directories, cutting shards of `shardSize` files as the walk goes and saving
 * each in the database before handing it on, so memory stays flat whatever the tree's size.
 * Each directory is checked again against the catalog's roots where it really leads now (it may
 * have been swapped for a link since the job was accepted), and links out of the roots are not
 * followed unless the catalog's settings allow it. Ends by saving the walk record, which is what
 * lets the job be finalized; null (nothing recorded) when the signal stopped it.
 */
export async function walkScan(sql: Sql, jobId: string, catalog: Catalog, directories: string[], shardSize: number, hooks: WalkHooks): Promise<WalkRecord | null> {
  const realRoots = catalog.source_directories.map(realLocation);
  const escaped = directories.filter((d) => !isInsideAny(realLocation(d), realRoots));
  const roots = directories.filter((d) => !escaped.includes(d));
  const report = emptyWalkReport();
  const pending: DiscoveredFile[] = [];
  let shards = 0;
  const cut = async (files: DiscoveredFile[]) => {
    const index = shards++;
    await withReconnect(() => saveShard(sql, jobId, index, files));
    await hooks.onShard(index);
  };
  for await (const batch of walk(roots, { within: catalog.source_directories, followExternal: catalog.settings.follow_external_links === true }, report)) {
    if (hooks.signal?.aborted) return null;
    for (const f of batch) pending.push(f);
    while (pending.length >= shardSize) await cut(pending.splice(0, shardSize));
    hooks.onFound?.(report.found);
  }
  if (hooks.signal?.aborted) return null;
  if (pending.length) await cut(pending);
  const problems: DiscoveryProblem[] = escaped.map((d) => ({ path: d, message: `not scanned: it now leads outside the catalog's source directories (to ${realLocation(d)})`, skipped: true }));
  problems.push(...report.problems);
  const record: WalkRecord = {
    files: report.found,
    shards,
    walked: roots.filter((r) => !report.problems.some((p) => p.path === r)),
    unread: report.unread,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount: report.problemCount + escaped.length,
  };
  await withReconnect(() => saveWalk(sql, jobId, record));
  return record;
}

/**
 * Shard numbers as the walk cuts them, taken by the lanes that ingest them (embedded runner):
 * a lane waits for the next one, and gets null once the walk has ended and all are taken.
 */
export class ShardFeed {
  #cut = 0;
  #next = 0;
  #ended = false;
  #waiting: (() => void)[] = [];

  add(index: number): void {
    this.#cut = index + 1;
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  async take(): Promise<number | null> {
    while (this.#next >= this.#cut && !this.#ended) await new Promise<void>((r) => this.#waiting.push(r));
    return this.#next < this.#cut ? this.#next++ : null;
  }

  #wake(): void {
    for (const w of this.#waiting.splice(0)) w();
  }
}

/** A saved shard's files as the ingest stage takes them; null once the job's shards are gone. */
export async function shardFiles(sql: Sql, jobId: string, index: number): Promise<DiscoveredFile[] | null> {
  const files = await withReconnect(() => loadShard(sql, jobId, index));
  return files && files.map((f) => ({ ...f, type: fileTypeOf(f.path)!, ext: extensionOf(f.path) }));
}

/**
 * Records what a shard gave, or why it failed for good (its last attempt threw, or it stalled past
 * the queue's limit); true when it was the scan's last: finalize may run. A failure is never
 * recorded over an outcome already there (a slow worker may have finished the shard).
 */
export async function recordShard(sql: Sql, jobId: string, index: number, outcome: Omit<ShardOutcome, 'aborted'> | { error: string }): Promise<boolean> {
  await withReconnect(() => saveShardOutcome(sql, jobId, index, outcome, 'error' in outcome));
  return withReconnect(() => scanComplete(sql, jobId));
}

export type ShardWork = Omit<ShardContext, 'onFileDone' | 'thumbnailDir'>;

/** Step 2: one shard, its progress reported per file through the publisher. */
export async function runScanShard(
  work: ShardWork,
  publisher: ProgressPublisher,
  job: Pick<Job, 'id' | 'catalog_id' | 'type'>,
  catalog: Catalog,
  thumbnailDir: string,
  shard: { index: number; files: DiscoveredFile[] },
): Promise<ShardOutcome> {
  let done = 0;
  let failed = 0;
  return ingestShard(
    {
      ...work,
      thumbnailDir,
      onFileDone: (status) => {
        done++;
        if (status === 'error') failed++;
        publisher.shardProgress(job, shard.index, done, failed);
      },
    },
    { catalogSchema: catalog.schema_name, jobId: job.id, files: shard.files },
  );
}

export interface ScanTotals {
  added: number;
  updated: number;
  unchanged: number;
  errors: number;
  timings: StageTimings;
}

export function emptyTotals(): ScanTotals {
  return { added: 0, updated: 0, unchanged: 0, errors: 0, timings: emptyTimings() };
}

export function addOutcome(totals: ScanTotals, out: Omit<ShardOutcome, 'aborted'>): void {
  totals.added += out.added;
  totals.updated += out.updated;
  totals.unchanged += out.unchanged;
  totals.errors += out.errors;
  for (const s of STAGES) totals.timings[s] += out.timings[s] ?? 0;
}

export interface ScanSummary {
  catalog: { id: string; name: string };
  job_id: string;
  files_seen: number;
  assets_added: number;
  assets_updated: number;
  assets_unchanged: number;
  assets_missing: number;
  errors: number;
  duration_s: number;
  files_per_s: number;
  /** The first problems (at most MAX_PROBLEMS); problem_count counts them all. */
  problems: DiscoveryProblem[];
  problem_count: number;
  /** Milliseconds per stage, summed over files (busy time, not wall time). */
  stage_ms: StageTimings;
}

/**
 * Step 3, once the walk has ended and every shard has an outcome: mark vanished files missing
 * and close the job, in one transaction while the job is still running under its owner: a scan
 * that was cancelled or taken over marks nothing. A job with a failed shard marks nothing missing
 * (that shard's files were never stamped as seen) and ends failed, its rows kept.
 */
export async function finalizeScan(sql: Sql, catalog: Catalog, job: Job): Promise<{ summary: ScanSummary; job: Job | null }> {
  const walked = await withReconnect(() => loadWalk(sql, job.id));
  if (!walked) throw new Error(`scan ${job.id} cannot be finalized: its walk has not ended`);
  const totals = emptyTotals();
  const failedShards: string[] = [];
  for (const out of await withReconnect(() => shardOutcomes<Omit<ShardOutcome, 'aborted'>>(sql, job.id, walked.shards))) {
    if ('error' in out) failedShards.push(out.error);
    else addOutcome(totals, out);
  }
  const duration = secondsSinceStart(job);
  const problems = walked.problems as DiscoveryProblem[];
  const summary: ScanSummary = {
    catalog: { id: catalog.id, name: catalog.name },
    job_id: job.id,
    files_seen: walked.files,
    assets_added: totals.added,
    assets_updated: totals.updated,
    assets_unchanged: totals.unchanged,
    assets_missing: 0,
    errors: totals.errors + problems.filter((p) => !p.skipped).length + Math.max(0, walked.problemCount - problems.length),
    duration_s: Math.round(duration * 1000) / 1000,
    files_per_s: Math.round((walked.files / duration) * 10) / 10,
    problems,
    problem_count: walked.problemCount,
    stage_ms: Object.fromEntries(STAGES.map((s) => [s, Math.round(totals.timings[s])])) as StageTimings,
  };
  const done = totals.added + totals.updated + totals.unchanged;
  const progress: JobProgress = { done, total: walked.files, failed: totals.errors, rate: summary.files_per_s, eta_s: 0, stage: 'done' };
  // One transaction, so after a lost connection it is sent again whole.
  const finished = await withReconnect(() => whileRunning(sql, job.id, job.owner, async (tx) => {
    summary.assets_missing = failedShards.length ? 0 : await markMissing(tx, catalog.schema_name, job.id, walked.walked, walked.unread);
    const result = { ...summary, failed_shards: failedShards.length };
    return failedShards.length
      ? finishJob(tx, job.id, 'failed', { result, progress, errorCode: 'failed_shards', error: `${failedShards.length} shard(s) failed: ${failedShards[0]}` })
      : finishJob(tx, job.id, 'completed', { result, progress });
  }));
  return { summary, job: finished };
}
