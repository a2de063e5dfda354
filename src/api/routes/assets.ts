import type { AssetRow } from '../../db/assets.js';
import type { Catalog } from '../../model/catalog.js';
import type { AssetService } from '../../services/asset-service.js';
import type { ApiDeps } from '../deps.js';
import { parseRange } from '../file-stream.js';
import { errorReply, HttpError, keyset } from '../http.js';
import { route } from '../router.js';
import { Asset, AssetListQuery, AssetPage, AssetParams, ErrorBody, IdParams } from '../schemas.js';

function dateParam(value: string | undefined, name: string, endOfDay: boolean): Date | undefined {
  if (value === undefined) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(dateOnly ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z` : value);
  if (Number.isNaN(d.getTime())) throw new HttpError(400, 'validation_failed', `query.${name}: not an ISO 8601 date or time: "${value}"`);
  // Capture dates are years 1 to 9999; beyond them PostgreSQL's range ends too.
  if (d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) throw new HttpError(400, 'validation_failed', `query.${name}: the year must be from 1 to 9999, got "${value}"`);
  return d;
}

/** Where the API serves an asset's thumbnail (when it has one) and its file. */
export function assetUrls(catalogId: string, assetId: number, hasThumbnail: boolean) {
  const base = `/api/catalogs/${catalogId}/assets/${assetId}`;
  return { thumbnail_url: hasThumbnail ? `${base}/thumbnail` : null, original_url: `${base}/original` };
}

/** An asset as the API shows it: URLs of its thumbnail and file instead of the thumbnail's path. */
function apiAsset(assets: AssetService, catalog: Catalog, row: AssetRow) {
  const { thumbnail, ...view } = assets.view(catalog, row);
  return { ...view, ...assetUrls(catalog.id, view.id, !!thumbnail) };
}

/** A file name as a Content-Disposition parameter (RFC 8187), whatever characters it holds. */
const dispositionName = (name: string) => `inline; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`;

export function assetRoutes(deps: ApiDeps) {
  const { catalogs, assets } = deps.services;
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
        const c = await catalogs.get(params.id);
        const limit = query.limit ?? 100;
        const rows = await assets.query(c, {
          type: query.type,
          from: dateParam(query.from, 'from', false),
          to: dateParam(query.to, 'to', true),
          camera: query.camera,
          hasError: query.has_error,
          status: query.status,
          afterId: keyset.afterId(query.cursor),
          limit,
        });
        const items = rows.map((r) => apiAsset(assets, c, r));
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
        const c = await catalogs.get(params.id);
        const row = await assets.get(c, Number(params.asset_id));
        return { body: { ...apiAsset(assets, c, row), exif: row.exif ?? null } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/catalogs/:id/assets/:asset_id/thumbnail',
      summary: 'The asset’s 256 px thumbnail: JPEG, or WebP for a picture with transparency',
      tag: 'assets',
      access: 'read',
      params: AssetParams,
      responses: { 200: 'image/jpeg, image/webp', 404: ErrorBody },
      async handler({ params }) {
        const { bytes, type } = await assets.thumbnail(await catalogs.get(params.id), Number(params.asset_id));
        return { raw: bytes, contentType: type, headers: { 'cache-control': 'private, max-age=3600' } };
      },
    }),
      route({
      method: 'GET',
      path: '/api/catalogs/:id/assets/:asset_id/original',
      summary: 'The asset’s file itself, streamed; one byte range (Range: bytes=a-b, a-, -n) answers 206',
      tag: 'assets',
      access: 'read',
      params: AssetParams,
      responses: {
        200: 'the file (its media type, application/octet-stream for RAW files)',
        206: 'the range asked for, with Content-Range',
        403: ErrorBody,
        404: ErrorBody,
        416: ErrorBody,
      },
      async handler({ params, headers }) {
        const file = await assets.original(await catalogs.get(params.id), Number(params.asset_id));
        const common = {
          'accept-ranges': 'bytes',
          'cache-control': 'private, max-age=300',
          'last-modified': file.mtime.toUTCString(),
          'content-disposition': dispositionName(file.name),
          // The file is shown, never run: no sniffing, and no script even if it were a page.
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
        };
        const range = parseRange(headers.range, file.size);
        if (range === 'unsatisfiable') {
          await file.handle.close();
          const reply = errorReply(new HttpError(416, 'range_not_satisfiable', `the file is ${file.size} bytes long: that range is beyond it`));
          return { ...reply, headers: { ...common, 'content-range': `bytes */${file.size}` } };
        }
        if (!range) return { contentType: file.mediaType, headers: common, file: { handle: file.handle, start: 0, length: file.size } };
        return {
          status: 206,
          contentType: file.mediaType,
          headers: { ...common, 'content-range': `bytes ${range.start}-${range.end}/${file.size}` },
          file: { handle: file.handle, start: range.start, length: range.end - range.start + 1 },
        };
      },
    }),
  ];
}
