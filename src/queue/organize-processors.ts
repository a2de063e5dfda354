import type { Job as BullJob } from 'bullmq';
import type { Sql } from '../db/database.js';
import { catalogLookup, claimJob } from '../jobs/claim.js';
import type { JobLedger } from '../jobs/ledger.js';
import { runOrganize } from '../jobs/organize.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import type { OrganizePayload } from './names.js';

export interface OrganizeProcessorDeps {
  sql: Sql;
  ledger: JobLedger;
  publisher: ProgressPublisher;
  /** Aborted when this worker is shutting down: the job is left to its journal, and resumed by the next worker. */
  shutdown: AbortSignal;
}

/**
 * An organize job on the queue: the plan carried out (or rolled back) by one worker that sees
 * both the sources and DEST (`lumina worker --queues organize`). A worker that dies mid-plan
 * loses nothing: BullMQ hands the job to another, which resumes from the journal.
 */
export function createOrganizeProcessors(deps: OrganizeProcessorDeps) {
  const { sql, ledger, publisher } = deps;
  const catalogOf = catalogLookup(sql);

  async function organize(bull: BullJob<OrganizePayload>) {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    const abort = new AbortController();
    const stop = () => abort.abort('shutdown');
    deps.shutdown.addEventListener('abort', stop);
    const watch = setInterval(() => void ledger.isCancelled(job.id).then((c) => c && abort.abort('cancelled'), () => {}), 1000);
    try {
      const out = await runOrganize({ sql, job, catalog, signal: abort.signal, progress: (p) => publisher.publish(job, p) });
      if (out?.job) publisher.announce(out.job);
      return out ? { done: out.summary.done, failed: out.summary.failed } : { stopped: true };
    } finally {
      clearInterval(watch);
      deps.shutdown.removeEventListener('abort', stop);
    }
  }

  return { organize };
}
