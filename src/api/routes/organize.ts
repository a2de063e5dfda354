import { jobView } from '../../views/job.js';
import { actionView, planView } from '../../views/organize.js';
import type { ApiDeps } from '../deps.js';
import { HttpError } from '../http.js';
import { route } from '../router.js';
import { ErrorBody, IdParams, Job, OrganizeJobRequest, OrganizePlan, OrganizePlanDetail, OrganizePlanPage, PlanActionsQuery, PlanRequest } from '../schemas.js';

export function organizeRoutes(deps: ApiDeps) {
  const { organize } = deps.services;
  const submit = (direction: 'apply' | 'rollback') =>
    async ({ body }: { body: OrganizeJobRequest }) => {
      const { catalog } = await organize.get(body.plan_id);
      // The plan's own catalog, stated by the caller too: a mismatch is a mistake, not a request.
      if (catalog.id !== body.catalog_id.toLowerCase()) throw new HttpError(404, 'not_found', `plan ${body.plan_id} is not a plan of catalog ${body.catalog_id}`);
      const job = await organize.submit(body.plan_id, direction);
      return { status: 202, body: { ...jobView(job), job_id: job.id }, headers: { location: `/api/jobs/${job.id}` } };
    };
  return [
    route({
      method: 'POST',
      path: '/api/catalogs/:id/organize/plans',
      summary: 'Plan a date-based library of the catalog (no file is changed)',
      tag: 'organize',
      access: 'write',
      params: IdParams,
      body: PlanRequest,
      responses: { 201: OrganizePlan, 400: ErrorBody, 404: ErrorBody },
      async handler({ params, body }) {
        const { plan, catalog } = await organize.plan(params.id, {
          dest: body.dest,
          mode: body.mode,
          template: body.template,
          duplicates: body.duplicates,
          minConfidence: body.min_confidence,
        });
        return { status: 201, body: { ...planView(plan, catalog.name), summary: plan.summary }, headers: { location: `/api/organize/plans/${plan.id}` } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/organize/plans',
      summary: 'The catalog’s organize plans, newest first',
      tag: 'organize',
      access: 'read',
      params: IdParams,
      responses: { 200: OrganizePlanPage, 404: ErrorBody },
      async handler({ params }) {
        const { catalog, plans } = await organize.list(params.id);
        return { body: { items: plans.map((p) => ({ ...planView(p, catalog.name), summary: p.summary })) } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/organize/plans/:id',
      summary: 'A plan with a page of its actions (source, target, kind, unit, state)',
      tag: 'organize',
      access: 'read',
      params: IdParams,
      query: PlanActionsQuery,
      responses: { 200: OrganizePlanDetail, 400: ErrorBody, 404: ErrorBody },
      async handler({ params, query }) {
        const { plan, catalog } = await organize.get(params.id);
        const limit = query.limit ?? 500;
        const actions = await organize.actions(plan.id, { afterSeq: query.cursor !== undefined ? Number(query.cursor) : undefined, limit });
        return {
          body: {
            plan: { ...planView(plan, catalog.name), summary: plan.summary },
            actions: actions.map(actionView),
            next_cursor: actions.length === limit ? String(actions.at(-1)!.seq) : null,
          },
        };
      },
    }),
    route({
      method: 'POST',
      path: '/api/jobs/organize',
      summary: 'Carry a plan out (copy or move, verified, journaled)',
      tag: 'organize',
      access: 'write',
      body: OrganizeJobRequest,
      responses: { 202: Job, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: submit('apply'),
    }),
    route({
      method: 'POST',
      path: '/api/jobs/organize-rollback',
      summary: 'Undo an applied plan from its journal',
      tag: 'organize',
      access: 'write',
      body: OrganizeJobRequest,
      responses: { 202: Job, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: submit('rollback'),
    }),
  ];
}
