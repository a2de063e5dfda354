import { countAssets } from '../../db/assets.js';
import { createCatalog, deleteCatalog, listCatalogs, updateCatalog } from '../../db/catalogs.js';
import { checkAbsolute } from '../../jobs/paths.js';
import { catalogView } from '../../views/catalog.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../router.js';
import { Catalog, CatalogCreate, CatalogPatch, ErrorBody, IdParams } from '../schemas.js';
import { Type } from '@sinclair/typebox';

const dirs = (list: string[]) => list.map((d) => checkAbsolute(d, 'a source directory'));

export function catalogRoutes(deps: ApiDeps) {
  const { sql, jobs } = deps;
  return [
    route({
      method: 'POST',
      path: '/api/catalogs',
      summary: 'Create a catalog (and its schema)',
      tag: 'catalogs',
      access: 'write',
      body: CatalogCreate,
      responses: { 201: Catalog, 400: ErrorBody, 409: ErrorBody },
      async handler({ body }) {
        const c = await createCatalog(sql, {
          name: body.name,
          sourceDirectories: dirs(body.source_directories),
          organizedDirectory: body.organized_directory ? checkAbsolute(body.organized_directory, 'the organized directory') : null,
          settings: body.settings,
        });
        return { status: 201, body: catalogView(c), headers: { location: `/api/catalogs/${c.id}` } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs',
      summary: 'List catalogs',
      tag: 'catalogs',
      access: 'read',
      responses: { 200: Type.Array(Type.Ref(Catalog)) },
      async handler() {
        return { body: (await listCatalogs(sql)).map(catalogView) };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id',
      summary: 'Get a catalog with its asset counts',
      tag: 'catalogs',
      access: 'read',
      params: IdParams,
      responses: { 200: Catalog, 404: ErrorBody },
      async handler({ params }) {
        const c = await jobs.catalog(params.id);
        return { body: { ...catalogView(c), asset_counts: await countAssets(sql, c.schema_name) } };
      },
    }),
    route({
      method: 'PATCH',
      path: '/api/catalogs/:id',
      summary: 'Change a catalog’s name, source directories, organized directory or settings',
      tag: 'catalogs',
      access: 'write',
      params: IdParams,
      body: CatalogPatch,
      responses: { 200: Catalog, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      async handler({ params, body }) {
        const c = await jobs.catalog(params.id);
        const updated = await updateCatalog(sql, c, {
          name: body.name,
          sourceDirectories: body.source_directories && dirs(body.source_directories),
          organizedDirectory: body.organized_directory === undefined ? undefined : body.organized_directory && checkAbsolute(body.organized_directory, 'the organized directory'),
          settings: body.settings,
        });
        return { body: catalogView(updated) };
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/catalogs/:id',
      summary: 'Delete a catalog: cancels its jobs, drops its schema and thumbnails (never touches the photos)',
      tag: 'catalogs',
      access: 'write',
      params: IdParams,
      responses: { 204: 'deleted', 404: ErrorBody },
      async handler({ params }) {
        const c = await jobs.catalog(params.id);
        for (const status of ['queued', 'running'] as const) {
          for (const j of await jobs.list({ catalogId: c.id, status, limit: 500 })) await jobs.cancel(j.id).catch(() => {});
        }
        await deleteCatalog(sql, c, deps.config.dataDir);
        return { status: 204 };
      },
    }),
  ];
}
