import fs from 'node:fs/promises';
import path from 'node:path';
import { getAsset, queryAssets, type AssetRow } from '../../db/assets.js';
import { thumbnailDir } from '../../db/catalogs.js';
import { assetView } from '../../views/asset.js';
import type { ApiDeps } from '../deps.js';
import { HttpError, keyset } from '../http.js';
import { route } from '../router.js';
import { Asset, AssetListQuery, AssetPage, AssetParams, ErrorBody, IdParams } from '../schemas.js';

function dateParam(value: string | undefined, name: string, endOfDay: boolean): Date | undefined {
  if (value === undefined) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(dateOnly ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z` : value);
  if (Number.isNaN(d.getTime())) throw new HttpError(400, 'validation_failed', `query.${name}: not an ISO 8601 date or time: "${value}"`);
  return d;
}

/** An asset as the API shows it: a thumbnail URL instead of the server's file path. */
function apiAsset(row: AssetRow, catalogId: string, thumbs: string) {
  const { thumbnail, ...view } = assetView(row, thumbs);
  return { ...view, thumbnail_url: thumbnail ? `/api/catalogs/${catalogId}/assets/${view.id}/thumbnail` : null };
}

export function assetRoutes(deps: ApiDeps) {
  const { sql, jobs, config } = deps;
  return [
    route({
      method: 'GET',
      path: '/api/catalogs/:id/assets',
      summary: 'A page of a catalog’s assets, filtered by type, capture date, camera or error',
      tag: 'assets',
      access: 'read',
      params: IdParams,
      query: AssetListQuery,
      responses: { 200: AssetPage, 400: ErrorBody, 404: ErrorBody },
      async handler({ params, query }) {
        const c = await jobs.catalog(params.id);
        const limit = query.limit ?? 100;
        const rows = await queryAssets(sql, c.schema_name, {
          type: query.type,
          from: dateParam(query.from, 'from', false),
          to: dateParam(query.to, 'to', true),
          camera: query.camera,
          hasError: query.has_error,
          status: query.status,
          afterId: keyset.afterId(query.cursor),
          limit,
        });
        const thumbs = thumbnailDir(config.dataDir, c.id);
        const items = rows.map((r) => apiAsset(r, c.id, thumbs));
        return { body: { items, next_cursor: keyset.nextCursor(rows, limit) } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/assets/:asset_id',
      summary: 'One asset with all its fields',
      tag: 'assets',
      access: 'read',
      params: AssetParams,
      responses: { 200: Asset, 404: ErrorBody },
      async handler({ params }) {
        const c = await jobs.catalog(params.id);
        const row = await getAsset(sql, c.schema_name, Number(params.asset_id));
        if (!row) throw new HttpError(404, 'not_found', `no asset ${params.asset_id} in catalog ${c.id}`);
        return { body: { ...apiAsset(row, c.id, thumbnailDir(config.dataDir, c.id)), exif: row.exif ?? null } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/assets/:asset_id/thumbnail',
      summary: 'The asset’s 256 px WebP thumbnail',
      tag: 'assets',
      access: 'read',
      params: AssetParams,
      responses: { 200: 'image/webp', 404: ErrorBody },
      async handler({ params }) {
        const c = await jobs.catalog(params.id);
        const row = await getAsset(sql, c.schema_name, Number(params.asset_id));
        if (!row?.thumbnail_key) throw new HttpError(404, 'not_found', `asset ${params.asset_id} has no thumbnail`);
        // The key is written by Lumina, but the file path is still confined to the catalog's folder.
        const dir = thumbnailDir(config.dataDir, c.id);
        const file = path.resolve(dir, row.thumbnail_key);
        if (!file.startsWith(dir + path.sep)) throw new HttpError(404, 'not_found', 'no thumbnail');
        const bytes = await fs.readFile(file).catch(() => null);
        if (!bytes) throw new HttpError(404, 'not_found', `the thumbnail of asset ${params.asset_id} is gone (scan again to rebuild it)`);
        return { raw: bytes, contentType: 'image/webp', headers: { 'cache-control': 'private, max-age=3600' } };
      },
    }),
  ];
}
