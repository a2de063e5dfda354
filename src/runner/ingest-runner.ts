import fs from 'node:fs';
import path from 'node:path';
import type { LuminaConfig } from '../config/config.js';
import { addSourceDirectories, createCatalog, findCatalog, type Catalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { createJob, findInterruptedJob, finishJob, type JobProgress } from '../db/jobs.js';
import type { ScanParams, ScanSummary } from '../jobs/scan.js';
import { UserError } from '../util/errors.js';
import { runJobHere } from './local-runner.js';

export interface IngestOptions {
  roots: string[];
  catalogName?: string;
  onProgress?: (p: JobProgress) => void;
}

export type IngestSummary = ScanSummary;

/** `lumina ingest`: ensures the catalog, then runs one scan in this process and waits for it. */
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
  // This process holds the catalog's scan lock, so a local scan still marked running was cut off
  // (killed, crashed): this run takes over where it stopped.
  const interrupted = await findInterruptedJob(sql, catalog.id, 'scan');
  const params: ScanParams = { directories: roots, runner: 'local' };
  const job = await createJob(sql, catalog.id, 'scan', params as unknown as Record<string, unknown>, 'queued');
  if (interrupted) await finishJob(sql, interrupted.id, 'failed', { error: `interrupted before it finished; resumed by job ${job.id}` });
  return runJobHere(sql, config, job, opts.onProgress, (runner) => runner.runScan(job, catalog));
}

async function ensureCatalog(sql: Sql, name: string, roots: string[]): Promise<Catalog> {
  const existing = await findCatalog(sql, name);
  if (existing) return addSourceDirectories(sql, existing, roots);
  return createCatalog(sql, { name, sourceDirectories: roots });
}

