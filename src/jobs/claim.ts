import { findCatalogById } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { isConnectionLost } from '../db/errors.js';
import { finishJob, getJob, markJobRunning } from '../db/jobs.js';
import type { Catalog } from '../model/catalog.js';
import { isFinal, type Job, type JobErrorCode } from '../model/job.js';
import { messageOf } from '../util/errors.js';

/** Finding a job's row and catalog where a runner or a queue processor picks its work up. */

/** A job's catalog by id, cached for the life of the caller (a catalog's id and schema never change). */
export function catalogLookup(sql: Sql): (id: string) => Promise<Catalog | null> {
  const cache = new Map<string, Catalog>();
  return async (id) => {
    const hit = cache.get(id);
    if (hit) return hit;
    const found = await findCatalogById(sql, id);
    if (found) cache.set(id, found);
    return found;
  };
}

/** The job's row while it is still to do (queued or running); null once it has ended or is gone. */
export async function activeJobRow(sql: Sql, jobId: string): Promise<Job | null> {
  const job = await getJob(sql, jobId);
  return job && !isFinal(job.status) ? job : null;
}

export type Claim = { job: Job; catalog: Catalog; skipped?: undefined } | { skipped: string };

/**
 * The first step of a queued job: its row, still to do, with its catalog, now marked running.
 * Otherwise why it is skipped (ended, or gone with its catalog).
 */
export async function claimJob(sql: Sql, jobId: string, catalogOf: (id: string) => Promise<Catalog | null>): Promise<Claim> {
  const job = await getJob(sql, jobId);
  if (!job || isFinal(job.status)) return { skipped: job ? job.status : 'gone' };
  const catalog = job.catalog_id ? await catalogOf(job.catalog_id) : null;
  if (!catalog || !(await markJobRunning(sql, job.id, job.owner))) return { skipped: 'gone' };
  return { job: { ...job, status: 'running' }, catalog };
}

/**
 * A job whose plan or finalize step failed for good (its last attempt): closed as failed, so
 * that the catalog's one-active-job slot is free again. Returns the closed row, or null when the
 * job had already ended.
 */
export async function failJob(sql: Sql, jobId: string, err: unknown): Promise<Job | null> {
  return finishJob(sql, jobId, 'failed', failureOf(err));
}

/** How a job that failed on `err` is recorded: a lost database connection is said as such, with its own code. */
export function failureOf(err: unknown): { error: string; errorCode: JobErrorCode } {
  return isConnectionLost(err)
    ? { error: `lost the database connection: ${messageOf(err)}`, errorCode: 'database_unavailable' }
    : { error: messageOf(err), errorCode: 'failed' };
}
