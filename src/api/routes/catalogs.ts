import { catalogView } from '../../views/catalog.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../router.js';
import { Catalog, CatalogCreate, CatalogPatch, ErrorBody, IdParams } from '../schemas.js';
import { Type } from '@sinclair/typebox';

export function catalogRoutes(deps: ApiDeps) {
  const { catalogs } = deps.services;
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
        const c = await catalogs.create({
          name: body.name,
          sourceDirectories: body.source_directories,
          organizedDirectory: body.organized_directory,
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
        return { body: (await catalogs.list()).map(catalogView) };
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
        const c = await catalogs.get(params.id);
        return { body: { ...catalogView(c), asset_counts: await catalogs.counts(c) } };
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
        const updated = await catalogs.update(params.id, {
          name: body.name,
          sourceDirectories: body.source_directories,
          organizedDirectory: body.organized_directory,
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
        await catalogs.delete(params.id);
        return { status: 204 };
      },
    }),
  ];
}
