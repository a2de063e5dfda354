import type { FinalStatus, Job, JobErrorCode, JobProgress, JobStatus, JobType } from '../model/job.js';
import type { Sql } from './database.js';

/** The index that keeps one queued-or-running job of a type per catalog (migration 3). */
export const ONE_ACTIVE_JOB = 'jobs_one_active';

export interface NewJob {
  id: string;
  catalogId: string;
  type: JobType;
  params: Record<string, unknown>;
  /** The process that will run it; null when the queue owns it. */
  owner: string | null;
  leaseMs: number;
}

/** Inserts a queued job; a unique violation on ONE_ACTIVE_JOB means the catalog already has one. */
export async function insertJob(sql: Sql, j: NewJob): Promise<Job> {
  const [job] = await sql<Job[]>`
    insert into public.jobs (id, catalog_id, type, status, params, progress, owner, lease_until)
    values (${j.id}, ${j.catalogId}, ${j.type}, 'queued', ${sql.json(j.params as never)},
      ${sql.json({ done: 0, total: 0, failed: 0, rate: 0, eta_s: null, stage: 'queued' } as never)},
      ${j.owner}, ${j.owner ? sql`now() + make_interval(secs => ${j.leaseMs / 1000})` : null})
    returning *`;
  return job!;
}

/** The queued or running job of this type on the catalog, with whether its lease has lapsed (by the database's clock). */
export async function activeJob(sql: Sql, catalogId: string, type: JobType): Promise<(Job & { lapsed: boolean }) | null> {
  const [job] = await sql<(Job & { lapsed: boolean })[]>`
    select *, coalesce(lease_until < now(), false) as lapsed from public.jobs
    where catalog_id = ${catalogId} and type = ${type} and status in ('queued', 'running')`;
  return job ?? null;
}

/** Local jobs still active, with whether their lease has lapsed: what a starting server may take over. */
export async function activeLocalJobs(sql: Sql): Promise<(Job & { lapsed: boolean })[]> {
  return sql<(Job & { lapsed: boolean })[]>`
    select *, coalesce(lease_until < now(), false) as lapsed from public.jobs
    where status in ('queued', 'running') and coalesce(params->>'runner', 'local') = 'local'
    order by created_at`;
}

/** Moves a job to a new owner, provided it still has the owner the caller saw (compare and set). */
export async function takeOverJob(sql: Sql, jobId: string, from: string | null, to: string, leaseMs: number): Promise<Job | null> {
  const [job] = await sql<Job[]>`
    update public.jobs set owner = ${to}, lease_until = now() + make_interval(secs => ${leaseMs / 1000}), updated_at = now()
    where id = ${jobId} and status in ('queued', 'running') and owner is not distinct from ${from}
    returning *`;
  return job ?? null;
}

/** Extends the leases this owner holds; returns the ids it still holds (a job ended or taken over is not among them). */
export async function renewLeases(sql: Sql, owner: string, jobIds: string[], leaseMs: number): Promise<Set<string>> {
  if (!jobIds.length) return new Set();
  const rows = await sql<{ id: string }[]>`
    update public.jobs set lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id = any(${jobIds}::uuid[]) and owner = ${owner} and status in ('queued', 'running')
    returning id`;
  return new Set(rows.map((r) => r.id));
}

/**
 * Inside a transaction: locks the job's row when it is still running under this owner (null for
 * the queue's jobs), so what the caller writes next lands only while the job is really its own.
 */
export async function lockRunningJob(tx: Sql, jobId: string, owner: string | null): Promise<boolean> {
  const rows = await tx`
    select id from public.jobs where id = ${jobId} and status = 'running' and owner is not distinct from ${owner}
    for update`;
  return rows.length > 0;
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

/**
 * queued → running, by its owner (null: the queue's job); false when the job is gone, already
 * final (cancelled before it started) or now another process's.
 */
export async function markJobRunning(sql: Sql, jobId: string, owner: string | null): Promise<boolean> {
  const rows = await sql`
    update public.jobs set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
    where id = ${jobId} and status in ('queued', 'running') and owner is not distinct from ${owner} returning id`;
  return rows.length > 0;
}

/** Progress never moves backwards: a late or repeated update cannot lower `done`. */
export async function updateJobProgress(sql: Sql, jobId: string, progress: JobProgress): Promise<void> {
  await sql`
    update public.jobs set progress = ${sql.json(progress as never)}, updated_at = now()
    where id = ${jobId} and status in ('queued', 'running') and coalesce((progress->>'done')::int, 0) <= ${progress.done}`;
}

export interface JobOutcome {
  result?: Record<string, unknown>;
  error?: string;
  errorCode?: JobErrorCode;
  progress?: JobProgress;
}

/**
 * Moves a job to a final status once: a cancelled job stays cancelled however late its last
 * shard reports. Returns the row when this call made the change.
 */
export async function finishJob(sql: Sql, jobId: string, status: FinalStatus, outcome: JobOutcome): Promise<Job | null> {
  const errorCode = outcome.errorCode ?? (status === 'failed' ? 'failed' : status === 'cancelled' ? 'cancelled' : null);
  // A scan's shard lists go with it: they were only the way there, and a shard still running finds them gone.
  const [row] = await sql<Job[]>`
    with ended as (
      update public.jobs set status = ${status}, result = ${outcome.result ? sql.json(outcome.result as never) : null},
        error = ${outcome.error ?? null}, error_code = ${errorCode}, finished_at = now(), updated_at = now(), lease_until = null
        ${outcome.progress ? sql`, progress = ${sql.json(outcome.progress as never)}` : sql``}
      where id = ${jobId} and status in ('queued', 'running')
      returning *),
    shards as (delete from public.scan_shards where job_id in (select id from ended)),
    walks as (delete from public.scan_walks where job_id in (select id from ended))
    select * from ended`;
  return row ?? null;
}

/**
 * Runs `fn` in one transaction while the job is running under this owner (its row locked), so a
 * job that was cancelled or taken over meanwhile writes nothing; null then.
 */
export async function whileRunning<T>(sql: Sql, jobId: string, owner: string | null, fn: (tx: Sql) => Promise<T>): Promise<T | null> {
  const done = await sql.begin(async (t) => {
    const tx = t as unknown as Sql;
    // Boxed, so that a result that is an array is not taken for a pipelined list of queries.
    return (await lockRunningJob(tx, jobId, owner)) ? { value: await fn(tx) } : null;
  });
  return done ? done.value : null;
}

/** Jobs by status with their failed-file counts, for /metrics. */
export async function jobCountsByStatus(sql: Sql): Promise<{ status: string; n: number; failed: number }[]> {
  const rows = await sql<{ status: string; n: bigint; failed: bigint }[]>`
    select status, count(*)::int8 as n, coalesce(sum((progress->>'failed')::int8), 0)::int8 as failed from public.jobs group by status`;
  return rows.map((r) => ({ status: r.status, n: Number(r.n), failed: Number(r.failed) }));
}
