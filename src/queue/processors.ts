import type { Job as BullJob } from 'bullmq';
import { WaitingError } from 'bullmq';
import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { activeJobRow, catalogLookup, claimJob } from '../jobs/claim.js';
import { thumbnailDir } from '../model/catalog.js';
import type { JobLedger } from '../jobs/ledger.js';
import type { ProgressPublisher } from '../jobs/progress-publisher.js';
import { loadWalk, scanComplete } from '../db/scan-shards.js';
import { finalizeScan, recordShard, runScanShard, shardFiles, walkScan, type ScanParams, type ShardWork } from '../jobs/scan.js';
import { messageOf } from '../util/errors.js';
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

  /** The last shard's outcome, or a walk that ended after its shards did, queues finalize (once: its id is fixed). */
  const finalizeWhenComplete = async (complete: boolean, jobId: string, catalogId: string) => {
    if (!complete) return;
    const payload: FinalizePayload = { job_id: jobId, catalog_id: catalogId };
    await queues.queues.finalize.add('finalize', payload, { ...RETRYING, jobId: bullIds.finalize(jobId) });
  };

  async function discover(bull: BullJob<DiscoverPayload>): Promise<{ shards: number } | { skipped: string }> {
    const claimed = await claimJob(sql, bull.data.job_id, catalogOf);
    if (claimed.skipped !== undefined) return { skipped: claimed.skipped };
    const { job, catalog } = claimed;
    // A retried discover after its walk had ended has nothing left to do but what the shards do.
    if (await loadWalk(sql, job.id)) return { skipped: 'already planned' };

    const params = job.params as unknown as ScanParams;
    // Each shard is queued as soon as it is saved: workers ingest while the walk goes on, and the
    // payload names the shard, its files staying in the database. A retried walk cuts the same
    // shards and queues them under the same ids, which BullMQ adds once.
    const walked = await walkScan(sql, job.id, catalog, params.directories, params.shard_size ?? config.shardSize, {
      onShard: async (index) => {
        const payload: ShardPayload = { job_id: job.id, catalog_id: catalog.id, shard: index };
        await queues.queues.ingest.add('shard', payload, { ...RETRYING, jobId: bullIds.shard(job.id, index) });
      },
      onFound: publisher.discovering(job),
    });
    if (!walked) return { skipped: 'stopped' };
    await ledger.begin(job.id, walked.files);
    await publisher.publish(job, { done: 0, total: walked.files, failed: 0, rate: 0, eta_s: null, stage: 'ingest' }, false);
    // Every shard may have finished before the walk did (or there were none).
    await finalizeWhenComplete(await scanComplete(sql, job.id), job.id, catalog.id);
    return { shards: walked.shards };
  }

  async function ingest(bull: BullJob<ShardPayload>, token?: string): Promise<ShardResult> {
    const { job_id, catalog_id, shard } = bull.data;
    if (await ledger.isCancelled(job_id)) return { cancelled: true };
    const catalog = await catalogOf(catalog_id);
    // No shard row: the job has ended (its shards go with it).
    const files = catalog && (await shardFiles(sql, job_id, shard));
    if (!catalog || !files) return { cancelled: true };

    const abort = new AbortController();
    const onShutdown = () => abort.abort('shutdown');
    deps.shutdown.addEventListener('abort', onShutdown);
    if (deps.shutdown.aborted) abort.abort('shutdown');
    const watch = setInterval(() => {
      void ledger.isCancelled(job_id).then((c) => c && abort.abort('cancelled'), () => {});
    }, 1000);
    try {
      const job = { id: job_id, catalog_id, type: 'scan' };
      const out = await runScanShard({ ...deps.work, signal: abort.signal }, publisher, job, catalog, thumbnailDir(config.dataDir, catalog.id), { index: shard, files });
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
      await finalizeWhenComplete(await recordShard(sql, job_id, shard, result), job_id, catalog_id);
      return result;
    } catch (err) {
      // Failed for good (its last attempt): finalize reports it, and the job ends failed.
      if (err instanceof Error && err.name !== 'WaitingError' && bull.attemptsMade + 1 >= (bull.opts.attempts ?? 1)) {
        await shardFailed(bull.data, messageOf(err));
      }
      throw err;
    } finally {
      clearInterval(watch);
      deps.shutdown.removeEventListener('abort', onShutdown);
    }
  }

  /** A shard that will not run again: recorded as failed, so the scan can still end. */
  async function shardFailed(payload: ShardPayload, message: string): Promise<void> {
    await finalizeWhenComplete(await recordShard(sql, payload.job_id, payload.shard, { error: message }), payload.job_id, payload.catalog_id);
  }

  async function finalize(bull: BullJob<FinalizePayload>): Promise<{ status: string }> {
    const data = bull.data;
    const job = await activeJobRow(sql, data.job_id);
    const catalog = await catalogOf(data.catalog_id);
    if (!job || !catalog) {
      await ledger.forget(data.job_id);
      return { status: 'ended' };
    }
    const { job: finished } = await finalizeScan(sql, catalog, job);
    await publisher.flush();
    if (finished) publisher.announce(finished);
    await ledger.forget(job.id);
    return { status: finished?.status ?? 'unchanged' };
  }

  return { discover, ingest, finalize, shardFailed };
}
