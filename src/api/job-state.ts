import type { JobEvent } from '../events/job-events.js';
import { isFinal, type Job } from '../model/job.js';
import { jobView, type JobView } from '../views/job.js';

const MAX_ENTRIES = 20_000;
/**
 * A job still active that no event has touched for this long is read again: another process
 * (a CLI ingest on the same PostgreSQL, an owner's takeover) may have changed it without an
 * event reaching this server, and GET /api/jobs/:id must agree with the job list.
 */
const QUIET_MS = 1000;

/**
 * Job state for GET /api/jobs/:id, kept current by the event stream instead of a query per
 * request: a job is read from the database once, then updated from its events, and its JSON is
 * serialized once per change. A final job is kept as it is; an active one is read again after
 * QUIET_MS without events.
 */
export class JobStateCache {
  readonly #entries = new Map<string, { view: JobView; json: string | null; touched: number }>();

  constructor(private readonly load: (id: string) => Promise<Job | null>) {}

  /** The job's JSON, or null when there is no such job. */
  async json(id: string): Promise<string | null> {
    const hit = this.#entries.get(id);
    if (hit && (isFinal(hit.view.status) || Date.now() - hit.touched < QUIET_MS)) return (hit.json ??= JSON.stringify(hit.view));
    if (hit) this.#entries.delete(id);
    const job = await this.load(id);
    if (!job) return null;
    const view = jobView(job);
    const json = JSON.stringify(view);
    // A row read while events were arriving may be older than what came by event: keep the newer.
    if (!this.#entries.has(id)) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(id, { view, json, touched: Date.now() });
    }
    return json;
  }

  /** Only ever moves forward: a progress event older than what is known is ignored. */
  apply(event: JobEvent): void {
    const entry = this.#entries.get(event.job_id);
    if (!entry) return;
    if (event.type !== 'job_progress' || isFinal(event.status)) {
      // The final row has fields no event carries (result, finished_at): read it again once.
      this.#entries.delete(event.job_id);
      return;
    }
    if (isFinal(entry.view.status)) return;
    if (event.status !== entry.view.status) {
      // queued → running sets started_at: read the row again once.
      this.#entries.delete(event.job_id);
      return;
    }
    if (event.progress.done < entry.view.progress.done) return;
    entry.view = { ...entry.view, status: event.status, progress: event.progress };
    entry.json = null;
    entry.touched = Date.now();
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}
