import type { FileType } from '../pipeline/file-types.js';
import type { Quality } from '../pipeline/quality.js';
import type { AssetStatus, ProcessedStatus } from '../model/asset.js';
import type { Sql } from './database.js';
import { quoteSchema } from './migrate.js';

/** One asset row as the pipeline writes it; the column names are the table's. */
export interface AssetWrite {
  path: string;
  size: number;
  mtime: Date;
  sha256: Buffer | null;
  file_type: FileType;
  ext: string;
  mime: string | null;
  width: number | null;
  height: number | null;
  orientation: number | null;
  taken_at: Date | null;
  taken_at_local: string | null;
  tz_offset_min: number | null;
  date_source: string | null;
  date_confidence: number | null;
  date_suspicious: boolean;
  date_flags: string[];
  make: string | null;
  model: string | null;
  lens: string | null;
  gps_lat: number | null;
  gps_lon: number | null;
  gps_alt: number | null;
  duration_s: number | null;
  dhash: bigint | null;
  phash: bigint | null;
  phash_sign: bigint | null;
  fingerprint_version: number;
  quality_score: number | null;
  quality: Quality | null;
  sharpness: number | null;
  exif: Record<string, unknown> | null;
  thumbnail_key: string | null;
  status: ProcessedStatus;
  error: string | null;
  error_code: string | null;
  /** Why ExifTool could not read the file's metadata, whatever its status; null when it could. */
  metadata_error: string | null;
  timings: Record<string, number> | null;
  seen_job: string;
}

export type AssetRow = Omit<AssetWrite, 'status'> & {
  id: bigint;
  status: AssetStatus;
  first_seen_at: Date;
  processed_at: Date | null;
  updated_at: Date;
};

const WRITE_COLUMNS = [
  'path', 'size', 'mtime', 'sha256', 'file_type', 'ext', 'mime', 'width', 'height', 'orientation',
  'taken_at', 'taken_at_local', 'tz_offset_min', 'date_source', 'date_confidence', 'date_suspicious', 'date_flags',
  'make', 'model', 'lens', 'gps_lat', 'gps_lon', 'gps_alt', 'duration_s', 'dhash', 'phash',
  'phash_sign', 'fingerprint_version',
  'quality_score', 'quality', 'sharpness', 'exif', 'thumbnail_key', 'status', 'error', 'error_code', 'metadata_error', 'timings', 'seen_job',
] as const satisfies readonly (keyof AssetWrite)[];

const JSON_COLUMNS = new Set<string>(['quality', 'exif', 'timings']);

/** A catalog table's quoted name as text, for the few places that need it as a value. */
export const table = (schema: string, name: string) => `${quoteSchema(schema)}.${name}`;

/**
 * A catalog schema as a postgres.js identifier, written `${s}.assets` in a query; the name is
 * checked (quoteSchema) before postgres.js quotes it.
 */
export const catalogSchema = (sql: Sql, schema: string) => (quoteSchema(schema), sql(schema));

const UPDATE_COLUMNS = WRITE_COLUMNS.filter((c) => c !== 'path');

/** PostgreSQL text and jsonb cannot hold NUL characters, which odd metadata sometimes contains. */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)]));
  return value;
}

export interface KnownFile {
  path: string;
  size: bigint;
  mtime: Date;
  status: string;
  error: string | null;
  error_code: string | null;
  fingerprint_version: number;
}

/** What the catalog already knows of these paths: the basis of incremental re-runs. */
export async function knownFiles(sql: Sql, schema: string, paths: string[]): Promise<Map<string, KnownFile>> {
  if (!paths.length) return new Map();
  const s = catalogSchema(sql, schema);
  const rows = await sql<KnownFile[]>`
    select path, size, mtime, status, error, error_code, fingerprint_version from ${s}.assets where path = any(${paths}::text[])`;
  return new Map(rows.map((r) => [r.path, r]));
}

/**
 * The one write of a shard, in one transaction: processed files upserted by path, unchanged ones
 * stamped as seen by this job. Running it twice leaves the same rows: at-least-once is safe.
 */
export async function writeShard(sql: Sql, schema: string, jobId: string, written: AssetWrite[], unchanged: string[]): Promise<void> {
  if (!written.length && !unchanged.length) return;
  const s = catalogSchema(sql, schema);
  await sql.begin(async (tx) => {
    if (written.length) {
      const rows = written.map((w) => {
        const row: Record<string, any> = {};
        for (const c of WRITE_COLUMNS) row[c] = JSON_COLUMNS.has(c) && w[c] !== null ? tx.json(withoutNul(w[c]) as never) : w[c];
        return row;
      });
      // One `col = excluded.col,` fragment per column (postgres.js joins a fragment list with spaces).
      const updates = UPDATE_COLUMNS.map((c) => tx`${tx(c)} = excluded.${tx(c)},`);
      // Chunks keep each statement under PostgreSQL's 65 535 parameters.
      for (let i = 0; i < rows.length; i += 1000) {
        await tx`
          insert into ${s}.assets ${tx(rows.slice(i, i + 1000), ...WRITE_COLUMNS)}
          on conflict (path) do update set ${updates} processed_at = now(), updated_at = now()`;
      }
    }
    if (unchanged.length) {
      await tx`update ${s}.assets set seen_job = ${jobId} where path = any(${unchanged}::text[])`;
    }
  });
}

/** After a complete scan: files under the scanned roots that the scan did not see are missing. */
export async function markMissing(sql: Sql, schema: string, jobId: string, roots: string[], unread: string[] = []): Promise<number> {
  const s = catalogSchema(sql, schema);
  let missing = 0;
  // Paths under a folder (or at a file) that could not be read keep their state.
  const kept = unread.map((u) => u.replace(/\/+$/, ''));
  for (const root of roots) {
    const prefix = root.endsWith('/') ? root : root + '/';
    const rows = await sql`
      update ${s}.assets set status = 'missing', updated_at = now()
      where (seen_job is distinct from ${jobId}) and status <> 'missing'
        and (path = ${root} or left(path, length(${prefix})) = ${prefix})
        ${kept.length ? sql`and not exists (select 1 from unnest(${kept}::text[]) as k(p) where path = k.p or left(path, length(k.p) + 1) = k.p || '/')` : sql``}
      returning id`;
    missing += rows.length;
  }
  return missing;
}

export interface AssetQuery {
  limit?: number;
  offset?: number;
  status?: AssetStatus;
}

export async function listAssets(sql: Sql, schema: string, q: AssetQuery = {}): Promise<AssetRow[]> {
  return sql<AssetRow[]>`
    select * from ${catalogSchema(sql, schema)}.assets ${q.status ? sql`where status = ${q.status}` : sql``}
    order by path limit ${q.limit ?? 1000} offset ${q.offset ?? 0}`;
}

export async function countAssets(sql: Sql, schema: string): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: bigint }[]>`select status, count(*)::int8 as n from ${catalogSchema(sql, schema)}.assets group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export interface AssetFilter {
  type?: 'image' | 'raw' | 'video';
  /** Capture time range (inclusive), compared in UTC. */
  from?: Date;
  to?: Date;
  /** Matches make or model, case-insensitively, as a substring. */
  camera?: string;
  hasError?: boolean;
  status?: AssetStatus;
  /** Keyset paging: rows with an id above this. */
  afterId?: number;
  limit: number;
}

/** One page of a catalog's assets in id order; every value is a bound parameter. */
export async function queryAssets(sql: Sql, schema: string, f: AssetFilter): Promise<AssetRow[]> {
  return sql<AssetRow[]>`
    select * from ${catalogSchema(sql, schema)}.assets
    where true
      ${f.type ? sql`and file_type = ${f.type}` : sql``}
      ${f.from ? sql`and taken_at >= ${f.from}` : sql``}
      ${f.to ? sql`and taken_at <= ${f.to}` : sql``}
      ${f.camera ? sql`and (make || ' ' || coalesce(model, '')) ilike ${'%' + f.camera.replace(/[\\%_]/g, (c) => '\\' + c) + '%'}` : sql``}
      ${f.hasError === undefined ? sql`` : f.hasError ? sql`and status = 'error'` : sql`and status <> 'error'`}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${f.afterId !== undefined ? sql`and id > ${f.afterId}` : sql``}
    order by id limit ${f.limit}`;
}

export async function getAsset(sql: Sql, schema: string, id: number): Promise<AssetRow | null> {
  const rows = await sql<AssetRow[]>`select * from ${catalogSchema(sql, schema)}.assets where id = ${id}`;
  return rows[0] ?? null;
}

/** The files a scan job could not read, in id order after `afterId` (the assets it stamped with status 'error'). */
export async function failedAssetsOfJob(
  sql: Sql,
  schema: string,
  jobId: string,
  page: { afterId?: number; limit: number },
): Promise<{ id: number; path: string; error: string | null; error_code: string | null }[]> {
  const rows = await sql<{ id: bigint; path: string; error: string | null; error_code: string | null }[]>`
    select id, path, error, error_code from ${catalogSchema(sql, schema)}.assets
    where status = 'error' and seen_job = ${jobId} ${page.afterId !== undefined ? sql`and id > ${page.afterId}` : sql``}
    order by id limit ${page.limit}`;
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}
