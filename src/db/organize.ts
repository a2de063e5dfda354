import type { ActionState, OrganizeAction, OrganizePlan, PlanStatus, PlanSummary, RollbackState } from '../model/organize.js';
import type { PlannedAction, PlanAsset, PlanGroup } from '../organize/plan.js';
import { catalogSchema } from './assets.js';
import type { Sql } from './database.js';

/** What planning reads of every file still there, and the duplicate groups with their decisions. */
export async function loadPlanInput(sql: Sql, schema: string): Promise<{ assets: PlanAsset[]; groups: PlanGroup[] }> {
  const s = catalogSchema(sql, schema);
  const rows = await sql<
    { id: bigint; path: string; size: bigint; mtime: Date; sha256: Buffer | null; file_type: PlanAsset['fileType']; taken_at_local: string | null; date_confidence: number | null; make: string | null; model: string | null; content_id: string | null }[]
  >`
    select id, path, size, mtime, sha256, file_type, taken_at_local, date_confidence, make, model, exif->>'ContentIdentifier' as content_id
    from ${s}.assets where status <> 'missing' order by path`;
  const groups = await sql<{ kind: PlanGroup['kind']; keeper_asset_id: bigint | null; review_status: PlanGroup['reviewStatus']; members: { asset_id: number; decision: string | null }[] }[]>`
    select g.kind, g.keeper_asset_id, g.review_status,
      (select json_agg(json_build_object('asset_id', m.asset_id, 'decision', m.decision)) from ${s}.duplicate_members m where m.group_id = g.id) as members
    from ${s}.duplicate_groups g order by g.id`;
  return {
    assets: rows.map((r) => ({
      id: Number(r.id), path: r.path, size: Number(r.size), mtime: r.mtime, sha256: r.sha256, fileType: r.file_type, local: r.taken_at_local,
      confidence: r.date_confidence, make: r.make, model: r.model, contentId: r.content_id,
    })),
    groups: groups.map((g) => ({
      kind: g.kind,
      keeperId: g.keeper_asset_id === null ? null : Number(g.keeper_asset_id),
      reviewStatus: g.review_status,
      members: (g.members ?? []).map((m) => ({ assetId: Number(m.asset_id), decision: m.decision })),
    })),
  };
}

export interface NewPlan {
  id: string;
  catalogId: string;
  dest: string;
  mode: string;
  template: string;
  duplicates: string;
  minConfidence: number;
  summary: PlanSummary;
}

/** A plan and all its actions, in one transaction: a plan is there whole or not at all. */
export async function insertPlan(sql: Sql, schema: string, plan: NewPlan, actions: PlannedAction[]): Promise<void> {
  const s = catalogSchema(sql, schema);
  await sql.begin(async (tx) => {
    await tx`insert into public.organize_plans (id, catalog_id) values (${plan.id}, ${plan.catalogId})`;
    await tx`
      insert into ${s}.organize_plans (id, dest, mode, template, duplicates, min_confidence, summary)
      values (${plan.id}, ${plan.dest}, ${plan.mode}, ${plan.template}, ${plan.duplicates}, ${plan.minConfidence}, ${tx.json(plan.summary as never)})`;
    for (let i = 0; i < actions.length; i += 1000) {
      const rows = actions.slice(i, i + 1000).map((a) => ({
        plan_id: plan.id, seq: a.seq, asset_id: a.assetId, kind: a.kind, unit: a.unit, role: a.role, source_path: a.source,
        target_path: a.target, size: a.size, mtime: a.mtime, sha256: a.sha256, note: a.note,
      }));
      await tx`insert into ${s}.organize_actions ${tx(rows)}`;
    }
  });
}

/** The catalog a plan belongs to, from its id alone. */
export async function planCatalogId(sql: Sql, planId: string): Promise<string | null> {
  const [row] = await sql<{ catalog_id: string }[]>`select catalog_id from public.organize_plans where id = ${planId}`;
  return row?.catalog_id ?? null;
}

type PlanRow = Omit<OrganizePlan, 'catalog_id'>;

export async function getPlan(sql: Sql, schema: string, id: string): Promise<PlanRow | null> {
  const [row] = await sql<PlanRow[]>`select * from ${catalogSchema(sql, schema)}.organize_plans where id = ${id}`;
  return row ?? null;
}

export async function listPlans(sql: Sql, schema: string): Promise<PlanRow[]> {
  return sql<PlanRow[]>`select * from ${catalogSchema(sql, schema)}.organize_plans order by created_at desc, id`;
}

export async function setPlanStatus(sql: Sql, schema: string, id: string, status: PlanStatus): Promise<void> {
  await sql`update ${catalogSchema(sql, schema)}.organize_plans set status = ${status}, updated_at = now() where id = ${id}`;
}

type ActionRow = Omit<OrganizeAction, 'id' | 'asset_id' | 'size'> & { id: bigint; asset_id: bigint | null; size: bigint; method: 'copy' | 'link' | null };

const toAction = (r: ActionRow) => ({ ...r, id: Number(r.id), asset_id: r.asset_id === null ? null : Number(r.asset_id), size: Number(r.size) });
export type StoredAction = ReturnType<typeof toAction>;

/** A page of a plan's actions in plan order. */
export async function listActions(sql: Sql, schema: string, planId: string, page: { afterSeq?: number; limit: number }): Promise<StoredAction[]> {
  const rows = await sql<ActionRow[]>`
    select * from ${catalogSchema(sql, schema)}.organize_actions
    where plan_id = ${planId} ${page.afterSeq !== undefined ? sql`and seq > ${page.afterSeq}` : sql``}
    order by seq limit ${page.limit}`;
  return rows.map(toAction);
}

/** A slice of a plan: the actions with from <= seq < to. */
export interface SeqRange {
  from: number;
  to: number;
}

/** Actions of the slice an apply still has to finish, in plan order, after `afterSeq`. */
export async function unfinishedActions(sql: Sql, schema: string, planId: string, range: SeqRange, afterSeq: number, limit: number): Promise<StoredAction[]> {
  const rows = await sql<ActionRow[]>`
    select * from ${catalogSchema(sql, schema)}.organize_actions
    where plan_id = ${planId} and seq >= ${range.from} and seq < ${range.to} and seq > ${afterSeq}
      and state not in ('done', 'failed') order by seq limit ${limit}`;
  return rows.map(toAction);
}

/** Actions of the slice a rollback still has to undo, last first, before `beforeSeq`: those that reached the target, not yet returned. */
export async function actionsToUndo(sql: Sql, schema: string, planId: string, range: SeqRange, beforeSeq: number, limit: number): Promise<StoredAction[]> {
  const rows = await sql<ActionRow[]>`
    select * from ${catalogSchema(sql, schema)}.organize_actions
    where plan_id = ${planId} and seq >= ${range.from} and seq < ${range.to} and seq < ${beforeSeq} and kind <> 'skip'
      and (state in ('writing', 'written', 'verified', 'committed', 'source_removed', 'done') or rollback_state = 'returning')
      and rollback_state is distinct from 'returned' and rollback_state is distinct from 'conflict'
    order by seq desc limit ${limit}`;
  return rows.map(toAction);
}

export interface StateChange {
  state?: ActionState;
  rollbackState?: RollbackState;
  method?: 'copy' | 'link';
  error?: string;
  errorCode?: string;
  warning?: string;
  /** Move the catalog's asset to this path in the same transaction (the file is there now). */
  assetPath?: { assetId: number; path: string };
}

/** One step of the journal, committed; with the catalog's path moved along when a file moved. */
export async function recordStep(sql: Sql, schema: string, actionId: number, change: StateChange): Promise<void> {
  const s = catalogSchema(sql, schema);
  const step = async (q: Sql) => {
    if (change.assetPath) await q`update ${s}.assets set path = ${change.assetPath.path}, updated_at = now() where id = ${change.assetPath.assetId}`;
    await q`
      update ${s}.organize_actions set
        state = coalesce(${change.state ?? null}, state),
        rollback_state = coalesce(${change.rollbackState ?? null}, rollback_state),
        method = coalesce(${change.method ?? null}, method),
        error = coalesce(${change.error ?? null}, error),
        error_code = coalesce(${change.errorCode ?? null}, error_code),
        warning = coalesce(${change.warning ?? null}, warning),
        updated_at = now()
      where id = ${actionId}`;
  };
  if (change.assetPath) await sql.begin((tx) => step(tx as unknown as Sql));
  else await step(sql);
}

export async function countActions(sql: Sql, schema: string, planId: string): Promise<{ kind: string; state: string; rollback_state: string | null; n: number; bytes: number }[]> {
  const rows = await sql<{ kind: string; state: string; rollback_state: string | null; n: number; bytes: bigint }[]>`
    select kind, state, rollback_state, count(*)::int as n, sum(size)::int8 as bytes
    from ${catalogSchema(sql, schema)}.organize_actions where plan_id = ${planId} group by kind, state, rollback_state`;
  return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }));
}

export async function recordCreatedDir(sql: Sql, schema: string, planId: string, dir: string): Promise<void> {
  await sql`insert into ${catalogSchema(sql, schema)}.organize_dirs (plan_id, path) values (${planId}, ${dir}) on conflict do nothing`;
}

/** The folders an apply made, deepest first. */
export async function createdDirs(sql: Sql, schema: string, planId: string): Promise<string[]> {
  const rows = await sql<{ path: string }[]>`select path from ${catalogSchema(sql, schema)}.organize_dirs where plan_id = ${planId} order by length(path) desc, path desc`;
  return rows.map((r) => r.path);
}

export async function setOrganizedDirectory(sql: Sql, catalogId: string, dest: string): Promise<void> {
  await sql`update public.catalogs set organized_directory = ${dest}, updated_at = now() where id = ${catalogId}`;
}

/** A plan's actions that failed, in plan order after `afterSeq`. */
export async function failedActions(sql: Sql, schema: string, planId: string, page: { afterSeq?: number; limit: number }): Promise<StoredAction[]> {
  const rows = await sql<ActionRow[]>`
    select * from ${catalogSchema(sql, schema)}.organize_actions
    where plan_id = ${planId} and state = 'failed' ${page.afterSeq !== undefined ? sql`and seq > ${page.afterSeq}` : sql``}
    order by seq limit ${page.limit}`;
  return rows.map(toAction);
}
