import type { Sql } from './database.js';

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

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
}

export async function createJob(sql: Sql, catalogId: string, type: string, params: Record<string, unknown>): Promise<Job> {
  const [job] = await sql<Job[]>`
    insert into public.jobs (catalog_id, type, status, params, started_at)
    values (${catalogId}, ${type}, 'running', ${sql.json(params as never)}, now()) returning *`;
  return job!;
}

/** Progress never moves backwards: a late or repeated update cannot lower `done`. */
export async function updateJobProgress(sql: Sql, jobId: string, progress: JobProgress): Promise<void> {
  await sql`
    update public.jobs set progress = ${sql.json(progress as never)}, updated_at = now()
    where id = ${jobId} and coalesce((progress->>'done')::int, 0) <= ${progress.done}`;
}

export async function finishJob(
  sql: Sql,
  jobId: string,
  status: Exclude<JobStatus, 'queued' | 'running'>,
  outcome: { result?: Record<string, unknown>; error?: string },
): Promise<void> {
  await sql`
    update public.jobs set status = ${status}, result = ${outcome.result ? sql.json(outcome.result as never) : null},
      error = ${outcome.error ?? null}, finished_at = now(), updated_at = now()
    where id = ${jobId}`;
}

/** A scan that was running when its process died, to be taken up again by the next run. */
export async function findInterruptedJob(sql: Sql, catalogId: string, type: string): Promise<Job | null> {
  const [job] = await sql<Job[]>`
    select * from public.jobs where catalog_id = ${catalogId} and type = ${type} and status = 'running'
    order by created_at desc limit 1`;
  return job ?? null;
}
