import type { JobsOptions } from 'bullmq';
import type { JoinSlice } from '../dedupe/hamming-index.js';

/**
 * The queues: a scan goes discover (the walk, queueing shards as it cuts them) → ingest → finalize; a duplicates job dedupe (plan) →
 * search slices and embed batches → dedupe (finalize). embed is its own queue so GPU hosts can
 * take just that (`lumina worker --queues embed`). An organize job is one job on organize.
 */
export const QUEUE_NAMES = ['discover', 'ingest', 'finalize', 'dedupe', 'search', 'embed', 'organize'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];
/**
 * What a worker takes without --queues: all but organize, which writes into DEST and so needs a
 * host that sees both the archive and the library (`lumina worker --queues organize`).
 */
export const DEFAULT_QUEUES = QUEUE_NAMES.filter((q) => q !== 'organize');

/** Payloads, one per queue: the only shapes that travel through Redis. */
export interface DiscoverPayload {
  job_id: string;
}
/** A shard names its place: its files are in public.scan_shards, where the walk saved them. */
export interface ShardPayload {
  job_id: string;
  catalog_id: string;
  shard: number;
}
/** Queued when the walk has ended and every shard has an outcome; finalize reads both from the database. */
export interface FinalizePayload {
  job_id: string;
  catalog_id: string;
}

export interface DedupePlanPayload {
  job_id: string;
}
export interface SearchPayload {
  job_id: string;
  catalog_id: string;
  /** Numbering of this slice for progress. */
  index: number;
  slice: JoinSlice;
  /** How many hashes the planner saw: a slice over a different set is refused (the catalog changed). */
  n: number;
}
export interface EmbedPayload {
  job_id: string;
  catalog_id: string;
  index: number;
  /** Contents (SHA-256 hex) to embed. */
  shas: string[];
}
export interface OrganizePayload {
  job_id: string;
}
export interface OrganizeSlicePayload {
  job_id: string;
  catalog_id: string;
  index: number;
  /** The actions with from <= seq < to. */
  range: { from: number; to: number };
}
export interface OrganizeFinalizePayload {
  job_id: string;
  catalog_id: string;
}
export interface DedupeFinalizePayload {
  job_id: string;
  catalog_id: string;
  n: number;
}

/** Retries with exponential backoff; finished jobs are kept briefly for inspection, then trimmed. */
export const RETRYING: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** BullMQ job ids derived from the Lumina job id: adding the same work twice adds it once. */
export const bullIds = {
  discover: (jobId: string) => `${jobId}-discover`,
  shard: (jobId: string, i: number) => `${jobId}-shard-${i}`,
  finalize: (jobId: string) => `${jobId}-finalize`,
  dedupePlan: (jobId: string) => `${jobId}-dedupe-plan`,
  dedupeFinalize: (jobId: string) => `${jobId}-dedupe-finalize`,
  search: (jobId: string, i: number) => `${jobId}-search-${i}`,
  embed: (jobId: string, i: number) => `${jobId}-embed-${i}`,
  organize: (jobId: string) => `${jobId}-organize`,
  organizeSlice: (jobId: string, i: number) => `${jobId}-organize-slice-${i}`,
  organizeFinalize: (jobId: string) => `${jobId}-organize-finalize`,
};

/** Keys Lumina itself keeps beside BullMQ's. */
export const keys = {
  events: (prefix: string) => `${prefix}:events`,
  job: (prefix: string, jobId: string) => `${prefix}:job:${jobId}`,
  jobShards: (prefix: string, jobId: string) => `${prefix}:job:${jobId}:shards`,
  worker: (prefix: string, workerId: string) => `${prefix}:workers:${workerId}`,
  workers: (prefix: string) => `${prefix}:workers:*`,
};
