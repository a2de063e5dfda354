import type { ProcessedStatus } from '../model/asset.js';
import { knownFiles, writeShard, type AssetWrite } from '../db/assets.js';
import type { Sql } from '../db/database.js';
import { SharedResults, TIMING_STAGES } from '../workers/shared-results.js';
import type { DiscoveredFile } from './discover.js';
import { FINGERPRINT_VERSION } from './fingerprint.js';
import { isRetryable } from '../model/file-errors.js';
import { withReconnect } from '../db/retry.js';
import { ingestFile, type FileEdges } from './ingest-file.js';

/**
 * The unit of work: a list of files of one catalog. The embedded runner calls this in-process and
 * a queue worker calls it for a job; both get the same rows. Unchanged files (same path, size and
 * mtime, and no error that a retry could cure) are only stamped as seen.
 */
export interface Shard {
  catalogSchema: string;
  jobId: string;
  files: DiscoveredFile[];
}

export interface ShardContext extends Omit<FileEdges, 'jobId'> {
  sql: Sql;
  /** Files in flight at once; a little above the pool size hides ExifTool's latency. */
  concurrency: number;
  onFileDone?: (status: ProcessedStatus | 'unchanged') => void;
  /** Stops taking new files (cancel, shutdown); the finished ones are still written. */
  signal?: AbortSignal;
}

export const STAGES = [...TIMING_STAGES, 'metadata', 'database'] as const;
export type StageTimings = Record<(typeof STAGES)[number], number>;

export interface ShardOutcome {
  added: number;
  updated: number;
  unchanged: number;
  errors: number;
  /** Milliseconds summed over the shard's files, per stage. */
  timings: StageTimings;
  /** True when the signal cut the shard short: some files were not processed. */
  aborted: boolean;
}

export function emptyTimings(): StageTimings {
  return Object.fromEntries(STAGES.map((s) => [s, 0])) as StageTimings;
}

export async function ingestShard(ctx: ShardContext, shard: Shard): Promise<ShardOutcome> {
  const timings = emptyTimings();
  const known = await withReconnect(() => knownFiles(ctx.sql, shard.catalogSchema, shard.files.map((f) => f.path)));
  const todo: DiscoveredFile[] = [];
  const unchanged: string[] = [];
  for (const f of shard.files) {
    const k = known.get(f.path);
    const same = k && k.status !== 'missing' && Number(k.size) === f.size && k.mtime.getTime() === f.mtimeMs && k.fingerprint_version >= FINGERPRINT_VERSION;
    if (same && (k.status === 'ok' || !isRetryable(k.error_code, k.error))) unchanged.push(f.path);
    else todo.push(f);
  }
  for (let i = 0; i < unchanged.length; i++) ctx.onFileDone?.('unchanged');

  const results = new SharedResults(Math.max(1, todo.length));
  const rows: AssetWrite[] = new Array(todo.length);
  const edges: FileEdges = { ...ctx, jobId: shard.jobId };
  let next = 0;
  const lane = async () => {
    while (next < todo.length && !ctx.signal?.aborted) {
      const slot = next++;
      const { row, metadataMs } = await ingestFile(edges, todo[slot]!, results, slot);
      rows[slot] = row;
      timings.metadata += metadataMs;
      ctx.onFileDone?.(row.status);
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.concurrency, todo.length) }, lane));
  for (let slot = 0; slot < todo.length; slot++) {
    const t = results.timingsOf(slot);
    for (const s of TIMING_STAGES) timings[s] += t[s];
  }

  const finished = rows.filter((r) => r !== undefined);
  const t0 = performance.now();
  // The write is one idempotent transaction: after a lost connection it is simply sent again.
  await withReconnect(() => writeShard(ctx.sql, shard.catalogSchema, shard.jobId, finished, unchanged));
  timings.database += performance.now() - t0;

  const added = finished.filter((r) => !known.has(r.path)).length;
  return {
    added,
    updated: finished.length - added,
    unchanged: unchanged.length,
    errors: finished.filter((r) => r.status === 'error').length,
    timings,
    aborted: finished.length < todo.length,
  };
}
