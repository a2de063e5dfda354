import type { Job as BullJob } from 'bullmq';
import { WaitingError } from 'bullmq';
import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { activeJobRow, catalogLookup, claimJob } from '../jobs/claim.js';
import { outputDirs } from '../model/catalog.js';
import type { JobLedger } from '../jobs/ledger.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import { addOutcome, emptyTotals, finalizeScan, planScan, runScanShard, type ScanParams, type ShardWork } from '../jobs/scan.js';
import type { ShardOutcome } from '../pipeline/ingest-shard.js';
import type { RateMeter } from '../runner/rate-meter.js';
import type { QueueSet } from './cluster-executor.js';
import { bullIds, RETRYING, type DiscoverPayload, type FinalizePayload, type ShardPayload } from './names.js';

export interface ProcessorDeps {
  sql: Sql;
  config: LuminaConfig;
  queues: QueueSet;
  ledger: JobLedger;
  publisher: ProgressPublisher;
  work: ShardWork;
  meter: RateMeter;
  /** Aborted when this worker is shutting down: running shards write what they finished and go back. */
  shutdown: AbortSignal;
}

type ShardResult = Omit<ShardOutcome, 'aborted'> | { cancelled: true };

/** What each queue's jobs do: thin adapters from BullMQ jobs to the scan steps. */
export function createProcessors(deps: ProcessorDeps) {
  const { sql, config, queues, ledger, publisher } = deps;
  const catalogOf = catalogLookup(sql);

  async function discover(bull: BullJob<DiscoverPayload>): Promise<{ shards: number } | { skipped: string }> {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    // A retried discover finds its flow already added: adding it again would be a no-op anyway.
    if (await queues.queues.finalize.getJob(bullIds.finalize(job.id))) return { skipped: 'already planned' };

    const params = job.params as unknown as ScanParams;
    const plan = await planScan(catalog, params.directories, params.shard_size ?? config.shardSize, publisher.discovering(job));
    await ledger.begin(job.id, plan.files);
    await publisher.publish(job, { done: 0, total: plan.files, failed: 0, rate: 0, eta_s: null, stage: 'ingest' });

    const finalize: FinalizePayload = { job_id: job.id, catalog_id: catalog.id, walked: plan.walked, unread: plan.unread, problems: plan.problems.slice(0, 1000), files: plan.files };
    // The flow makes finalize wait for every shard: the job ends exactly when its last shard does.
    // A shard that fails for good is ignored by the dependency, and finalize reports it.
    await queues.flows.add({
      name: 'finalize',
      queueName: 'finalize',
      data: finalize,
      opts: { ...RETRYING, jobId: bullIds.finalize(job.id) },
      children: plan.shards.map((files, i) => ({
        name: 'shard',
        queueName: 'ingest',
        data: { job_id: job.id, catalog_id: catalog.id, shard: i, files } satisfies ShardPayload,
        opts: { ...RETRYING, jobId: bullIds.shard(job.id, i), ignoreDependencyOnFailure: true },
      })),
    });
    return { shards: plan.shards.length };
  }

  async function ingest(bull: BullJob<ShardPayload>, token?: string): Promise<ShardResult> {
    const { job_id, catalog_id, shard, files } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    if (!catalog) return { cancelled: true };

    const abort = new AbortController();
    const onShutdown = () => abort.abort('shutdown');
    deps.shutdown.addEventListener('abort', onShutdown);
    if (deps.shutdown.aborted) abort.abort('shutdown');
    const watch = setInterval(() => {
      void ledger.isCancelled(job_id).then((c) => c && abort.abort('cancelled'), () => {});
    }, 1000);
    try {
      const job = { id: job_id, catalog_id, type: 'scan' };
      const out = await runScanShard({ ...deps.work, signal: abort.signal }, publisher, job, catalog, outputDirs(config.dataDir, catalog), {
        index: shard,
        files,
      });
      deps.meter.add(out.added + out.updated + out.unchanged);
      if (out.aborted) {
        if (abort.signal.reason === 'cancelled') return { cancelled: true };
        // Shutting down: what finished is written; the rest goes back to the queue for another worker.
        const finished = out.added + out.updated + out.unchanged;
        process.stderr.write(`lumina: shard ${shard} of job ${job_id} handed back (${finished} of ${files.length} files written)\n`);
        await bull.moveToWait(token);
        throw new WaitingError();
      }
      const { aborted: _a, ...result } = out;
      return result;
    } finally {
      clearInterval(watch);
      deps.shutdown.removeEventListener('abort', onShutdown);
    }
  }

  async function finalize(bull: BullJob<FinalizePayload>): Promise<{ status: string }> {
    const data = bull.data;
    const job = await activeJobRow(sql, data.job_id);
    const catalog = await catalogOf(data.catalog_id);
    if (!job || !catalog) {
      await ledger.forget(data.job_id);
      return { status: 'ended' };
    }
    const values = await bull.getChildrenValues<ShardResult>();
    const failures = await bull.getIgnoredChildrenFailures();
    const totals = emptyTotals();
    for (const v of Object.values(values)) if (v && !('cancelled' in v)) addOutcome(totals, v);
    const { summary: _s, job: finished } = await finalizeScan(sql, {
      catalog,
      job,
      plan: { problems: data.problems, walked: data.walked, unread: data.unread ?? [], files: data.files },
      totals,
      failedShards: Object.values(failures),
    });
    await publisher.flush();
    if (finished) publisher.announce(finished);
    await ledger.forget(job.id);
    return { status: finished?.status ?? 'unchanged' };
  }

  return { discover, ingest, finalize };
}
