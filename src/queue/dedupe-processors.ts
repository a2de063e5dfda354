import type { Job as BullJob } from 'bullmq';
import type { Sql } from '../db/database.js';
import type { JoinPool } from '../dedupe/join-pool.js';
import type { EmbedService } from '../embed/embed-service.js';
import { activeJobRow, catalogLookup, claimJob } from '../jobs/claim.js';
import { closeDuplicates, embedPart, finalizeFromCandidates, planDuplicates, searchPartToCandidates, SearchIndexCache, sliceSize, type DuplicatesParams, type DuplicatesWork } from '../jobs/duplicates.js';
import type { JobLedger } from '../jobs/ledger.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import type { QueueSet } from './cluster-executor.js';
import { bullIds, RETRYING, type DedupeFinalizePayload, type DedupePlanPayload, type EmbedPayload, type SearchPayload } from './names.js';

export interface DedupeProcessorDeps {
  sql: Sql;
  queues: QueueSet;
  ledger: JobLedger;
  publisher: ProgressPublisher;
  joins(): JoinPool;
  embedder(): EmbedService;
  /** Where the catalogs' thumbnails are. */
  dataDir: string;
}

/**
 * A duplicates job on the queues, as thin adapters to src/jobs/duplicates.ts: plan adds one flow
 * whose children are the plan's search slices and embed batches; the finalize parent confirms,
 * groups and writes.
 */
export function createDedupeProcessors(deps: DedupeProcessorDeps) {
  const { sql, queues, ledger, publisher } = deps;
  const catalogOf = catalogLookup(sql);
  const work: DuplicatesWork = { sql, dataDir: deps.dataDir, joins: deps.joins, embedder: deps.embedder, indexes: new SearchIndexCache(sql) };

  async function plan(bull: BullJob<DedupePlanPayload>) {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    if (await queues.queues.dedupe.getJob(bullIds.dedupeFinalize(job.id))) return { skipped: 'already planned' };
    const params = job.params as unknown as DuplicatesParams;
    await publisher.publish(job, { done: 0, total: 0, failed: 0, rate: 0, eta_s: null, stage: 'plan' });
    const planned = await planDuplicates(work, job, catalog, params);
    await ledger.begin(job.id, planned.total);
    await publisher.publish(job, { done: 0, total: planned.total, failed: 0, rate: 0, eta_s: null, stage: 'search' });
    const n = planned.n;
    await queues.flows.add({
      name: 'finalize',
      queueName: 'dedupe',
      data: { job_id: job.id, catalog_id: catalog.id, n } satisfies DedupeFinalizePayload,
      opts: { ...RETRYING, jobId: bullIds.dedupeFinalize(job.id) },
      children: [
        ...planned.slices.map((slice, i) => ({
          name: 'search',
          queueName: 'search',
          data: { job_id: job.id, catalog_id: catalog.id, index: i, slice, n } satisfies SearchPayload,
          opts: { ...RETRYING, jobId: bullIds.search(job.id, i) },
        })),
        ...planned.embedBatches.map((shas, i) => ({
          name: 'embed',
          queueName: 'embed',
          data: { job_id: job.id, catalog_id: catalog.id, index: planned.slices.length + i, shas } satisfies EmbedPayload,
          // Embeddings only confirm: a batch that fails for good leaves its pairs to the hash alone.
          opts: { ...RETRYING, jobId: bullIds.embed(job.id, i), ignoreDependencyOnFailure: true },
        })),
      ],
    });
    return { slices: planned.slices.length, embed_jobs: planned.embedBatches.length };
  }

  async function search(bull: BullJob<SearchPayload>) {
    const { job_id, catalog_id, slice, n, index: part } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    const job = await activeJobRow(sql, job_id);
    if (!catalog || !job) return { cancelled: true };
    const pairs = await searchPartToCandidates(work, job, catalog, job.params as unknown as DuplicatesParams, slice, n);
    publisher.shardProgress(job, part, sliceSize(slice), 0, 'search');
    return { pairs };
  }

  async function embed(bull: BullJob<EmbedPayload>) {
    const { job_id, catalog_id, shas, index: part } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    const job = await activeJobRow(sql, job_id);
    if (!catalog || !job) return { cancelled: true };
    // A queued batch throws on failure, so BullMQ retries it; the flow then goes on without it.
    const summary = await embedPart(work, catalog, { ...(job.params as unknown as DuplicatesParams), embeddings: 'on' }, { shas });
    publisher.shardProgress(job, part, shas.length, summary?.failed ?? 0, 'search');
    return summary;
  }

  async function finalize(bull: BullJob<DedupeFinalizePayload>) {
    const { job_id, catalog_id, n } = bull.data;
    const job = await activeJobRow(sql, job_id);
    const catalog = await catalogOf(catalog_id);
    if (!job || !catalog) {
      await closeDuplicates(work, catalog, job_id);
      await ledger.forget(job_id);
      return { status: 'ended' };
    }
    await publisher.flush();
    await publisher.publish(job, { done: 4 * n, total: 4 * n, failed: 0, rate: 0, eta_s: 0, stage: 'group' });
    const finished = await finalizeFromCandidates(work, { catalog, job, params: job.params as unknown as DuplicatesParams, searched: n });
    if (finished) publisher.announce(finished);
    await ledger.forget(job_id);
    return { status: finished?.status ?? 'unchanged' };
  }

  /** The dedupe queue carries both ends of the flow. */
  async function dedupe(bull: BullJob<DedupePlanPayload | DedupeFinalizePayload>) {
    return bull.name === 'finalize' ? finalize(bull as BullJob<DedupeFinalizePayload>) : plan(bull as BullJob<DedupePlanPayload>);
  }

  return { dedupe, search, embed };
}
