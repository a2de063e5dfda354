import type { Job } from '../model/job.js';
import { progressOf } from '../events/job-events.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function jobView(j: Job) {
  return {
    id: j.id,
    catalog_id: j.catalog_id,
    type: j.type,
    status: j.status,
    params: j.params,
    progress: progressOf(j),
    result: j.result,
    error: j.error,
    error_code: j.error_code ?? null,
    created_at: iso(j.created_at),
    started_at: iso(j.started_at),
    finished_at: iso(j.finished_at),
  };
}

export type JobView = ReturnType<typeof jobView>;
