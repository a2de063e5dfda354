import type { Sql } from '../db/database.js';
import { finishJob, whileRunning } from '../db/jobs.js';
import { actionsToUndo, createdDirs, getPlan, recordCreatedDir, recordStep, setOrganizedDirectory, setPlanStatus, unfinishedActions, type SeqRange, type StoredAction } from '../db/organize.js';
import { withReconnect } from '../db/retry.js';
import type { Catalog } from '../model/catalog.js';
import { secondsSinceStart, type Job, type JobProgress } from '../model/job.js';
import type { OrganizeJobParams, OrganizePlan, PlanStatus } from '../model/organize.js';
import { applyAction, removeMadeDirs, undoAction, type ActionContext, type Journal } from '../organize/apply.js';
import { UserError } from '../util/errors.js';

/**
 * The organize job: a plan's actions carried out (apply) or undone (rollback), resumable from the
 * journal at any point, in three steps: begin (the plan marked, DEST recorded), slices of the
 * plan's actions (each independent: the names were settled when the plan was made), and finish
 * (made folders removed after a rollback, the job closed). The embedded runner runs the slices one
 * after another; on the queue each slice is a job of its own that any organize worker may take.
 */

export type OrganizeDirection = 'apply' | 'rollback';
export interface OrganizeParams extends OrganizeJobParams {
  direction: OrganizeDirection;
}

/** What one slice did in this run (actions an earlier, interrupted run finished are not counted again). */
export interface SliceTotals {
  done: number;
  failed: number;
  skipped: number;
  /** Rollback: files kept where they are because something else was in the way. */
  conflicts: number;
  bytes: number;
}

export interface OrganizeSummary extends SliceTotals {
  catalog: { id: string; name: string };
  job_id: string;
  plan_id: string;
  direction: OrganizeDirection;
  folders_removed: number;
  duration_s: number;
  files_per_s: number;
  mb_per_s: number;
  plan_status: PlanStatus;
}

/** Actions per slice: a queue job's worth of work. */
export const SLICE_ACTIONS = 500;
/** Files in flight at once within a slice: copies are I/O bound, and a few streams keep a disk busy. */
const LANES = 4;
const PAGE = 200;

export const emptyTotals = (): SliceTotals => ({ done: 0, failed: 0, skipped: 0, conflicts: 0, bytes: 0 });
export const paramsOf = (job: Pick<Job, 'params'>) => job.params as unknown as OrganizeParams;

/** The slices of a plan of `files` actions. */
export function sliceRanges(files: number, size = SLICE_ACTIONS): SeqRange[] {
  const out: SeqRange[] = [];
  for (let from = 0; from < files; from += size) out.push({ from, to: Math.min(files, from + size) });
  return out;
}

/** Step 1: the plan, marked as being applied or rolled back. */
export async function beginOrganize(sql: Sql, job: Job, catalog: Catalog): Promise<OrganizePlan> {
  const { plan_id, direction } = paramsOf(job);
  const row = await getPlan(sql, catalog.schema_name, plan_id);
  if (!row) throw new UserError(`no organize plan ${plan_id} in catalog "${catalog.name}"`, 'not_found');
  await setPlanStatus(sql, catalog.schema_name, row.id, direction === 'rollback' ? 'rolling_back' : 'applying');
  if (direction === 'apply') await setOrganizedDirectory(sql, catalog.id, row.dest);
  return { ...row, catalog_id: catalog.id };
}

export interface SliceRun {
  sql: Sql;
  job: Job;
  catalog: Catalog;
  plan: OrganizePlan;
  range: SeqRange;
  signal: AbortSignal;
  /** After each action, this slice's running totals. */
  onAction?(totals: SliceTotals): void;
}

/** Step 2: the unfinished actions of one slice, carried out or undone. */
export async function organizeSlice(run: SliceRun): Promise<SliceTotals> {
  const { sql, catalog, plan, range, signal } = run;
  const schema = catalog.schema_name;
  const rollback = paramsOf(run.job).direction === 'rollback';
  const journal: Journal = {
    step: (a, change) => withReconnect(() => recordStep(sql, schema, a.id, change)),
    madeDir: (dir) => withReconnect(() => recordCreatedDir(sql, schema, plan.id, dir)),
  };
  const ctx: ActionContext = { mode: plan.mode, planId: plan.id, journal };
  const totals = emptyTotals();
  // Rollback goes last first, page by page.
  let cursor = rollback ? range.to : range.from - 1;
  while (!signal.aborted) {
    const page: StoredAction[] = rollback
      ? await actionsToUndo(sql, schema, plan.id, range, cursor, PAGE)
      : await unfinishedActions(sql, schema, plan.id, range, cursor, PAGE);
    if (!page.length) break;
    cursor = page.at(-1)!.seq;
    let next = 0;
    const lane = async () => {
      while (next < page.length && !signal.aborted) {
        const a = page[next++]!;
        if (rollback) {
          if ((await undoAction(a, ctx)) === 'conflict') totals.conflicts++;
          else totals.done++;
        } else {
          const out = await applyAction(a, ctx);
          totals[out]++;
          if (out === 'done') totals.bytes += a.size;
        }
        run.onAction?.(totals);
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
  }
  return totals;
}

export function addTotals(into: SliceTotals, t: SliceTotals): SliceTotals {
  for (const k of Object.keys(into) as (keyof SliceTotals)[]) into[k] += t[k];
  return into;
}

/** Step 3: after a rollback the plan's empty folders removed; the plan's status and the job closed, in one transaction. */
export async function finishOrganize(sql: Sql, job: Job, catalog: Catalog, plan: OrganizePlan, totals: SliceTotals): Promise<{ summary: OrganizeSummary; job: Job | null }> {
  const { direction } = paramsOf(job);
  const rollback = direction === 'rollback';
  const foldersRemoved = rollback ? await removeMadeDirs(await createdDirs(sql, catalog.schema_name, plan.id)) : 0;
  const status: PlanStatus = rollback ? 'rolled_back' : 'applied';
  const duration = secondsSinceStart(job);
  const summary: OrganizeSummary = {
    catalog: { id: catalog.id, name: catalog.name },
    job_id: job.id,
    plan_id: plan.id,
    direction,
    ...totals,
    folders_removed: foldersRemoved,
    duration_s: Math.round(duration * 1000) / 1000,
    files_per_s: Math.round(((totals.done + totals.skipped) / duration) * 10) / 10,
    mb_per_s: Math.round((totals.bytes / 1e6 / duration) * 10) / 10,
    plan_status: status,
  };
  const files = plan.summary.files;
  const progress: JobProgress = {
    done: files, total: files, failed: totals.failed + totals.conflicts, rate: summary.files_per_s, eta_s: 0, stage: 'done',
    bytes_done: totals.bytes, bytes_total: plan.summary.bytes,
  };
  const finished = await withReconnect(() =>
    whileRunning(sql, job.id, job.owner, async (tx) => {
      await setPlanStatus(tx, catalog.schema_name, plan.id, status);
      return finishJob(tx, job.id, 'completed', { result: summary as unknown as Record<string, unknown>, progress });
    }),
  );
  return { summary, job: finished };
}

export interface OrganizeRun {
  sql: Sql;
  job: Job;
  catalog: Catalog;
  signal: AbortSignal;
  progress(p: JobProgress): Promise<void>;
}

/** The whole job in this process (the embedded runner): begin, every slice, finish. */
export async function runOrganize(run: OrganizeRun): Promise<{ summary: OrganizeSummary; job: Job | null } | null> {
  const { sql, job, catalog, signal } = run;
  const plan = await beginOrganize(sql, job, catalog);
  const stage = paramsOf(job).direction;
  const started = Date.now();
  const total = plan.summary.files;
  const totals = emptyTotals();
  let lastReport = 0;
  const report = (slice: SliceTotals) => {
    if (Date.now() - lastReport < 250) return;
    lastReport = Date.now();
    const now = addTotals({ ...totals }, slice);
    const n = now.done + now.failed + now.skipped + now.conflicts;
    const rate = Math.round((n / Math.max(0.001, (Date.now() - started) / 1000)) * 10) / 10;
    void run.progress({
      done: n, total, failed: now.failed + now.conflicts, rate, eta_s: rate > 0 ? Math.round((total - n) / rate) : null, stage,
      bytes_done: now.bytes, bytes_total: plan.summary.bytes,
    });
  };
  const ranges = sliceRanges(total);
  for (const range of stage === 'rollback' ? ranges.reverse() : ranges) {
    addTotals(totals, await organizeSlice({ sql, job, catalog, plan, range, signal, onAction: report }));
    if (signal.aborted) return null;
  }
  return finishOrganize(sql, job, catalog, plan, totals);
}
