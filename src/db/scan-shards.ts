import path from 'node:path';
import zlib from 'node:zlib';
import type { Sql } from './database.js';

/**
 * A scan's shards and the end of its walk, in public.scan_shards and public.scan_walks (migration
 * 5). The walk writes each shard as it is cut, so neither the walking process nor Redis ever holds
 * the whole file list; whoever ingests a shard reads it back here and writes its outcome beside it.
 */

/** A file as a shard keeps it; its type and extension follow from its name. */
export interface ShardFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** What the walk leaves for finalize: the rest is summed from the shards' outcomes. */
export interface WalkRecord {
  files: number;
  shards: number;
  walked: string[];
  unread: string[];
  /** The first problems (finalize reports at most this many); problem_count counts them all. */
  problems: unknown[];
  problemCount: number;
}

/** A shard's result as its row keeps it: what ingesting it gave, or the error it failed with for good. */
export type StoredOutcome<T extends object> = T | { error: string };

// Folder, then the names, sizes and mtimes of its files in that folder: paths in one folder share
// everything but their last part, and gzip takes most of what is left.
type Packed = [dir: string, names: string[], sizes: number[], mtimes: number[]][];

export function packFiles(files: ShardFile[]): Buffer {
  const packed: Packed = [];
  let last: Packed[number] | undefined;
  for (const f of files) {
    const dir = path.dirname(f.path);
    if (!last || last[0] !== dir) packed.push((last = [dir, [], [], []]));
    last[1].push(path.basename(f.path));
    last[2].push(f.size);
    last[3].push(f.mtimeMs);
  }
  return zlib.gzipSync(JSON.stringify(packed), { level: 6 });
}

export function unpackFiles(blob: Uint8Array): ShardFile[] {
  const packed = JSON.parse(zlib.gunzipSync(blob).toString('utf8')) as Packed;
  const files: ShardFile[] = [];
  for (const [dir, names, sizes, mtimes] of packed) {
    for (let i = 0; i < names.length; i++) files.push({ path: path.join(dir, names[i]!), size: sizes[i]!, mtimeMs: mtimes[i]! });
  }
  return files;
}

/** Writes a shard once: a walk that runs again after a crash cuts the same shards and keeps the first. */
export async function saveShard(sql: Sql, jobId: string, shard: number, files: ShardFile[]): Promise<void> {
  await sql`
    insert into public.scan_shards (job_id, shard, file_count, files)
    values (${jobId}, ${shard}, ${files.length}, ${packFiles(files)})
    on conflict (job_id, shard) do nothing`;
}

/** A shard's files; null when the job's shards are gone (it was finalized or deleted). */
export async function loadShard(sql: Sql, jobId: string, shard: number): Promise<ShardFile[] | null> {
  const [row] = await sql<{ files: Uint8Array }[]>`select files from public.scan_shards where job_id = ${jobId} and shard = ${shard}`;
  return row ? unpackFiles(row.files) : null;
}

/** Records a shard's outcome; a retried shard's later outcome replaces the earlier, unless `onlyIfNone`. */
export async function saveShardOutcome<T extends object>(sql: Sql, jobId: string, shard: number, outcome: StoredOutcome<T>, onlyIfNone = false): Promise<void> {
  await sql`
    update public.scan_shards set outcome = ${sql.json(outcome as never)}
    where job_id = ${jobId} and shard = ${shard} ${onlyIfNone ? sql`and outcome is null` : sql``}`;
}

export async function saveWalk(sql: Sql, jobId: string, w: WalkRecord): Promise<void> {
  await sql`
    insert into public.scan_walks (job_id, files, shards, walked, unread, problems, problem_count)
    values (${jobId}, ${w.files}, ${w.shards}, ${w.walked}, ${w.unread}, ${sql.json(w.problems as never)}, ${w.problemCount})
    on conflict (job_id) do nothing`;
}

export async function loadWalk(sql: Sql, jobId: string): Promise<WalkRecord | null> {
  const [row] = await sql<{ files: bigint; shards: number; walked: string[]; unread: string[]; problems: unknown[]; problem_count: number }[]>`
    select files, shards, walked, unread, problems, problem_count from public.scan_walks where job_id = ${jobId}`;
  return row ? { files: Number(row.files), shards: row.shards, walked: row.walked, unread: row.unread, problems: row.problems, problemCount: row.problem_count } : null;
}

/** Whether the walk has ended and every shard it cut has an outcome: the job can be finalized. */
export async function scanComplete(sql: Sql, jobId: string): Promise<boolean> {
  const [row] = await sql<{ complete: boolean }[]>`
    select exists (select 1 from public.scan_walks where job_id = ${jobId})
      and not exists (
        select 1 from public.scan_shards s join public.scan_walks w using (job_id)
        where s.job_id = ${jobId} and s.outcome is null and s.shard < w.shards) as complete`;
  return row!.complete;
}

/**
 * Every shard's outcome, in shard order, for finalize to sum. Only the shards the finished walk
 * cut count: a walk run again over a tree that shrank meanwhile leaves its earlier tail behind.
 */
export async function shardOutcomes<T extends object>(sql: Sql, jobId: string, shards: number): Promise<StoredOutcome<T>[]> {
  const rows = await sql<{ outcome: StoredOutcome<T> }[]>`
    select outcome from public.scan_shards
    where job_id = ${jobId} and outcome is not null and shard < ${shards} order by shard`;
  return rows.map((r) => r.outcome);
}
