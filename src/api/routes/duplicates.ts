import { Type } from '@sinclair/typebox';
import type { GroupRow } from '../../db/duplicates.js';
import { jobView } from '../../views/job.js';
import { groupView } from '../../views/duplicates.js';
import type { ApiDeps } from '../deps.js';
import { HttpError, keyset } from '../http.js';
import { route } from '../router.js';
import {
  BulkResolvePreview,
  BulkResolveRequest,
  BulkResolveResult,
  DuplicateGroup,
  DuplicateListQuery,
  DuplicatePage,
  DuplicatesRequest,
  ErrorBody,
  GroupParams,
  IdParams,
  Job,
  ResolveRequest,
} from '../schemas.js';
import { assetUrls } from './assets.js';

/** A group as the API shows it: thumbnail and file URLs beside the server's paths. */
function apiGroup(g: GroupRow, catalogId: string) {
  const view = groupView(g);
  return {
    ...view,
    members: view.members.map((m, k) => ({ ...m, ...assetUrls(catalogId, m.asset_id, g.members[k]!.thumbnail_key !== null) })),
  };
}

export function duplicateRoutes(deps: ApiDeps) {
  const { jobs, catalogs, duplicates } = deps.services;
  return [
    route({
      method: 'POST',
      path: '/api/jobs/duplicates',
      summary: 'Find exact and near duplicates, bursts and format pairs in a catalog',
      tag: 'duplicates',
      access: 'write',
      body: DuplicatesRequest,
      responses: { 202: Job, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      async handler({ body }) {
        const job = await jobs.submitDuplicates(body.catalog_id, {
          threshold: body.threshold,
          turned_threshold: body.turned_threshold,
          similarity: body.similarity,
          embeddings: body.embeddings,
        });
        return { status: 202, body: { ...jobView(job), job_id: job.id }, headers: { location: `/api/jobs/${job.id}` } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/duplicates',
      summary: 'A page of a catalog’s duplicate groups, by kind and review status',
      tag: 'duplicates',
      access: 'read',
      params: IdParams,
      query: DuplicateListQuery,
      responses: { 200: DuplicatePage, 400: ErrorBody, 404: ErrorBody },
      async handler({ params, query }) {
        const c = await catalogs.get(params.id);
        const limit = query.limit ?? 50;
        const sort = query.sort ?? 'id';
        if (sort !== 'id' && query.cursor !== undefined) throw new HttpError(400, 'validation_failed', `query.cursor: pages of sort=${sort} go by offset (next_offset), not cursor`);
        const filter = { kind: query.kind, status: query.status };
        const [rows, total] = await Promise.all([
          duplicates.page(c, { ...filter, sort, dir: query.dir, afterId: keyset.afterId(query.cursor), offset: query.offset, limit }),
          duplicates.count(c, filter),
        ]);
        const full = rows.length === limit;
        return {
          body: {
            items: rows.map((g) => apiGroup(g, c.id)),
            next_cursor: sort === 'id' ? keyset.nextCursor(rows, limit) : null,
            next_offset: full ? (query.offset ?? 0) + rows.length : null,
            total,
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/duplicates/:group_id',
      summary: 'One duplicate group',
      tag: 'duplicates',
      access: 'read',
      params: GroupParams,
      responses: { 200: DuplicateGroup, 404: ErrorBody },
      async handler({ params }) {
        const c = await catalogs.get(params.id);
        return { body: apiGroup(await duplicates.get(c, Number(params.group_id)), c.id) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/catalogs/:id/duplicates/:group_id/resolve',
      summary: 'Record a decision: keep some copies (the others marked for removal), not duplicates, or back to open. Nothing is deleted.',
      tag: 'duplicates',
      access: 'write',
      params: GroupParams,
      body: ResolveRequest,
      responses: { 200: DuplicateGroup, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      async handler({ params, body }) {
        const c = await catalogs.get(params.id);
        const after = await duplicates.resolve(c, Number(params.group_id), { status: body.status, keep: body.keep, ifVersion: body.if_version, actor: 'api' });
        return { body: apiGroup(after, c.id) };
      },
    }),
    route({
      method: 'POST',
      path: '/api/catalogs/:id/duplicates/bulk-resolve',
      summary: 'Keep the suggested keeper of every open group of a kind (the other copies marked for removal); dry_run counts first. Nothing is deleted.',
      tag: 'duplicates',
      access: 'write',
      params: IdParams,
      body: BulkResolveRequest,
      responses: { 200: Type.Union([Type.Ref(BulkResolvePreview), Type.Ref(BulkResolveResult)], { description: 'BulkResolvePreview (dry_run) or BulkResolveResult' }), 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      async handler({ params, body }) {
        const c = await catalogs.get(params.id);
        return { body: await duplicates.keepSuggested(c, { kind: body.kind, dryRun: body.dry_run, groupIds: body.group_ids, actor: 'api' }) };
      },
    }),
  ];
}
