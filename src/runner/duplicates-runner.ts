import type { LuminaConfig } from '../config/config.js';
import { getCatalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { createJob, findInterruptedJob, finishJob, type JobProgress } from '../db/jobs.js';
import { duplicatesParams, type DuplicatesParams, type DuplicatesSummary } from '../jobs/duplicates.js';
import { runJobHere } from './local-runner.js';

export interface DupesOptions {
  catalog: string;
  params: Partial<DuplicatesParams>;
  onProgress?: (p: JobProgress) => void;
}

/** `lumina dupes`: one duplicates job in this process, waited for. */
export async function runDupes(sql: Sql, config: LuminaConfig, opts: DupesOptions): Promise<DuplicatesSummary> {
  const catalog = await getCatalog(sql, opts.catalog);
  const interrupted = await findInterruptedJob(sql, catalog.id, 'duplicates');
  const params = duplicatesParams(opts.params, 'local');
  const job = await createJob(sql, catalog.id, 'duplicates', params as unknown as Record<string, unknown>, 'queued');
  // Detection writes its groups in one transaction at the end, so a cut-off run left nothing half done.
  if (interrupted) await finishJob(sql, interrupted.id, 'failed', { error: `interrupted before it finished; run again by job ${job.id}` });
  return runJobHere(sql, config, job, opts.onProgress, (runner) => runner.runDuplicates(job, catalog));
}
