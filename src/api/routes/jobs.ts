import { jobView } from '../../views/job.js';
import type { ApiDeps } from '../deps.js';
import { HttpError, keyset } from '../http.js';
import { route } from '../router.js';
import { ErrorBody, IdParams, Job, JobFailurePage, JobFailuresQuery, JobListQuery, JobPage, ScanRequest } from '../schemas.js';

export function jobRoutes(deps: ApiDeps) {
  const { state } = deps;
  const { jobs } = deps.services;
  return [
    route({
      method: 'POST',
      path: '/api/jobs/scan',
      summary: 'Scan some or all of a catalog’s source directories',
      tag: 'jobs',
      access: 'write',
      body: ScanRequest,
      responses: { 202: Job, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      async handler({ body }) {
        const job = await jobs.submitScan(body.catalog_id, body.directories, body.shard_size);
        return { status: 202, body: { ...jobView(job), job_id: job.id }, headers: { location: `/api/jobs/${job.id}` } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/jobs',
      summary: 'List jobs, newest first',
      tag: 'jobs',
      access: 'read',
      query: JobListQuery,
      responses: { 200: JobPage, 400: ErrorBody },
      async handler({ query }) {
        const limit = query.limit ?? 50;
        const rows = await jobs.list({ catalogId: query.catalog_id, status: query.status, type: query.type, before: query.before, limit });
        return { body: { items: rows.map(jobView), next_before: rows.length === limit ? rows[rows.length - 1]!.id : null } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/jobs/:id',
      summary: 'A job’s status and progress (kept current from the event stream)',
      tag: 'jobs',
      access: 'read',
      params: IdParams,
      responses: { 200: Job, 404: ErrorBody },
      async handler({ params }) {
        const json = await state.json(params.id);
        if (json === null) throw new HttpError(404, 'not_found', `no job with id "${params.id}"`);
        return { raw: json, contentType: 'application/json' };
      },
    }),
    route({
      method: 'GET',
      path: '/api/jobs/:id/failures',
      summary: 'The files a job failed on: a scan’s unreadable files (and what discovery could not read), an organize job’s failed actions',
      tag: 'jobs',
      access: 'read',
      params: IdParams,
      query: JobFailuresQuery,
      responses: { 200: JobFailurePage, 400: ErrorBody, 404: ErrorBody },
      async handler({ params, query }) {
        return { body: await jobs.failures(params.id, { after: keyset.afterId(query.cursor), limit: query.limit ?? 100 }) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/jobs/:id/cancel',
      summary: 'Cancel a queued or running job',
      tag: 'jobs',
      access: 'write',
      params: IdParams,
      responses: { 200: Job, 404: ErrorBody, 409: ErrorBody },
      async handler({ params }) {
        const job = await jobs.cancel(params.id);
        state.forget(job.id);
        return { body: jobView(job) };
      },
    }),
  ];
}
