import { spoolBytes } from './embed-spool.js';
import { markMissing } from '../db/assets.js';
import type { Sql } from '../db/database.js';
import { finishJob, whileRunning } from '../db/jobs.js';
import { withReconnect } from '../db/retry.js';
import type { Catalog, OutputDirs } from '../model/catalog.js';
import { secondsSinceStart, type Job, type JobProgress, type JobRunner } from '../model/job.js';
import { discover, type DiscoveredFile, type DiscoveryProblem } from '../pipeline/discover.js';
import { isInsideAny, realLocation } from '../pipeline/real-paths.js';
import { emptyTimings, ingestShard, STAGES, type ShardContext, type ShardOutcome, type StageTimings } from '../pipeline/ingest-shard.js';
import type { ProgressPublisher } from './progress-publisher.js';

/**
 * The three steps of a scan job as plain functions, called alike by the in-process runner
 * (embedded mode) and by the queue processors (cluster mode): plan → shards → finalize.
 */

/** What public.jobs.params holds for a scan. */
export interface ScanParams {
  directories: string[];
  /** 'local' runs in the submitting process; 'cluster' runs on queue workers. */
  runner: JobRunner;
  /** Files per shard for this job; the configured default when absent. */
  shard_size?: number;
}

export interface ScanPlan {
  shards: DiscoveredFile[][];
  problems: DiscoveryProblem[];
  /** Roots that were actually walked: only these can vouch that a file has gone. */
  walked: string[];
  /** Folders and files under them that could not be read: their files keep their state. */
  unread: string[];
  files: number;
}

/**
 * Step 1: walk the directories and cut the file list into shards. Each directory is checked
 * again against the catalog's roots where it really leads now (it may have been swapped for a
 * link since the job was accepted), and links out of the roots are not followed unless the
 * catalog's settings allow it.
 */
export async function planScan(catalog: Catalog, directories: string[], shardSize: number, onFound?: (n: number) => void): Promise<ScanPlan> {
  const realRoots = catalog.source_directories.map(realLocation);
  const escaped = directories.filter((d) => !isInsideAny(realLocation(d), realRoots));
  const roots = directories.filter((d) => !escaped.includes(d));
  const found = await discover(roots, onFound, { within: catalog.source_directories, followExternal: catalog.settings.follow_external_links === true });
  for (const d of escaped) found.problems.unshift({ path: d, message: `not scanned: it now leads outside the catalog's source directories (to ${realLocation(d)})`, skipped: true });
  const shards: DiscoveredFile[][] = [];
  for (let i = 0; i < found.files.length; i += shardSize) shards.push(found.files.slice(i, i + shardSize));
  return {
    shards,
    problems: found.problems,
    walked: roots.filter((r) => !found.problems.some((p) => p.path === r)),
    unread: found.unread,
    files: found.files.length,
  };
}

export type ShardWork = Omit<ShardContext, 'onFileDone' | 'thumbnailDir' | 'embedInputDir'> & {
  /** Bytes the CNN inputs waiting for `dupes` may take; a shard that starts past it writes none. */
  embedSpoolMax: number;
};

/** Step 2: one shard, its progress reported per file through the publisher. */
export async function runScanShard(
  work: ShardWork,
  publisher: ProgressPublisher,
  job: Pick<Job, 'id' | 'catalog_id' | 'type'>,
  catalog: Catalog,
  dirs: OutputDirs,
  shard: { index: number; files: DiscoveredFile[] },
): Promise<ShardOutcome> {
  let done = 0;
  let failed = 0;
  const { embedSpoolMax, ...context } = work;
  // Past the cap, the embed stage reads these pictures' thumbnails instead.
  const spoolRoom = dirs.embedInputs !== null && (await spoolBytes(dirs.embedInputs)) < embedSpoolMax;
  return ingestShard(
    {
      ...context,
      thumbnailDir: dirs.thumbnails,
      embedInputDir: spoolRoom ? dirs.embedInputs : null,
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
  problems: DiscoveryProblem[];
  /** Milliseconds per stage, summed over files (busy time, not wall time). */
  stage_ms: StageTimings;
}

export interface FinalizeInput {
  catalog: Catalog;
  job: Job;
  plan: Omit<ScanPlan, 'shards'>;
  totals: ScanTotals;
  /** Messages of shards that failed for good (after their retries). */
  failedShards: string[];
}

/**
 * Step 3: mark vanished files missing and close the job, in one transaction while the job is
 * still running under its owner: a scan that was cancelled or taken over marks nothing. A job
 * with a failed shard marks nothing missing (that shard's files were never stamped as seen) and
 * ends failed, its rows kept.
 */
export async function finalizeScan(sql: Sql, input: FinalizeInput): Promise<{ summary: ScanSummary; job: Job | null }> {
  const { catalog, job, plan, totals, failedShards } = input;
  const duration = secondsSinceStart(job);
  const summary: ScanSummary = {
    catalog: { id: catalog.id, name: catalog.name },
    job_id: job.id,
    files_seen: plan.files,
    assets_added: totals.added,
    assets_updated: totals.updated,
    assets_unchanged: totals.unchanged,
    assets_missing: 0,
    errors: totals.errors + plan.problems.filter((p) => !p.skipped).length,
    duration_s: Math.round(duration * 1000) / 1000,
    files_per_s: Math.round((plan.files / duration) * 10) / 10,
    problems: plan.problems,
    stage_ms: Object.fromEntries(STAGES.map((s) => [s, Math.round(totals.timings[s])])) as StageTimings,
  };
  const done = totals.added + totals.updated + totals.unchanged;
  const progress: JobProgress = { done, total: plan.files, failed: totals.errors, rate: summary.files_per_s, eta_s: 0, stage: 'done' };
  // One transaction, so after a lost connection it is sent again whole.
  const finished = await withReconnect(() => whileRunning(sql, job.id, job.owner, async (tx) => {
    summary.assets_missing = failedShards.length ? 0 : await markMissing(tx, catalog.schema_name, job.id, plan.walked, plan.unread);
    const { problems, ...rest } = summary;
    const result = { ...rest, problems: problems.slice(0, 1000), failed_shards: failedShards.length };
    return failedShards.length
      ? finishJob(tx, job.id, 'failed', { result, progress, errorCode: 'failed_shards', error: `${failedShards.length} shard(s) failed: ${failedShards[0]}` })
      : finishJob(tx, job.id, 'completed', { result, progress });
  }));
  return { summary, job: finished };
}
