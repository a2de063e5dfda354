import type { Job, JobProgress, JobStatus } from '../model/job.js';

/**
 * What subscribers receive over WebSocket (and what travels over Redis pub/sub between processes).
 * The field names are the public contract of ../shared/DESIGN.md.
 */
interface JobEventBase {
  job_id: string;
  catalog_id: string | null;
  job_type: string;
  status: JobStatus;
  progress: JobProgress;
}

export type JobEvent =
  | (JobEventBase & { type: 'job_progress' })
  | (JobEventBase & { type: 'job_completed'; result: Record<string, unknown> | null })
  | (JobEventBase & { type: 'job_failed'; error: string });

export const EMPTY_PROGRESS: JobProgress = { done: 0, total: 0, failed: 0, rate: 0, eta_s: null, stage: 'queued' };

export function progressOf(job: Pick<Job, 'progress'>): JobProgress {
  return { ...EMPTY_PROGRESS, ...job.progress } as JobProgress;
}

/** The event that announces a job's current (usually final) state. */
export function eventForJob(job: Job): JobEvent {
  const base = { job_id: job.id, catalog_id: job.catalog_id, job_type: job.type, status: job.status, progress: progressOf(job) };
  if (job.status === 'completed') return { ...base, type: 'job_completed', result: job.result };
  if (job.status === 'failed' || job.status === 'cancelled') return { ...base, type: 'job_failed', error: job.error ?? job.status };
  return { ...base, type: 'job_progress' };
}

/** Carries job events between the processes that run work and the API instances that serve it. */
export interface EventBus {
  publish(event: JobEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: JobEvent) => void): () => void;
  close(): Promise<void>;
}

/** In one process (embedded mode): a plain listener set. */
export class LocalEventBus implements EventBus {
  readonly #listeners = new Set<(event: JobEvent) => void>();

  publish(event: JobEvent): void {
    for (const l of this.#listeners) l(event);
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
