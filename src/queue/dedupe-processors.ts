import type { Job as BullJob } from 'bullmq';
import { findCatalog, type Catalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { clearCandidates, readCandidates, writeCandidates } from '../db/duplicates.js';
import { finishJob, getJob, isFinal } from '../db/jobs.js';
import { buildIndex, joinSlices, type HammingIndex, type JoinSlice } from '../dedupe/hamming-index.js';
import type { JoinPool } from '../dedupe/join-pool.js';
import type { EmbedService } from '../embed/embed-service.js';
import { finalizeDuplicates, loadForDuplicates, pairsOf, searchInput, type DuplicatesParams, type SearchInput } from '../jobs/duplicates.js';
import type { JobLedger } from '../jobs/ledger.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import type { QueueSet } from './cluster-executor.js';
import { claimJob } from './processors.js';
import { bullIds, RETRYING, type DedupeFinalizePayload, type DedupePlanPayload, type EmbedPayload, type SearchPayload } from './names.js';

export interface DedupeProcessorDeps {
  sql: Sql;
  queues: QueueSet;
  ledger: JobLedger;
  publisher: ProgressPublisher;
  joins(): JoinPool;
  embedder(): EmbedService;
}

/** Hashes per search job: big enough that loading the hash array is paid for, small enough to spread. */
const QUERIES_PER_SLICE = 100_000;
/** Contents per embed job. */
const CONTENTS_PER_EMBED_JOB = 256;

/**
 * A duplicates job on the queues: plan adds one flow whose children are search slices (each
 * worker loads the full hash array and searches its slice of the queries) and embed batches; the
 * finalize parent reads the candidates back, confirms, groups and writes.
 */
export function createDedupeProcessors(deps: DedupeProcessorDeps) {
  const { sql, queues, ledger, publisher } = deps;
  const catalogOf = (id: string) => findCatalog(sql, id);
  // The slices of one job that land on this worker share one load and one index.
  const indexes = new Map<string, Promise<{ input: SearchInput; index: HammingIndex }>>();
  const indexFor = (jobId: string, catalog: Catalog) => {
    let got = indexes.get(jobId);
    if (!got) {
      got = loadForDuplicates(sql, catalog).then((assets) => {
        const input = searchInput(assets);
        return { input, index: buildIndex(input.hashes) };
      });
      indexes.set(jobId, got);
      while (indexes.size > 2) indexes.delete(indexes.keys().next().value!);
    }
    return got;
  };

  async function plan(bull: BullJob<DedupePlanPayload>) {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    if (await queues.queues.dedupe.getJob(bullIds.dedupeFinalize(job.id))) return { skipped: 'already planned' };
    const params = job.params as unknown as DuplicatesParams;
    await publisher.publish(job, { done: 0, total: 0, failed: 0, rate: 0, eta_s: null, stage: 'plan' });
    const { reps } = searchInput(await loadForDuplicates(sql, catalog));
    const n = reps.length;
    const slices = joinSlices(n, 4 * Math.max(1, Math.ceil(n / QUERIES_PER_SLICE)));
    const pending = params.embeddings === 'off' ? [] : await deps.embedder().pending(catalog);
    const embedJobs: string[][] = [];
    for (let i = 0; i < pending.length; i += CONTENTS_PER_EMBED_JOB) embedJobs.push(pending.slice(i, i + CONTENTS_PER_EMBED_JOB).map((p) => p.sha));
    // Progress counts queries searched (four passes over n) and contents embedded.
    await ledger.begin(job.id, 4 * n + pending.length);
    await publisher.publish(job, { done: 0, total: 4 * n + pending.length, failed: 0, rate: 0, eta_s: null, stage: 'search' });
    await queues.flows.add({
      name: 'finalize',
      queueName: 'dedupe',
      data: { job_id: job.id, catalog_id: catalog.id, n } satisfies DedupeFinalizePayload,
      opts: { ...RETRYING, jobId: bullIds.dedupeFinalize(job.id) },
      children: [
        ...slices.map((slice, i) => ({
          name: 'search',
          queueName: 'search',
          data: { job_id: job.id, catalog_id: catalog.id, index: i, slice, n } satisfies SearchPayload,
          opts: { ...RETRYING, jobId: bullIds.search(job.id, i) },
        })),
        ...embedJobs.map((shas, i) => ({
          name: 'embed',
          queueName: 'embed',
          data: { job_id: job.id, catalog_id: catalog.id, index: slices.length + i, shas } satisfies EmbedPayload,
          // Embeddings only confirm: a batch that fails for good leaves its pairs to the hash alone.
          opts: { ...RETRYING, jobId: bullIds.embed(job.id, i), ignoreDependencyOnFailure: true },
        })),
      ],
    });
    return { slices: slices.length, embed_jobs: embedJobs.length };
  }

  async function search(bull: BullJob<SearchPayload>) {
    const { job_id, catalog_id, slice, n, index: part } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    if (!catalog) return { cancelled: true };
    const job = await getJob(sql, job_id);
    if (!job || isFinal(job.status)) return { cancelled: true };
    const params = job.params as unknown as DuplicatesParams;
    const { input, index } = await indexFor(job_id, catalog);
    if (index.n !== n) throw new Error(`the catalog changed while duplicates were being searched (${n} hashes planned, ${index.n} now): run the job again`);
    // The slice again cut into pieces for this host's threads.
    const pool = deps.joins();
    const per = Math.max(1, Math.ceil((slice.to - slice.from) / (pool.threads * 4)));
    const pieces: JoinSlice[] = [];
    for (let from = slice.from; from < slice.to; from += per) pieces.push({ chunk: slice.chunk, from, to: Math.min(slice.to, from + per) });
    const list = await pool.join(index, { radius: params.threshold, turnedRadius: params.turned_threshold }, pieces);
    const pairs = pairsOf(list, input.reps);
    await writeCandidates(sql, catalog.schema_name, job_id, pairs);
    publisher.shardProgress(job, part, slice.to - slice.from, 0, 'search');
    return { pairs: pairs.length };
  }

  async function embed(bull: BullJob<EmbedPayload>) {
    const { job_id, catalog_id, shas, index: part } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    if (!catalog) return { cancelled: true };
    const summary = await deps.embedder().embedPending(catalog, { shas });
    publisher.shardProgress({ id: job_id, catalog_id, type: 'duplicates' }, part, shas.length, summary.failed, 'search');
    return summary;
  }

  async function finalize(bull: BullJob<DedupeFinalizePayload>) {
    const { job_id, catalog_id, n } = bull.data;
    const job = await getJob(sql, job_id);
    const catalog = await catalogOf(catalog_id);
    if (!job || !catalog || isFinal(job.status)) {
      if (catalog) await clearCandidates(sql, catalog.schema_name, job_id);
      await ledger.forget(job_id);
      return { status: job?.status ?? 'gone' };
    }
    await publisher.flush();
    await publisher.publish(job, { done: 4 * n, total: 4 * n, failed: 0, rate: 0, eta_s: 0, stage: 'group' });
    const params = job.params as unknown as DuplicatesParams;
    const assets = await loadForDuplicates(sql, catalog);
    const pairs = await readCandidates(sql, catalog.schema_name, job_id);
    const { job: finished } = await finalizeDuplicates(sql, { catalog, job, params, assets, searched: n, pairs });
    await clearCandidates(sql, catalog.schema_name, job_id);
    if (finished) publisher.announce(finished);
    indexes.delete(job_id);
    await ledger.forget(job_id);
    return { status: finished?.status ?? 'unchanged' };
  }

  /** The dedupe queue carries both ends of the flow. */
  async function dedupe(bull: BullJob<DedupePlanPayload | DedupeFinalizePayload>) {
    if (bull.name === 'finalize') return finalize(bull as BullJob<DedupeFinalizePayload>);
    try {
      return await plan(bull as BullJob<DedupePlanPayload>);
    } catch (err) {
      // A plan that cannot start (no hashes to load, a broken catalog) fails the job on its last attempt.
      if (bull.attemptsMade + 1 >= (bull.opts.attempts ?? 1)) await finishJob(sql, bull.data.job_id, 'failed', { error: (err as Error).message }).then((j) => j && publisher.announce(j));
      throw err;
    }
  }

  return { dedupe, search, embed };
}
