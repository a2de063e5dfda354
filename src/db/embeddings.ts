import { decodeHalf, encodeHalf } from '../embed/vectors.js';
import { catalogSchema } from './assets.js';
import type { Sql } from './database.js';
import { DEDUPE_STATUSES } from '../model/asset.js';

/** The stored (normalized, half-float) embeddings of these assets. */
export async function loadEmbeddings(sql: Sql, schema: string, ids: number[]): Promise<Map<number, Float32Array>> {
  const s = catalogSchema(sql, schema);
  const out = new Map<number, Float32Array>();
  for (let i = 0; i < ids.length; i += 10000) {
    const rows = await sql<{ asset_id: bigint; vector: Buffer }[]>`
      select asset_id, vector from ${s}.embeddings where asset_id = any(${ids.slice(i, i + 10000)}::int8[])`;
    for (const r of rows) out.set(Number(r.asset_id), decodeHalf(r.vector));
  }
  return out;
}

/** Upserts embeddings (one model per catalog at a time: a new model replaces the old vectors). */
export async function writeEmbeddings(sql: Sql, schema: string, model: string, rows: { assetId: number; vector: Float32Array }[]): Promise<void> {
  if (!rows.length) return;
  const values = rows.map((r) => ({ asset_id: r.assetId, model, dim: r.vector.length, vector: encodeHalf(r.vector) }));
  const s = catalogSchema(sql, schema);
  for (let i = 0; i < values.length; i += 2000) {
    await sql`
      insert into ${s}.embeddings ${sql(values.slice(i, i + 2000), 'asset_id', 'model', 'dim', 'vector')}
      on conflict (asset_id) do update set model = excluded.model, dim = excluded.dim, vector = excluded.vector, created_at = now()`;
  }
}

/** A content (one SHA-256) still without an embedding of this model, with the assets that share it. */
export interface PendingContent {
  sha256: Buffer;
  ids: bigint[];
  thumbnail_key: string | null;
}

/** Contents with pixels still to embed by this model (all, or only `shas`), first seen first, at most `limit`. */
export async function pendingContents(sql: Sql, schema: string, modelPrefix: string, shas: string[] | null, limit: number): Promise<PendingContent[]> {
  const s = catalogSchema(sql, schema);
  return sql<PendingContent[]>`
    select a.sha256, array_agg(a.id order by a.id) as ids, min(a.thumbnail_key) as thumbnail_key
    from ${s}.assets a left join ${s}.embeddings e on e.asset_id = a.id
    where a.status = any(${[...DEDUPE_STATUSES]}::text[]) and a.phash_sign is not null and a.sha256 is not null and (e.asset_id is null or e.model not like ${modelPrefix + '%'})
      ${shas ? sql`and encode(a.sha256, 'hex') = any(${shas}::text[])` : sql``}
    group by a.sha256 order by min(a.id) limit ${limit}`;
}
