import fs from 'node:fs';
import path from 'node:path';
import type { LuminaConfig } from '../config/config.js';
import { markMissing } from '../db/assets.js';
import { addSourceDirectories, createCatalog, findCatalog, thumbnailDir, type Catalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { createJob, findInterruptedJob, finishJob, updateJobProgress, type JobProgress } from '../db/jobs.js';
import { discover, type DiscoveryProblem } from '../pipeline/discover.js';
import { emptyTimings, ingestShard, STAGES, type StageTimings } from '../pipeline/ingest-shard.js';
import { MetadataReader } from '../pipeline/metadata.js';
import { findFfmpeg } from '../pipeline/video-frame.js';
import { UserError, messageOf } from '../util/errors.js';
import { PARTIAL_DIR } from '../workers/file-task.js';
import { FilePool } from '../workers/pool.js';
import { ProgressTracker } from './progress.js';

export interface IngestOptions {
  roots: string[];
  catalogName?: string;
  onProgress?: (p: JobProgress) => void;
}

export interface IngestSummary {
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

/** The in-process runner of the embedded default: discover → shards on the local pool → finalize. */
export async function runIngest(sql: Sql, config: LuminaConfig, opts: IngestOptions): Promise<IngestSummary> {
  const roots = opts.roots.map((r) => path.resolve(r));
  for (const root of roots) {
    if (!fs.existsSync(root)) throw new UserError(`no such directory: ${root}`);
  }
  const catalog = await ensureCatalog(sql, opts.catalogName ?? (path.basename(roots[0]!) || 'photos'), roots);
  const release = await lockCatalog(sql, config, catalog);
  try {
    return await ingestLocked(sql, config, catalog, roots, opts);
  } finally {
    await release();
  }
}

/** The advisory lock a scan of this catalog holds (hashed by PostgreSQL's hashtext). */
export const scanLockName = (catalogId: string) => `lumina.scan.${catalogId}`;

/**
 * One scan of a catalog at a time. Embedded mode has that already (one process owns the data
 * directory); on a shared PostgreSQL a session advisory lock says so to every other process.
 */
async function lockCatalog(sql: Sql, config: LuminaConfig, catalog: Catalog): Promise<() => Promise<void>> {
  if (config.database.kind !== 'postgres') return async () => {};
  const conn = await sql.reserve();
  const [row] = await conn<{ locked: boolean }[]>`select pg_try_advisory_lock(hashtext(${scanLockName(catalog.id)})) as locked`;
  if (!row?.locked) {
    conn.release();
    throw new UserError(`catalog "${catalog.name}" is being scanned by another lumina process; wait for it to finish`);
  }
  return async () => {
    await conn`select pg_advisory_unlock(hashtext(${scanLockName(catalog.id)}))`.catch(() => {});
    conn.release();
  };
}

async function ingestLocked(sql: Sql, config: LuminaConfig, catalog: Catalog, roots: string[], opts: IngestOptions): Promise<IngestSummary> {
  // This process holds the catalog's scan lock, so a scan still marked running was cut off
  // (killed, crashed): this run takes over where it stopped.
  const interrupted = await findInterruptedJob(sql, catalog.id, 'scan');
  const job = await createJob(sql, catalog.id, 'scan', { directories: roots });
  if (interrupted) await finishJob(sql, interrupted.id, 'failed', { error: `interrupted before it finished; resumed by job ${job.id}` });

  const progress = new ProgressTracker();
  let lastReport = 0;
  let lastDbWrite = 0;
  const report = (force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 250) return;
    lastReport = now;
    const snap = progress.snapshot();
    opts.onProgress?.(snap);
    if (force || now - lastDbWrite > 1000) {
      lastDbWrite = now;
      void updateJobProgress(sql, job.id, snap).catch(() => {});
    }
  };

  const thumbs = thumbnailDir(config.dataDir, catalog.id);
  fs.rmSync(path.join(thumbs, PARTIAL_DIR), { recursive: true, force: true });
  const pool = new FilePool(config.workers);
  const metadata = new MetadataReader(config.workers);
  try {
    const found = await discover(roots, (n) => {
      progress.total = n;
      report();
    });
    progress.total = found.files.length;
    progress.stage = 'ingest';
    report(true);

    const ctx = {
      sql,
      metadata,
      runTask: pool.run.bind(pool),
      ffmpeg: findFfmpeg(),
      thumbnailDir: thumbs,
      maxPixels: config.maxPixels,
      concurrency: config.workers * 2 + 2,
      onFileDone: (status: string) => {
        progress.fileDone(status === 'error');
        report();
      },
    };
    const totals = { added: 0, updated: 0, unchanged: 0, errors: 0, timings: emptyTimings() };
    const shards: (typeof found.files)[] = [];
    for (let i = 0; i < found.files.length; i += config.shardSize) shards.push(found.files.slice(i, i + config.shardSize));

    // Two shards in flight: one keeps the pool busy while the other finishes and writes.
    let nextShard = 0;
    const lane = async () => {
      while (nextShard < shards.length) {
        const files = shards[nextShard++]!;
        const out = await ingestShard(ctx, { catalogSchema: catalog.schema_name, jobId: job.id, files });
        totals.added += out.added;
        totals.updated += out.updated;
        totals.unchanged += out.unchanged;
        totals.errors += out.errors;
        for (const s of STAGES) totals.timings[s] += out.timings[s];
      }
    };
    await Promise.all([lane(), lane()]);

    // Only roots that were walked can vouch that a file is gone: an unmounted disk marks nothing.
    progress.stage = 'finalize';
    report(true);
    const walked = roots.filter((r) => !found.problems.some((p) => p.path === r));
    const missing = await markMissing(sql, catalog.schema_name, job.id, walked);

    const duration = progress.elapsedS;
    const summary: IngestSummary = {
      catalog: { id: catalog.id, name: catalog.name },
      job_id: job.id,
      files_seen: found.files.length,
      assets_added: totals.added,
      assets_updated: totals.updated,
      assets_unchanged: totals.unchanged,
      assets_missing: missing,
      errors: totals.errors + found.problems.length,
      duration_s: Math.round(duration * 1000) / 1000,
      files_per_s: Math.round((found.files.length / Math.max(duration, 1e-3)) * 10) / 10,
      problems: found.problems,
      stage_ms: Object.fromEntries(STAGES.map((s) => [s, Math.round(totals.timings[s])])) as StageTimings,
    };
    progress.stage = 'done';
    report(true);
    const { problems, ...result } = summary;
    await finishJob(sql, job.id, 'completed', { result: { ...result, problems: problems.slice(0, 1000) } });
    return summary;
  } catch (err) {
    await finishJob(sql, job.id, 'failed', { error: messageOf(err) }).catch(() => {});
    throw err;
  } finally {
    await Promise.all([pool.close(), metadata.close()]);
  }
}

async function ensureCatalog(sql: Sql, name: string, roots: string[]): Promise<Catalog> {
  const existing = await findCatalog(sql, name);
  if (existing) return addSourceDirectories(sql, existing, roots);
  return createCatalog(sql, { name, sourceDirectories: roots });
}

