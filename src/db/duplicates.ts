import type { ComputedGroup, DedupeAsset, GroupKind } from '../dedupe/groups.js';
import type { ReviewAction, StoredGroup } from '../dedupe/review.js';
import { PairTable } from '../dedupe/pair-table.js';
import { catalogSchema, table } from './assets.js';
import type { Sql } from './database.js';
import { DEDUPE_STATUSES, type AssetStatus } from '../model/asset.js';
import { defaultDirection, type GroupSort, type SortDirection } from '../model/duplicates.js';

type DedupeRow = {
  id: bigint; path: string; sha256: Buffer | null; phash_sign: bigint | null; quality_score: number | null; width: number | null;
  height: number | null; size: bigint; sharpness: number | null; make: string | null; model: string | null; taken_at: Date | null;
  date_confidence: number | null; ext: string; file_type: string; status: AssetStatus;
};

/** What detection reads of an asset: one column list and one mapping for every way it is loaded. */
const dedupeColumns = (sql: Sql) =>
  sql`a.id, a.path, a.sha256, a.phash_sign, a.quality_score, a.width, a.height, a.size, a.sharpness, a.make, a.model, a.taken_at, a.date_confidence, a.ext, a.file_type, a.status`;
const usable = (sql: Sql) => sql`a.status = any(${[...DEDUPE_STATUSES]}::text[])`;

function dedupeAsset(r: DedupeRow): DedupeAsset {
  return {
    id: Number(r.id),
    path: r.path,
    sha256: r.sha256 ? r.sha256.toString('hex') : null,
    hash: r.phash_sign,
    quality: r.quality_score,
    width: r.width,
    height: r.height,
    size: Number(r.size),
    sharpness: r.sharpness,
    make: r.make,
    model: r.model,
    takenAt: r.taken_at,
    dateConfidence: r.date_confidence,
    ext: r.ext,
    video: r.file_type === 'video',
    damaged: r.status === 'damaged',
  };
}

/** What duplicate detection reads of every usable asset, in id order. */
export async function loadDedupeAssets(sql: Sql, schema: string): Promise<DedupeAsset[]> {
  const rows = await sql<DedupeRow[]>`
    select ${dedupeColumns(sql)} from ${catalogSchema(sql, schema)}.assets a where ${usable(sql)} order by a.id`;
  return rows.map(dedupeAsset);
}

/** Usable assets: what a duplicates job's summary counts. */
export async function countDedupeAssets(sql: Sql, schema: string): Promise<number> {
  const [row] = await sql<{ n: bigint }[]>`select count(*)::int8 as n from ${catalogSchema(sql, schema)}.assets a where ${usable(sql)}`;
  return Number(row!.n);
}

/**
 * Near search's input in two reads. First the pictures whose content has no other copy with pixels
 * (most of a catalog), as id and hash only; then, in full and in SHA-256 order, the copies of the
 * contents that have several, for the caller to pick each one's representative.
 */
export async function forEachSearchCandidate(
  sql: Sql,
  schema: string,
  batch: number,
  onSingles: (rows: { id: bigint; phash_sign: bigint }[]) => void,
  onCopies: (assets: DedupeAsset[]) => void,
): Promise<void> {
  const s = catalogSchema(sql, schema);
  const hashed = sql`${usable(sql)} and a.phash_sign is not null`;
  const multi = sql`select a.sha256 from ${s}.assets a where ${hashed} and a.sha256 is not null group by a.sha256 having count(*) > 1`;
  // An anti-join, which spills to disk when it must: `not in (subquery)` falls back to a scan per row.
  const singles = sql<{ id: bigint; phash_sign: bigint }[]>`
    select a.id, a.phash_sign from ${s}.assets a left join (${multi}) m on m.sha256 = a.sha256
    where ${hashed} and m.sha256 is null`.cursor(batch);
  for await (const rows of singles) onSingles(rows);
  const copies = sql<DedupeRow[]>`
    select ${dedupeColumns(sql)} from ${s}.assets a join (${multi}) m on m.sha256 = a.sha256
    where ${hashed} order by a.sha256, a.id`.cursor(batch);
  for await (const rows of copies) onCopies(rows.map(dedupeAsset));
}

/**
 * What can put assets in one group, as runs of asset ids, a batch of runs at a time: the copies of
 * one content (exact groups; a content's representative is chosen among them all), two frames of
 * one camera within 2 s (a burst chains such steps), the files sharing a folder and a name up to
 * its first dot (format pairs), and the members of each stored group (the merge with review state
 * matches by shared members). Each is a superset of what its rule in dedupe/groups.ts can group.
 * Paths are absolute, so each has a folder part.
 */
export async function forEachLink(sql: Sql, schema: string, batch: number, fn: (runs: number[][]) => void): Promise<void> {
  const s = catalogSchema(sql, schema);
  // Folder and name up to its first dot, by plain string functions (a regular expression costs twice as much).
  const shot = sql`lower(left(a.path, length(a.path) - strpos(reverse(a.path), '/') + 1) || split_part(right(a.path, strpos(reverse(a.path), '/') - 1), '.', 1))`;
  const cursor = sql<{ ids: bigint[] }[]>`
    select array_agg(a.id) as ids from ${s}.assets a where ${usable(sql)} and a.sha256 is not null group by a.sha256 having count(*) > 1
    union all
    select array[prev, id] from (
      select id, taken_at, lag(id) over w as prev, lag(taken_at) over w as prev_at
      from ${s}.assets a
      where ${usable(sql)} and taken_at is not null and coalesce(date_confidence, 0) >= 85 and (make is not null or model is not null)
      window w as (partition by coalesce(make, ''), coalesce(model, '') order by taken_at)) timed
    where taken_at - prev_at <= interval '2 seconds'
    union all
    select array_agg(a.id) from ${s}.assets a where ${usable(sql)} group by ${shot} having count(*) > 1
    union all
    select array_agg(m.asset_id) from ${s}.duplicate_members m group by m.group_id`.cursor(batch);
  for await (const rows of cursor) fn(rows.map((r) => r.ids.map(Number)));
}

/** The largest asset id a link can name (an asset's, or a stored member's). */
export async function maxLinkableId(sql: Sql, schema: string): Promise<number> {
  const s = catalogSchema(sql, schema);
  const [row] = await sql<{ n: bigint | null }[]>`
    select greatest((select max(id) from ${s}.assets), (select max(asset_id) from ${s}.duplicate_members)) as n`;
  return Number(row?.n ?? 0);
}

/** What duplicate detection reads of these assets (the usable ones among them), in id order. */
export async function loadDedupeAssetsByIds(sql: Sql, schema: string, ids: ArrayLike<number>): Promise<DedupeAsset[]> {
  const out: DedupeAsset[] = [];
  for (let i = 0; i < ids.length; i += 10000) {
    // `= any` is an index scan whatever the statistics; a join with unnest was planned as a scan of every asset.
    const part = Array.from({ length: Math.min(10000, ids.length - i) }, (_, k) => ids[i + k]!);
    const rows = await sql<DedupeRow[]>`
      select ${dedupeColumns(sql)} from ${catalogSchema(sql, schema)}.assets a where a.id = any(${part}::int8[]) and ${usable(sql)} order by a.id`;
    for (const r of rows) out.push(dedupeAsset(r));
  }
  return out;
}

/** Pictures fingerprinted before the sign hash existed: near search cannot see them until a scan. */
/** The thumbnail of each of these assets that has one (geometric verification reads them). */
export async function thumbnailKeys(sql: Sql, schema: string, ids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < ids.length; i += 10000) {
    const rows = await sql<{ id: bigint; thumbnail_key: string }[]>`
      select id, thumbnail_key from ${catalogSchema(sql, schema)}.assets where id = any(${ids.slice(i, i + 10000)}::int8[]) and thumbnail_key is not null`;
    for (const r of rows) out.set(Number(r.id), r.thumbnail_key);
  }
  return out;
}

export async function countStaleFingerprints(sql: Sql, schema: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from ${catalogSchema(sql, schema)}.assets where status = any(${[...DEDUPE_STATUSES]}::text[]) and phash is not null and phash_sign is null`;
  return row?.n ?? 0;
}

/** The groups already stored, with their members, for mergeWithStored: all, or those with a member among `scope`. */
async function storedGroups(sql: Sql, schema: string, scope?: ArrayLike<number>): Promise<StoredGroup[]> {
  const s = catalogSchema(sql, schema);
  const within = scope
    ? sql`where g.id in (select m2.group_id from ${s}.duplicate_members m2 where m2.asset_id = any(${Array.from(scope)}::int8[]))`
    : sql``;
  const rows = await sql<{ id: bigint; kind: GroupKind; review_status: StoredGroup['reviewStatus']; members: bigint[] }[]>`
    select g.id, g.kind, g.review_status, array_agg(m.asset_id order by m.asset_id) as members
    from ${s}.duplicate_groups g join ${s}.duplicate_members m on m.group_id = g.id
    ${within}
    group by g.id`;
  return rows.map((r) => ({ id: Number(r.id), kind: r.kind, reviewStatus: r.review_status, members: r.members.map(Number) }));
}

interface MemberRows {
  group: number[];
  asset: number[];
  distance: (number | null)[];
  similarity: (number | null)[];
  orientation: (number | null)[];
  verified: boolean[];
}

function memberRows(): MemberRows {
  return { group: [], asset: [], distance: [], similarity: [], orientation: [], verified: [] };
}

function addMembers(rows: MemberRows, groupId: number, g: ComputedGroup, only?: Set<number>): void {
  for (const m of g.members) {
    if (only && !only.has(m.assetId)) continue;
    rows.group.push(groupId);
    rows.asset.push(m.assetId);
    rows.distance.push(m.distance);
    rows.similarity.push(m.similarity);
    rows.orientation.push(m.orientation);
    rows.verified.push(m.verified ?? false);
  }
}

/** Members upserted in bulk; a member's decision survives (only its measurements change). */
async function upsertMembers(tx: Sql, schema: string, rows: MemberRows): Promise<void> {
  const s = catalogSchema(tx, schema);
  for (let i = 0; i < rows.group.length; i += 20000) {
    const part = <V>(a: V[]) => a.slice(i, i + 20000);
    // postgres.js sends a boolean array as one boolean: as 0 and 1 it travels.
    await tx`
      insert into ${s}.duplicate_members (group_id, asset_id, distance, similarity, orientation, verified)
      select g, a, d, s, o, v <> 0 from unnest(${part(rows.group)}::int8[], ${part(rows.asset)}::int8[], ${part(rows.distance)}::int[], ${part(rows.similarity)}::real[], ${part(rows.orientation)}::int2[],
        ${part(rows.verified).map(Number)}::int2[]) as u(g, a, d, s, o, v)
      on conflict (group_id, asset_id) do update set distance = excluded.distance, similarity = excluded.similarity, orientation = excluded.orientation, verified = excluded.verified`;
  }
}

/**
 * One detection run's write, inside the caller's transaction (which holds its job's row): under
 * the catalog's duplicates lock (transaction-scoped, so a lost connection releases it with the
 * transaction), reads the stored groups, lets `merge` turn them into review actions and applies
 * them in bulk. Concurrent or retried runs thus leave exactly one set of groups. With `scope`, only
 * the stored groups with a member among those asset ids are read (a batch of whole components:
 * no stored group outside it can match a group inside it); taking the lock again in one transaction costs nothing.
 */
export async function writeDetection(
  tx: Sql,
  schema: string,
  lockKey: string,
  jobId: string,
  merge: (stored: StoredGroup[]) => ReviewAction[],
  scope?: ArrayLike<number>,
): Promise<void> {
  catalogSchema(tx, schema);
  await lockDetection(tx, lockKey);
  await applyActions(tx, schema, jobId, merge(await storedGroups(tx, schema, scope)));
}

/** The catalog's duplicates lock, held until the transaction ends (taking it again is a no-op). */
export async function lockDetection(tx: Sql, lockKey: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtext(${lockKey}))`;
}

/**
 * Fresh planner statistics for the group tables after a detection run rewrote them. The embedded
 * database never analyzes on its own (PGlite runs no autovacuum), and without statistics the
 * listing's plan went from 0.1 s a page to minutes once a catalog's groups had been rewritten a
 * few times; on a server it saves waiting for autovacuum. A sample, so under a second at 10^6 groups.
 */
export async function analyzeGroups(sql: Sql, schema: string): Promise<void> {
  const s = catalogSchema(sql, schema);
  await sql`analyze ${s}.duplicate_groups, ${s}.duplicate_members`;
}

/**
 * Applies one detection run's review actions in bulk, on the transaction it is given: a run over a
 * large catalog writes tens of thousands of groups, so no statement is issued per group.
 */
async function applyActions(tx: Sql, schema: string, jobId: string, actions: ReviewAction[]): Promise<void> {
  const s = catalogSchema(tx, schema);
  const deletes = actions.filter((a) => a.type === 'delete').map((a) => a.id);
  if (deletes.length) await tx`delete from ${s}.duplicate_groups where id = any(${deletes}::int8[])`;

  const rows = memberRows();
  const inserts = actions.filter((a) => a.type === 'insert');
  if (inserts.length) {
    // Ids drawn first, so groups and their members go in as two bulk statements.
    const ids = await tx<{ id: bigint }[]>`
      select nextval(pg_get_serial_sequence(${table(schema, 'duplicate_groups')}, 'id')) as id from generate_series(1, ${inserts.length})`;
    const idOf = ids.map((r) => Number(r.id));
    await tx`
      insert into ${s}.duplicate_groups (id, kind, keeper_asset_id, reason, last_job)
      select *, ${jobId}::uuid from unnest(${idOf}::int8[], ${inserts.map((a) => a.group.kind)}::text[], ${inserts.map((a) => a.group.keeperId)}::int8[], ${inserts.map((a) => a.group.reason)}::text[])`;
    inserts.forEach((a, k) => addMembers(rows, idOf[k]!, a.group));
  }

  const updates = actions.filter((a) => a.type === 'update');
  if (updates.length) {
    const ids = updates.map((a) => a.id);
    const keep = memberRows();
    for (const a of updates) addMembers(keep, a.id, a.group);
    // Groups whose members change: their version goes up, so a decision made on the old set is refused.
    const moved = await tx<{ id: bigint }[]>`
      select distinct coalesce(k.g, m.group_id) as id
      from (select * from unnest(${keep.group}::int8[], ${keep.asset}::int8[]) as u(g, a)) k
        full join (select group_id, asset_id from ${s}.duplicate_members where group_id = any(${ids}::int8[])) m on m.group_id = k.g and m.asset_id = k.a
      where k.g is null or m.group_id is null`;
    await tx`
      update ${s}.duplicate_groups g set keeper_asset_id = u.keeper, reason = u.reason, last_job = ${jobId}, updated_at = now(),
        version = g.version + case when g.keeper_asset_id is distinct from u.keeper or g.reason is distinct from u.reason
          or u.id = any(${moved.map((r) => Number(r.id))}::int8[]) then 1 else 0 end
      from unnest(${ids}::int8[], ${updates.map((a) => a.group.keeperId)}::int8[], ${updates.map((a) => a.group.reason)}::text[]) as u(id, keeper, reason)
      where g.id = u.id`;
    // Members detection no longer puts in an open group leave it.
    await tx`
      delete from ${s}.duplicate_members m where m.group_id = any(${ids}::int8[])
        and not exists (select 1 from unnest(${keep.group}::int8[], ${keep.asset}::int8[]) as k(g, a) where k.g = m.group_id and k.a = m.asset_id)`;
    for (const a of updates) addMembers(rows, a.id, a.group);
  }

  const added = actions.filter((a) => a.type === 'add_members');
  if (added.length) {
    await tx`
      update ${s}.duplicate_groups set review_status = 'open', last_job = ${jobId}, updated_at = now(), version = version + 1
      where id = any(${added.map((a) => a.id)}::int8[])`;
    for (const a of added) addMembers(rows, a.id, a.group, new Set(a.added));
  }

  const kept = actions.filter((a) => a.type === 'keep').map((a) => a.id);
  if (kept.length) await tx`update ${s}.duplicate_groups set last_job = ${jobId} where id = any(${kept}::int8[])`;

  await upsertMembers(tx, schema, rows);
}

export interface GroupFilter {
  kind?: GroupKind;
  status?: 'open' | 'resolved' | 'dismissed';
  /** Default 'id' (detection order); each order ends in the group id, so a page boundary is stable. */
  sort?: GroupSort;
  /** Default: defaultDirection(sort). */
  dir?: SortDirection;
  /** Keyset paging: groups after this id in the order of sort 'id' (before it, descending). */
  afterId?: number;
  /** Groups to skip (the paging of the other orders). */
  offset?: number;
  /** Only this group. */
  id?: number;
  limit: number;
}

export interface GroupMemberRow {
  asset_id: number;
  path: string;
  distance: number | null;
  similarity: number | null;
  orientation: number | null;
  verified: boolean;
  decision: string | null;
  quality_score: number | null;
  width: number | null;
  height: number | null;
  size: number;
  thumbnail_key: string | null;
  status: AssetStatus;
  file_type: string;
  ext: string;
  /** As JSON gives it (ISO 8601 with an offset), or null. */
  taken_at: string | null;
  make: string | null;
  model: string | null;
}

export interface GroupRow {
  id: number;
  kind: GroupKind;
  keeper_asset_id: number | null;
  keeper_path: string | null;
  keeper_taken_at: Date | null;
  reason: string | null;
  review_status: 'open' | 'resolved' | 'dismissed';
  /** Goes up with every change to the group, its members or its decisions. */
  version: number;
  /** Sum of the sizes of the members other than the keeper. */
  bytes_reclaimable: number;
  /** The largest distance of a member from the keeper; null when none has one. */
  max_distance: number | null;
  created_at: Date;
  updated_at: Date;
  members: GroupMemberRow[];
}

type OrderFragment = (sql: Sql) => ReturnType<Sql>;

/** What resolving group `g` would free: the sizes of its members other than the keeper (one rule for every query). */
const reclaimable = (sql: Sql, s: ReturnType<typeof catalogSchema>) => sql`
  (select coalesce(sum(a.size) filter (where m.asset_id is distinct from g.keeper_asset_id), 0)::int8
   from ${s}.duplicate_members m join ${s}.assets a on a.id = m.asset_id where m.group_id = g.id)`;

/** The orders by which groups are listed; picked from this fixed map, never written from input. */
const ORDER: Record<GroupSort, Record<SortDirection, OrderFragment>> = {
  id: { asc: (sql) => sql`g.id asc`, desc: (sql) => sql`g.id desc` },
  bytes: { asc: (sql) => sql`st.bytes_reclaimable asc, g.id asc`, desc: (sql) => sql`st.bytes_reclaimable desc, g.id asc` },
  kind: { asc: (sql) => sql`g.kind asc, g.id asc`, desc: (sql) => sql`g.kind desc, g.id asc` },
  distance: { asc: (sql) => sql`st.max_distance asc nulls first, g.id asc`, desc: (sql) => sql`st.max_distance desc nulls last, g.id asc` },
  // Undated keepers at the end whichever way the dates run.
  date: { asc: (sql) => sql`k.taken_at asc nulls last, g.id asc`, desc: (sql) => sql`k.taken_at desc nulls last, g.id asc` },
};

const where = (sql: Sql, f: Pick<GroupFilter, 'kind' | 'status'>) => sql`
  ${f.kind ? sql`and g.kind = ${f.kind}` : sql``}
  ${f.status ? sql`and g.review_status = ${f.status}` : sql``}`;

type RawGroupRow = Omit<GroupRow, 'id' | 'keeper_asset_id' | 'bytes_reclaimable' | 'members'> & {
  id: bigint;
  keeper_asset_id: bigint | null;
  bytes_reclaimable: bigint;
  members: GroupMemberRow[] | null;
};

/** One page of groups with their members, in one of the fixed orders; every value is a bound parameter. */
export async function listGroups(sql: Sql, schema: string, f: GroupFilter): Promise<GroupRow[]> {
  const s = catalogSchema(sql, schema);
  const sort = f.sort ?? 'id';
  const dir = f.dir ?? defaultDirection(sort);
  const after = f.afterId === undefined ? sql`` : dir === 'asc' ? sql`and g.id > ${f.afterId}` : sql`and g.id < ${f.afterId}`;
  const rows = await sql<RawGroupRow[]>`
    select g.id, g.kind, g.keeper_asset_id, k.path as keeper_path, k.taken_at as keeper_taken_at, g.reason, g.review_status, g.version,
      st.bytes_reclaimable, st.max_distance, g.created_at, g.updated_at,
      (select json_agg(json_build_object('asset_id', m.asset_id, 'path', a.path, 'distance', m.distance, 'similarity', m.similarity,
         'orientation', m.orientation, 'verified', m.verified, 'decision', m.decision, 'quality_score', a.quality_score, 'width', a.width, 'height', a.height,
         'size', a.size, 'thumbnail_key', a.thumbnail_key, 'status', a.status, 'file_type', a.file_type, 'ext', a.ext,
         'taken_at', a.taken_at, 'make', a.make, 'model', a.model)
         order by (m.asset_id = g.keeper_asset_id) desc, m.distance nulls last, a.path)
       from ${s}.duplicate_members m join ${s}.assets a on a.id = m.asset_id where m.group_id = g.id) as members
    from ${s}.duplicate_groups g
      left join ${s}.assets k on k.id = g.keeper_asset_id
      cross join lateral (
        select ${reclaimable(sql, s)} as bytes_reclaimable,
          (select max(m.distance) from ${s}.duplicate_members m where m.group_id = g.id) as max_distance) st
    where true ${where(sql, f)} ${after}
      ${f.id !== undefined ? sql`and g.id = ${f.id}` : sql``}
    order by ${ORDER[sort][dir](sql)}
    limit ${f.limit} ${f.offset ? sql`offset ${f.offset}` : sql``}`;
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    keeper_asset_id: r.keeper_asset_id === null ? null : Number(r.keeper_asset_id),
    bytes_reclaimable: Number(r.bytes_reclaimable),
    members: r.members ?? [],
  }));
}

export async function getGroup(sql: Sql, schema: string, id: number): Promise<GroupRow | null> {
  const rows = await listGroups(sql, schema, { id, limit: 1 });
  return rows[0] ?? null;
}

/** How many groups a filter matches (the queue's length, whatever page is read). */
export async function countMatchingGroups(sql: Sql, schema: string, f: Pick<GroupFilter, 'kind' | 'status'>): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from ${catalogSchema(sql, schema)}.duplicate_groups g where true ${where(sql, f)}`;
  return row?.n ?? 0;
}

export async function countGroups(sql: Sql, schema: string): Promise<Record<string, Record<string, number>>> {
  const rows = await sql<{ kind: string; review_status: string; n: number }[]>`
    select kind, review_status, count(*)::int as n from ${catalogSchema(sql, schema)}.duplicate_groups group by kind, review_status`;
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.kind] ??= {})[r.review_status] = r.n;
  return out;
}

export interface Resolution {
  status: 'resolved' | 'dismissed' | 'open';
  /** Asset ids to keep (resolved only); the others are marked 'remove'. Default: the keeper. */
  keep?: number[];
  actor: string;
  /** Decide only if the group is still at this version (else nothing changes). */
  ifVersion?: number;
}

export type ResolveOutcome = { outcome: 'done'; group: GroupRow } | { outcome: 'missing' } | { outcome: 'stale'; version: number };

/**
 * Records the user's decision on a group: which copies to keep and which are marked for removal,
 * or "not duplicates", or back to open. Nothing is deleted, and the previous state goes to the
 * audit log, so every decision can be undone. The group's row is locked first, so the version
 * check and the write are one step.
 */
export async function resolveGroup(sql: Sql, schema: string, id: number, r: Resolution): Promise<ResolveOutcome> {
  const s = catalogSchema(sql, schema);
  return sql.begin(async (t) => {
    const tx = t as unknown as Sql;
    const [locked] = await tx<{ version: number }[]>`select version from ${s}.duplicate_groups where id = ${id} for update`;
    if (!locked) return { outcome: 'missing' } as const;
    if (r.ifVersion !== undefined && locked.version !== r.ifVersion) return { outcome: 'stale', version: locked.version } as const;
    const before = (await getGroup(tx, schema, id))!;
    if (r.status === 'resolved') {
      const keep = r.keep?.length ? r.keep : before.keeper_asset_id !== null ? [before.keeper_asset_id] : [];
      await tx`update ${s}.duplicate_members set decision = case when asset_id = any(${keep}::int8[]) then 'keep' else 'remove' end where group_id = ${id}`;
    } else {
      await tx`update ${s}.duplicate_members set decision = null where group_id = ${id}`;
    }
    await tx`update ${s}.duplicate_groups set review_status = ${r.status}, version = version + 1, updated_at = now() where id = ${id}`;
    const action = `duplicates.${r.status === 'open' ? 'reopen' : r.status === 'resolved' ? 'resolve' : 'dismiss'}`;
    const details = {
      group_id: id,
      before: { review_status: before.review_status, decisions: before.members.map((m) => ({ asset_id: m.asset_id, decision: m.decision })) },
      keep: r.keep ?? null,
    };
    await tx`insert into ${s}.audit_log (actor, action, details) values (${r.actor}, ${action}, ${tx.json(details)})`;
    return { outcome: 'done', group: (await getGroup(tx, schema, id))! } as const;
  });
}

/** An open group with its suggested keeper and what resolving it would free. */
export interface KeeperCandidate {
  id: number;
  keeper_asset_id: number | null;
  bytes_reclaimable: number;
}

/** The open groups (of one kind, or all), in id order, with their keepers and reclaimable bytes. */
export async function openGroupKeepers(sql: Sql, schema: string, kind?: GroupKind): Promise<KeeperCandidate[]> {
  const s = catalogSchema(sql, schema);
  const rows = await sql<{ id: bigint; keeper_asset_id: bigint | null; bytes_reclaimable: bigint }[]>`
    select g.id, g.keeper_asset_id,
      ${reclaimable(sql, s)} as bytes_reclaimable
    from ${s}.duplicate_groups g
    where g.review_status = 'open' ${kind ? sql`and g.kind = ${kind}` : sql``}
    order by g.id`;
  return rows.map((r) => ({ id: Number(r.id), keeper_asset_id: r.keeper_asset_id === null ? null : Number(r.keeper_asset_id), bytes_reclaimable: Number(r.bytes_reclaimable) }));
}

/** Why a group of a bulk decision was left as it was. */
export interface BulkSkip {
  id: number;
  /** 'gone': no such group; 'not_open': decided since; 'kind': another kind than asked for; 'no_keeper'. */
  why: 'gone' | 'not_open' | 'kind' | 'no_keeper';
}

/**
 * Resolves many groups at once to their suggested keepers (the keeper kept, the others marked
 * for removal), in one transaction with their rows locked: only groups still open (and of `kind`,
 * when given) with a keeper are decided; each decision goes to the audit log as a single resolve
 * would write it. Bulk statements, not one per group.
 */
export async function resolveToKeepers(
  sql: Sql,
  schema: string,
  ids: number[],
  options: { kind?: GroupKind; actor: string },
): Promise<{ resolved: KeeperCandidate[]; skipped: BulkSkip[] }> {
  const s = catalogSchema(sql, schema);
  return sql.begin(async (t) => {
    const tx = t as unknown as Sql;
    const locked = await tx<{ id: bigint; kind: GroupKind; review_status: string; keeper_asset_id: bigint | null }[]>`
      select id, kind, review_status, keeper_asset_id from ${s}.duplicate_groups where id = any(${ids}::int8[]) order by id for update`;
    const byId = new Map(locked.map((r) => [Number(r.id), r]));
    const skipped: BulkSkip[] = [];
    const ok: number[] = [];
    for (const id of ids) {
      const g = byId.get(id);
      if (!g) skipped.push({ id, why: 'gone' });
      else if (g.review_status !== 'open') skipped.push({ id, why: 'not_open' });
      else if (options.kind && g.kind !== options.kind) skipped.push({ id, why: 'kind' });
      else if (g.keeper_asset_id === null) skipped.push({ id, why: 'no_keeper' });
      else ok.push(id);
    }
    if (!ok.length) return { resolved: [], skipped };
    const resolved = await tx<{ id: bigint; keeper_asset_id: bigint; bytes_reclaimable: bigint }[]>`
      select g.id, g.keeper_asset_id,
        ${reclaimable(tx, s)} as bytes_reclaimable
      from ${s}.duplicate_groups g where g.id = any(${ok}::int8[]) order by g.id`;
    await tx`
      insert into ${s}.audit_log (actor, action, details)
      select ${options.actor}, 'duplicates.resolve', jsonb_build_object(
        'group_id', g.id,
        'before', jsonb_build_object('review_status', g.review_status, 'decisions',
          coalesce((select jsonb_agg(jsonb_build_object('asset_id', m.asset_id, 'decision', m.decision) order by m.asset_id)
                    from ${s}.duplicate_members m where m.group_id = g.id), '[]'::jsonb)),
        'keep', null,
        'bulk', true)
      from ${s}.duplicate_groups g where g.id = any(${ok}::int8[]) order by g.id`;
    await tx`
      update ${s}.duplicate_members m set decision = case when m.asset_id = g.keeper_asset_id then 'keep' else 'remove' end
      from ${s}.duplicate_groups g where g.id = m.group_id and g.id = any(${ok}::int8[])`;
    await tx`update ${s}.duplicate_groups set review_status = 'resolved', version = version + 1, updated_at = now() where id = any(${ok}::int8[])`;
    return {
      resolved: resolved.map((r) => ({ id: Number(r.id), keeper_asset_id: Number(r.keeper_asset_id), bytes_reclaimable: Number(r.bytes_reclaimable) })),
      skipped,
    };
  });
}

/** Candidate pairs of a sharded search, kept until the job's finalize reads them. */
export async function writeCandidates(sql: Sql, schema: string, jobId: string, pairs: PairTable): Promise<void> {
  const s = catalogSchema(sql, schema);
  for (let i = 0; i < pairs.length; i += 10000) {
    const end = Math.min(pairs.length, i + 10000);
    const column = (c: Float64Array | Uint8Array) => Array.from(c.subarray(i, end));
    await sql`
      insert into ${s}.duplicate_candidates (job_id, a, b, distance, orientation)
      select ${jobId}, * from unnest(${column(pairs.a)}::int8[], ${column(pairs.b)}::int8[], ${column(pairs.distance)}::int2[], ${column(pairs.orientation)}::int2[])
      on conflict (job_id, a, b) do update set distance = least(excluded.distance, duplicate_candidates.distance)`;
  }
}

/** A job's candidates, read a batch of rows at a time into the table (no row objects kept). */
export async function readCandidates(sql: Sql, schema: string, jobId: string, batch = 50_000): Promise<PairTable> {
  const pairs = new PairTable();
  const rows = sql<{ a: string; b: string; distance: number; orientation: number }[]>`
    select a::text, b::text, distance, orientation from ${catalogSchema(sql, schema)}.duplicate_candidates where job_id = ${jobId}`.cursor(batch);
  for await (const part of rows) for (const r of part) pairs.push(Number(r.a), Number(r.b), r.distance, r.orientation);
  return pairs;
}

export async function clearCandidates(sql: Sql, schema: string, jobId: string): Promise<void> {
  await sql`delete from ${catalogSchema(sql, schema)}.duplicate_candidates where job_id = ${jobId}`;
}
