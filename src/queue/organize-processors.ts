import type { Job as BullJob } from 'bullmq';
import type { Sql } from '../db/database.js';
import { getPlan } from '../db/organize.js';
import { activeJobRow, catalogLookup, claimJob } from '../jobs/claim.js';
import type { JobLedger } from '../jobs/ledger.js';
import { addTotals, beginOrganize, emptyTotals, finishOrganize, organizeSlice, paramsOf, sliceRanges, type SliceTotals } from '../jobs/organize.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import type { QueueSet } from './cluster-executor.js';
import { bullIds, RETRYING, type OrganizeFinalizePayload, type OrganizePayload, type OrganizeSlicePayload } from './names.js';

export interface OrganizeProcessorDeps {
  sql: Sql;
  queues: QueueSet;
  ledger: JobLedger;
  publisher: ProgressPublisher;
  /** Aborted when this worker is shutting down: a slice stops between actions and is taken again later. */
  shutdown: AbortSignal;
}

/**
 * An organize job on the queue, as thin adapters to src/jobs/organize.ts: the plan step adds one
 * flow whose children are slices of the plan's actions and whose parent finishes the job. Only
 * workers that see both the archive and DEST take the organize queue (`lumina worker --queues
 * organize`); a worker that dies mid-slice loses nothing, the next one resumes from the journal.
 */
export function createOrganizeProcessors(deps: OrganizeProcessorDeps) {
  const { sql, queues, ledger, publisher } = deps;
  const catalogOf = catalogLookup(sql);

  async function plan(bull: BullJob<OrganizePayload>) {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    if (await queues.queues.organize.getJob(bullIds.organizeFinalize(job.id))) return { skipped: 'already planned' };
    const organized = await beginOrganize(sql, job, catalog);
    const ranges = sliceRanges(organized.summary.files);
    await ledger.begin(job.id, organized.summary.files);
    const direction = paramsOf(job).direction;
    await queues.flows.add({
      name: 'finalize',
      queueName: 'organize',
      data: { job_id: job.id, catalog_id: catalog.id } satisfies OrganizeFinalizePayload,
      opts: { ...RETRYING, jobId: bullIds.organizeFinalize(job.id) },
      children: (direction === 'rollback' ? [...ranges].reverse() : ranges).map((range, i) => ({
        name: 'slice',
        queueName: 'organize',
        data: { job_id: job.id, catalog_id: catalog.id, index: i, range } satisfies OrganizeSlicePayload,
        opts: { ...RETRYING, jobId: bullIds.organizeSlice(job.id, i) },
      })),
    });
    return { slices: ranges.length };
  }

  async function slice(bull: BullJob<OrganizeSlicePayload>): Promise<SliceTotals | { cancelled: true }> {
    const { job_id, catalog_id, index, range } = bull.data;
    const job = await activeJobRow(sql, job_id);
    const catalog = await catalogOf(catalog_id);
    if (!job || !catalog || (await ledger.isCancelled(job_id))) return { cancelled: true };
    const row = await getPlan(sql, catalog.schema_name, paramsOf(job).plan_id);
    if (!row) return { cancelled: true };
    const abort = new AbortController();
    const stop = () => abort.abort('shutdown');
    deps.shutdown.addEventListener('abort', stop);
    const watch = setInterval(() => void ledger.isCancelled(job_id).then((c) => c && abort.abort('cancelled'), () => {}), 1000);
    const stage = paramsOf(job).direction;
    try {
      const totals = await organizeSlice({
        sql, job, catalog, plan: { ...row, catalog_id: catalog.id }, range, signal: abort.signal,
        onAction: (t) => publisher.shardProgress(job, index, t.done + t.failed + t.skipped + t.conflicts, t.failed + t.conflicts, stage),
      });
      // Stopped part way (shutdown): the slice goes back to the queue and resumes from the journal.
      if (abort.signal.aborted && abort.signal.reason === 'shutdown') throw new Error('worker shutting down: the slice will be resumed');
      return totals;
    } finally {
      clearInterval(watch);
      deps.shutdown.removeEventListener('abort', stop);
    }
  }

  async function finalize(bull: BullJob<OrganizeFinalizePayload>) {
    const job = await activeJobRow(sql, bull.data.job_id);
    const catalog = await catalogOf(bull.data.catalog_id);
    if (!job || !catalog) return { skipped: 'gone' };
    const row = await getPlan(sql, catalog.schema_name, paramsOf(job).plan_id);
    if (!row) return { skipped: 'gone' };
    const totals = emptyTotals();
    for (const v of Object.values(await bull.getChildrenValues<SliceTotals | { cancelled: true }>())) if (!('cancelled' in v)) addTotals(totals, v);
    await publisher.flush();
    const out = await finishOrganize(sql, job, catalog, { ...row, catalog_id: catalog.id }, totals);
    if (out.job) publisher.announce(out.job);
    return { done: totals.done, failed: totals.failed };
  }

  /** One queue, three kinds of job. */
  async function organize(bull: BullJob<OrganizePayload | OrganizeSlicePayload | OrganizeFinalizePayload>) {
    if (bull.name === 'slice') return slice(bull as BullJob<OrganizeSlicePayload>);
    if (bull.name === 'finalize') return finalize(bull as BullJob<OrganizeFinalizePayload>);
    return plan(bull as BullJob<OrganizePayload>);
  }

  return { organize };
}
