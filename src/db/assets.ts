import type { FileType } from '../pipeline/file-types.js';
import type { Quality } from '../pipeline/quality.js';
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
  status: 'ok' | 'error';
  error: string | null;
  timings: Record<string, number> | null;
  seen_job: string;
}

export type AssetRow = Omit<AssetWrite, 'status'> & {
  id: bigint;
  status: 'ok' | 'error' | 'missing';
  first_seen_at: Date;
  processed_at: Date | null;
  updated_at: Date;
};

const WRITE_COLUMNS = [
  'path', 'size', 'mtime', 'sha256', 'file_type', 'ext', 'mime', 'width', 'height', 'orientation',
  'taken_at', 'taken_at_local', 'tz_offset_min', 'date_source', 'date_confidence', 'date_suspicious', 'date_flags',
  'make', 'model', 'lens', 'gps_lat', 'gps_lon', 'gps_alt', 'duration_s', 'dhash', 'phash',
  'phash_sign', 'fingerprint_version',
  'quality_score', 'quality', 'sharpness', 'exif', 'thumbnail_key', 'status', 'error', 'timings', 'seen_job',
] as const satisfies readonly (keyof AssetWrite)[];

const JSON_COLUMNS = new Set<string>(['quality', 'exif', 'timings']);

export const table = (schema: string, name: string) => `${quoteSchema(schema)}.${name}`;
/** Checked before postgres.js quotes it as an identifier. */
const schemaName = (schema: string) => (quoteSchema(schema), schema);

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
  fingerprint_version: number;
}

/** What the catalog already knows of these paths: the basis of incremental re-runs. */
export async function knownFiles(sql: Sql, schema: string, paths: string[]): Promise<Map<string, KnownFile>> {
  if (!paths.length) return new Map();
  const rows = await sql.unsafe<KnownFile[]>(
    `select path, size, mtime, status, error, fingerprint_version from ${table(schema, 'assets')} where path = any($1::text[])`,
    [paths as never],
  );
  return new Map(rows.map((r) => [r.path, r]));
}

/**
 * The one write of a shard, in one transaction: processed files upserted by path, unchanged ones
 * stamped as seen by this job. Running it twice leaves the same rows: at-least-once is safe.
 */
export async function writeShard(sql: Sql, schema: string, jobId: string, written: AssetWrite[], unchanged: string[]): Promise<void> {
  if (!written.length && !unchanged.length) return;
  const assets = table(schema, 'assets');
  await sql.begin(async (tx) => {
    if (written.length) {
      const rows = written.map((w) => {
        const row: Record<string, any> = {};
        for (const c of WRITE_COLUMNS) row[c] = JSON_COLUMNS.has(c) && w[c] !== null ? tx.json(withoutNul(w[c]) as never) : w[c];
        return row;
      });
      const updates = WRITE_COLUMNS.filter((c) => c !== 'path').map((c) => `${c} = excluded.${c}`).join(', ');
      // Chunks keep each statement under PostgreSQL's 65 535 parameters.
      for (let i = 0; i < rows.length; i += 1000) {
        await tx`
          insert into ${tx(schemaName(schema))}.assets ${tx(rows.slice(i, i + 1000), ...WRITE_COLUMNS)}
          on conflict (path) do update set ${tx.unsafe(updates)}, processed_at = now(), updated_at = now()`;
      }
    }
    if (unchanged.length) {
      await tx.unsafe(`update ${assets} set seen_job = $1 where path = any($2::text[])`, [jobId, unchanged as never]);
    }
  });
}

/** After a complete scan: files under the scanned roots that the scan did not see are missing. */
export async function markMissing(sql: Sql, schema: string, jobId: string, roots: string[]): Promise<number> {
  let missing = 0;
  for (const root of roots) {
    const prefix = root.endsWith('/') ? root : root + '/';
    const rows = await sql.unsafe(
      `update ${table(schema, 'assets')} set status = 'missing', updated_at = now()
       where (seen_job is distinct from $1) and status <> 'missing'
         and (path = $2 or left(path, length($3)) = $3) returning id`,
      [jobId, root, prefix],
    );
    missing += rows.length;
  }
  return missing;
}

export interface AssetQuery {
  limit?: number;
  offset?: number;
}

export async function listAssets(sql: Sql, schema: string, q: AssetQuery = {}): Promise<AssetRow[]> {
  return sql.unsafe<AssetRow[]>(`select * from ${table(schema, 'assets')} order by path limit $1 offset $2`, [
    q.limit ?? 1000,
    q.offset ?? 0,
  ]);
}

export async function countAssets(sql: Sql, schema: string): Promise<Record<string, number>> {
  const rows = await sql.unsafe<{ status: string; n: bigint }[]>(`select status, count(*)::int8 as n from ${table(schema, 'assets')} group by status`);
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
  status?: 'ok' | 'error' | 'missing';
  /** Keyset paging: rows with an id above this. */
  afterId?: number;
  limit: number;
}

/** One page of a catalog's assets in id order; every value is a bound parameter. */
export async function queryAssets(sql: Sql, schema: string, f: AssetFilter): Promise<AssetRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const bind = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.type) where.push(`file_type = ${bind(f.type)}`);
  if (f.from) where.push(`taken_at >= ${bind(f.from)}`);
  if (f.to) where.push(`taken_at <= ${bind(f.to)}`);
  if (f.camera) where.push(`(make || ' ' || coalesce(model, '')) ilike ${bind('%' + f.camera.replace(/[\\%_]/g, (c) => '\\' + c) + '%')}`);
  if (f.hasError !== undefined) where.push(f.hasError ? `status = 'error'` : `status <> 'error'`);
  if (f.status) where.push(`status = ${bind(f.status)}`);
  if (f.afterId !== undefined) where.push(`id > ${bind(f.afterId)}`);
  const text = `select * from ${table(schema, 'assets')} ${where.length ? 'where ' + where.join(' and ') : ''} order by id limit ${bind(f.limit)}`;
  return sql.unsafe<AssetRow[]>(text, params as never[]);
}

export async function getAsset(sql: Sql, schema: string, id: number): Promise<AssetRow | null> {
  const rows = await sql.unsafe<AssetRow[]>(`select * from ${table(schema, 'assets')} where id = $1`, [id]);
  return rows[0] ?? null;
}
