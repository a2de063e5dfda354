import type { Sql } from './database.js';

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinalStatus = Exclude<JobStatus, 'queued' | 'running'>;
export const JOB_TYPES = ['scan', 'duplicates'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export interface JobProgress {
  done: number;
  total: number;
  failed: number;
  rate: number;
  eta_s: number | null;
  stage: string;
  message?: string;
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
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export function isFinal(status: JobStatus): status is FinalStatus {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

export async function createJob(
  sql: Sql,
  catalogId: string,
  type: JobType,
  params: Record<string, unknown>,
  status: 'queued' | 'running' = 'running',
): Promise<Job> {
  const [job] = await sql<Job[]>`
    insert into public.jobs (catalog_id, type, status, params, started_at, progress)
    values (${catalogId}, ${type}, ${status}, ${sql.json(params as never)}, ${status === 'running' ? sql`now()` : null},
      ${sql.json({ done: 0, total: 0, failed: 0, rate: 0, eta_s: null, stage: status === 'queued' ? 'queued' : 'discover' } as never)})
    returning *`;
  return job!;
}

export async function getJob(sql: Sql, id: string): Promise<Job | null> {
  const [job] = await sql<Job[]>`select * from public.jobs where id = ${id}`;
  return job ?? null;
}

export interface JobFilter {
  catalogId?: string;
  status?: JobStatus;
  type?: string;
  limit: number;
  /** Jobs created before this one (keyset paging, newest first). */
  before?: string;
}

export async function listJobs(sql: Sql, f: JobFilter): Promise<Job[]> {
  return sql<Job[]>`
    select * from public.jobs
    where true
      ${f.catalogId ? sql`and catalog_id = ${f.catalogId}` : sql``}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${f.type ? sql`and type = ${f.type}` : sql``}
      ${f.before ? sql`and (created_at, id) < (select created_at, id from public.jobs where id = ${f.before})` : sql``}
    order by created_at desc, id desc
    limit ${f.limit}`;
}

/** queued → running; false when the job is gone or already final (cancelled before it started). */
export async function markJobRunning(sql: Sql, jobId: string): Promise<boolean> {
  const rows = await sql`
    update public.jobs set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
    where id = ${jobId} and status in ('queued', 'running') returning id`;
  return rows.length > 0;
}

/** Progress never moves backwards: a late or repeated update cannot lower `done`. */
export async function updateJobProgress(sql: Sql, jobId: string, progress: JobProgress): Promise<void> {
  await sql`
    update public.jobs set progress = ${sql.json(progress as never)}, updated_at = now()
    where id = ${jobId} and status in ('queued', 'running') and coalesce((progress->>'done')::int, 0) <= ${progress.done}`;
}

/**
 * Moves a job to a final status once: a cancelled job stays cancelled however late its last
 * shard reports. Returns the row when this call made the change.
 */
export async function finishJob(
  sql: Sql,
  jobId: string,
  status: FinalStatus,
  outcome: { result?: Record<string, unknown>; error?: string; progress?: JobProgress },
): Promise<Job | null> {
  const [row] = await sql<Job[]>`
    update public.jobs set status = ${status}, result = ${outcome.result ? sql.json(outcome.result as never) : null},
      error = ${outcome.error ?? null}, finished_at = now(), updated_at = now()
      ${outcome.progress ? sql`, progress = ${sql.json(outcome.progress as never)}` : sql``}
    where id = ${jobId} and status in ('queued', 'running')
    returning *`;
  return row ?? null;
}

/** A local scan that was running when its process died, to be taken up again by the next run (cluster scans recover through the queue). */
export async function findInterruptedJob(sql: Sql, catalogId: string, type: JobType): Promise<Job | null> {
  const [job] = await sql<Job[]>`
    select * from public.jobs where catalog_id = ${catalogId} and type = ${type} and status = 'running'
      and coalesce(params->>'runner', 'local') = 'local'
    order by created_at desc limit 1`;
  return job ?? null;
}

/** Seconds since the job started (or was created), for summaries; never zero. */
export function secondsSinceStart(job: Pick<Job, 'started_at' | 'created_at'>): number {
  return Math.max(0.001, (Date.now() - (job.started_at ?? job.created_at).getTime()) / 1000);
}
