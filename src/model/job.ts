/** Jobs as every layer sees them: the row of public.jobs, its statuses, types and progress. */

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinalStatus = Exclude<JobStatus, 'queued' | 'running'>;
/** organize carries a plan out or rolls it back (params.direction); one at a time per catalog, either way. */
export const JOB_TYPES = ['scan', 'duplicates', 'organize'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** Why a job ended without completing, for programs to branch on (the message is for people). */
export const JOB_ERROR_CODES = ['interrupted', 'cancelled', 'failed_shards', 'database_unavailable', 'lease_lost', 'failed'] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

export interface JobProgress {
  done: number;
  total: number;
  failed: number;
  rate: number;
  eta_s: number | null;
  stage: string;
  message?: string;
  /** Organize: bytes written or moved so far, and in all. */
  bytes_done?: number;
  bytes_total?: number;
}

export interface Job {
  id: string;
  catalog_id: string | null;
  type: string;
  status: JobStatus;
  params: Record<string, unknown>;
  progress: Partial<JobProgress>;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: JobErrorCode | null;
  /**
   * The process that runs the job (`host/pid/nonce`) while it keeps `lease_until` in the future;
   * null for jobs the queue owns (cluster mode), which BullMQ recovers on its own.
   */
  owner: string | null;
  lease_until: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** Who runs a job and where, as the runners see it. */
export type JobRunner = 'local' | 'cluster';

export function isFinal(status: JobStatus): status is FinalStatus {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** Seconds since the job started (or was created), for summaries; never zero. */
export function secondsSinceStart(job: Pick<Job, 'started_at' | 'created_at'>): number {
  return Math.max(0.001, (Date.now() - (job.started_at ?? job.created_at).getTime()) / 1000);
}
