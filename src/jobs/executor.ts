import os from 'node:os';
import type { Catalog } from '../model/catalog.js';
import type { Job } from '../model/job.js';

/** Where submitted jobs run: in this process (embedded) or on queue workers (cluster). */
export interface JobExecutor {
  readonly mode: 'embedded' | 'cluster';
  /** The owner id written on the jobs it runs; null when the queue owns them (cluster). */
  readonly owner: string | null;
  /** Runs a job in this process and resolves with its summary (null: cancelled); in-process executors only. */
  run?(job: Job, catalog: Catalog): Promise<unknown>;
  /** Starts or queues a job whose row exists with status 'queued'. */
  submit(job: Job, catalog: Catalog): Promise<void>;
  /** Stops the job's pending and running work (its row is already marked cancelled). */
  cancel(jobId: string): Promise<void>;
  /** Resolves once this process has no more work of the job running (in-process executors; bounded by `timeoutMs`). */
  settle?(jobId: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** One process that runs shards, as GET /api/workers shows it. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  cores: number;
  threads: number;
  concurrency: number;
  queues: string[];
  active_shards: number;
  files_done: number;
  files_per_s: number;
  started_at: string;
  last_seen: string;
}

/** A worker's heartbeat record: the fields that differ, plus what every process says alike. */
export function workerInfo(
  own: Pick<WorkerInfo, 'id' | 'threads' | 'concurrency' | 'queues' | 'active_shards'>,
  meter: { total: number; rate(): number },
  startedAt: Date,
): WorkerInfo {
  return {
    ...own,
    host: os.hostname(),
    pid: process.pid,
    cores: os.availableParallelism(),
    files_done: meter.total,
    files_per_s: meter.rate(),
    started_at: startedAt.toISOString(),
    last_seen: new Date().toISOString(),
  };
}
