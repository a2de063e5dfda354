import type { Sql } from '../db/database.js';
import { finishJob, whileRunning } from '../db/jobs.js';
import { actionsToUndo, createdDirs, getPlan, recordCreatedDir, recordStep, setOrganizedDirectory, setPlanStatus, unfinishedActions, type StoredAction } from '../db/organize.js';
import { withReconnect } from '../db/retry.js';
import type { Catalog } from '../model/catalog.js';
import type { Job, JobProgress } from '../model/job.js';
import type { OrganizeJobParams, PlanStatus } from '../model/organize.js';
import { applyAction, removeMadeDirs, undoAction, type ActionContext, type Journal } from '../organize/apply.js';
import { UserError } from '../util/errors.js';

/**
 * The organize job: a plan's actions carried out (apply) or undone (rollback), resumable from the
 * journal at any point. The embedded runner and a queue worker run the same function.
 */

export type OrganizeDirection = 'apply' | 'rollback';
export interface OrganizeParams extends OrganizeJobParams {
  direction: OrganizeDirection;
}

export interface OrganizeSummary {
  catalog: { id: string; name: string };
  job_id: string;
  plan_id: string;
  direction: OrganizeDirection;
  /** Actions this run finished (those done by an earlier, interrupted run are not counted again). */
  done: number;
  failed: number;
  skipped: number;
  /** Rollback: files kept where they are because something else was in the way. */
  conflicts: number;
  bytes: number;
  folders_removed: number;
  duration_s: number;
  files_per_s: number;
  mb_per_s: number;
  plan_status: PlanStatus;
}

/** Files in flight at once: copies are I/O bound, and a few streams keep a disk busy. */
const LANES = 4;
const PAGE = 500;

export interface OrganizeRun {
  sql: Sql;
  job: Job;
  catalog: Catalog;
  signal: AbortSignal;
  progress(p: JobProgress): Promise<void>;
}

export async function runOrganize(run: OrganizeRun): Promise<{ summary: OrganizeSummary; job: Job | null } | null> {
  const { sql, job, catalog, signal } = run;
  const params = job.params as unknown as OrganizeParams;
  const schema = catalog.schema_name;
  const plan = await getPlan(sql, schema, params.plan_id);
  if (!plan) throw new UserError(`no organize plan ${params.plan_id} in catalog "${catalog.name}"`, 'not_found');
  const rollback = params.direction === 'rollback';
  await setPlanStatus(sql, schema, plan.id, rollback ? 'rolling_back' : 'applying');
  if (!rollback) await setOrganizedDirectory(sql, catalog.id, plan.dest);

  const journal: Journal = {
    step: (a, change) => withReconnect(() => recordStep(sql, schema, a.id, change)),
    madeDir: (dir) => withReconnect(() => recordCreatedDir(sql, schema, plan.id, dir)),
  };
  const ctx: ActionContext = { mode: plan.mode, planId: plan.id, journal };
  const started = Date.now();
  const total = plan.summary.files;
  const totals = { done: 0, failed: 0, skipped: 0, conflicts: 0, bytes: 0 };
  const report = (stage: string) => {
    const s = (Date.now() - started) / 1000;
    const n = totals.done + totals.failed + totals.skipped + totals.conflicts;
    const rate = s > 0 ? Math.round((n / s) * 10) / 10 : 0;
    return run.progress({
      done: n, total, failed: totals.failed + totals.conflicts, rate, eta_s: rate > 0 ? Math.round((total - n) / rate) : null, stage,
      bytes_done: totals.bytes, bytes_total: plan.summary.bytes,
    });
  };
  let lastReport = 0;
  const tick = async (stage: string) => {
    if (Date.now() - lastReport < 250) return;
    lastReport = Date.now();
    await report(stage);
  };

  // Pages of what is left, worked on by a few lanes; each action is independent (names were settled in the plan).
  let cursor = rollback ? 2 ** 31 - 1 : -1;
  for (;;) {
    if (signal.aborted) return null;
    const page: StoredAction[] = rollback ? await actionsToUndo(sql, schema, plan.id, cursor, PAGE) : await unfinishedActions(sql, schema, plan.id, cursor, PAGE);
    if (!page.length) break;
    cursor = page.at(-1)!.seq;
    let next = 0;
    const lane = async () => {
      while (next < page.length && !signal.aborted) {
        const a = page[next++]!;
        if (rollback) {
          const out = await undoAction(a, ctx);
          if (out === 'conflict') totals.conflicts++;
          else totals.done++;
        } else {
          const out = await applyAction(a, ctx);
          totals[out === 'done' ? 'done' : out === 'failed' ? 'failed' : 'skipped']++;
          if (out === 'done') totals.bytes += a.size;
        }
        await tick(rollback ? 'rollback' : 'apply');
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    // Rollback goes last first: one lane finishes its page before the next older page starts.
  }
  if (signal.aborted) return null;

  const foldersRemoved = rollback ? await removeMadeDirs(await createdDirs(sql, schema, plan.id)) : 0;
  const status: PlanStatus = rollback ? 'rolled_back' : 'applied';
  const duration = (Date.now() - started) / 1000;
  const summary: OrganizeSummary = {
    catalog: { id: catalog.id, name: catalog.name },
    job_id: job.id,
    plan_id: plan.id,
    direction: params.direction,
    ...totals,
    folders_removed: foldersRemoved,
    duration_s: Math.round(duration * 1000) / 1000,
    files_per_s: duration > 0 ? Math.round(((totals.done + totals.skipped) / duration) * 10) / 10 : 0,
    mb_per_s: duration > 0 ? Math.round((totals.bytes / 1e6 / duration) * 10) / 10 : 0,
    plan_status: status,
  };
  await report('done');
  const progress: JobProgress = { done: total, total, failed: totals.failed + totals.conflicts, rate: summary.files_per_s, eta_s: 0, stage: 'done' };
  const finished = await withReconnect(() =>
    whileRunning(sql, job.id, job.owner, async (tx) => {
      await setPlanStatus(tx, schema, plan.id, status);
      return finishJob(tx, job.id, 'completed', { result: summary as unknown as Record<string, unknown>, progress });
    }),
  );
  return { summary, job: finished };
}
