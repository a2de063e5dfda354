import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Sql } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { failedAssetsOfJob } from '../db/assets.js';
import { failedActions } from '../db/organize.js';
import { activeJob, activeLocalJobs, finishJob, getJob, insertJob, jobCountsByStatus, listJobs, ONE_ACTIVE_JOB, takeOverJob, type JobFilter } from '../db/jobs.js';
import { eventForJob, type EventBus } from '../events/job-events.js';
import { duplicatesParams, type DuplicatesParams, type DuplicatesSummary } from '../jobs/duplicates.js';
import type { JobExecutor } from '../jobs/executor.js';
import { describeOwner, ownerIsGone } from '../jobs/lease.js';
import { resolveInsideRoots } from '../jobs/paths.js';
import { paramsOf as organizeParamsOf, type OrganizeParams, type OrganizeSummary } from '../jobs/organize.js';
import type { ScanParams, ScanSummary } from '../jobs/scan.js';
import { isUuid, looksLikeUuid, type Catalog } from '../model/catalog.js';
import { isFinal, type Job, type JobProgress, type JobType } from '../model/job.js';
import { UserError } from '../util/errors.js';
import type { CatalogService } from './catalog-service.js';

/** One file a job could not handle. */
export interface JobFailure {
  /** Null for what a scan's discovery could not reach (no asset was made of it). */
  asset_id: number | null;
  path: string;
  code: string;
  message: string;
}

export interface FailurePage {
  items: JobFailure[];
  /** The last asset id (scan) or plan seq (organize) of a full page; null after the last. */
  next_cursor: string | null;
}

export interface JobServiceOptions {
  sql: Sql;
  executor: JobExecutor;
  bus: EventBus;
  catalogs: CatalogService;
  /** The database belongs to this process alone (embedded): every other owner has exited. */
  exclusive: boolean;
  /** How long an owner may go silent before its jobs may be taken over. */
  leaseMs: number;
}

/** What a superseded job's error says, by type: the next run takes its work over. */
const TAKEN_OVER: Record<JobType, string> = {
  scan: 'interrupted before it finished; resumed by job',
  duplicates: 'interrupted before it finished; run again by job',
  organize: 'interrupted before it finished; resumed from its journal by job',
};

type JobParams = ScanParams | DuplicatesParams | OrganizeParams;

/**
 * Jobs, whoever starts them (API, CLI): one lock and lifecycle rule for all. A catalog has at
 * most one queued or running job of each type, across processes and hosts (a unique index keeps
 * it so); a second is refused while the first's owner is alive, and the first is closed as
 * interrupted when its owner is gone. Submitting, running here, reading and cancelling.
 */
export class JobService {
  constructor(private readonly o: JobServiceOptions) {}

  /** A scan of some (by default all) of a catalog's source directories, queued to the executor. */
  async submitScan(catalogRef: string, directories?: string[], shardSize?: number): Promise<Job> {
    const catalog = await this.o.catalogs.get(catalogRef);
    const dirs = directories?.length ? resolveInsideRoots(catalog.source_directories, directories) : catalog.source_directories;
    if (!dirs.length) throw new UserError('the catalog has no source directories to scan');
    return this.#submit(catalog, 'scan', this.#scanParams(dirs, shardSize));
  }

  /** Duplicate detection over a whole catalog, queued to the executor. */
  async submitDuplicates(catalogRef: string, params: Partial<DuplicatesParams> = {}): Promise<Job> {
    const catalog = await this.o.catalogs.get(catalogRef);
    return this.#submit(catalog, 'duplicates', this.#duplicatesParams(params));
  }

  /** An organize plan carried out, or rolled back, queued to the executor. */
  submitOrganize(catalog: Catalog, params: OrganizeParams): Promise<Job> {
    return this.#submit(catalog, 'organize', params);
  }

  /** `lumina organize apply|rollback`: run here and waited for. */
  organizeHere(catalog: Catalog, params: OrganizeParams, onProgress?: (p: JobProgress) => void): Promise<OrganizeSummary> {
    return this.#runHere<OrganizeSummary>(catalog, 'organize', params, onProgress);
  }

  /** `lumina ingest`: the catalog made or extended for these roots, then one scan run here and waited for. */
  async ingestHere(roots: string[], catalogName: string | undefined, onProgress?: (p: JobProgress) => void): Promise<ScanSummary> {
    const full = roots.map((r) => path.resolve(r));
    for (const root of full) if (!fs.existsSync(root)) throw new UserError(`no such directory: ${root}`);
    const folder = path.basename(full[0]!) || 'photos';
    if (catalogName === undefined && looksLikeUuid(folder)) throw new UserError(`the folder name "${folder}" looks like a catalog id: name the catalog with --catalog NAME`);
    const catalog = await this.o.catalogs.ensure(catalogName ?? folder, full);
    return this.#runHere<ScanSummary>(catalog, 'scan', this.#scanParams(full), onProgress);
  }

  /** `lumina dupes`: one duplicates job run here and waited for. */
  async duplicatesHere(catalogRef: string, params: Partial<DuplicatesParams>, onProgress?: (p: JobProgress) => void): Promise<DuplicatesSummary> {
    const catalog = await this.o.catalogs.get(catalogRef);
    return this.#runHere<DuplicatesSummary>(catalog, 'duplicates', this.#duplicatesParams(params), onProgress);
  }

  async get(jobId: string): Promise<Job> {
    const job = await this.find(jobId);
    if (!job) throw new UserError(`no job with id "${jobId}"`, 'not_found');
    return job;
  }

  /** Job ids are UUIDs: any other text finds no job (and never reaches the database as one). */
  async find(jobId: string): Promise<Job | null> {
    return isUuid(jobId) ? getJob(this.o.sql, jobId.toLowerCase()) : null;
  }

  /**
   * The files a job failed on, a page at a time. Scan: the assets it left with status 'error', in
   * id order, and first what discovery could not read (not what it left out on purpose);
   * organize: the plan's failed actions. Other jobs fail on no file.
   */
  async failures(jobId: string, page: { after?: number; limit: number }): Promise<FailurePage> {
    const job = await this.get(jobId);
    const none: FailurePage = { items: [], next_cursor: null };
    if (!job.catalog_id || (job.type !== 'scan' && job.type !== 'organize')) return none;
    const catalog = await this.o.catalogs.get(job.catalog_id).catch((err) => {
      if (err instanceof UserError && err.kind === 'not_found') return null;
      throw err;
    });
    if (!catalog) return none;
    const next = (keys: number[]) => (keys.length === page.limit ? String(keys.at(-1)) : null);
    if (job.type === 'organize') {
      const { plan_id } = organizeParamsOf(job);
      const actions = await failedActions(this.o.sql, catalog.schema_name, plan_id, { afterSeq: page.after, limit: page.limit });
      return {
        items: actions.map((a) => ({ asset_id: a.asset_id, path: a.source_path, code: a.error_code ?? 'failed', message: a.error ?? 'failed' })),
        next_cursor: next(actions.map((a) => a.seq)),
      };
    }
    const assets = await failedAssetsOfJob(this.o.sql, catalog.schema_name, job.id, { afterId: page.after, limit: page.limit });
    const items: JobFailure[] = [];
    if (page.after === undefined) {
      const problems = (job.result?.problems ?? []) as { path: string; message: string; code?: string; skipped?: boolean }[];
      for (const p of problems) if (!p.skipped) items.push({ asset_id: null, path: p.path, code: p.code ?? 'unreadable', message: p.message });
    }
    for (const a of assets) items.push({ asset_id: a.id, path: a.path, code: a.error_code ?? 'failed', message: a.error ?? 'failed' });
    return { items, next_cursor: next(assets.map((a) => a.id)) };
  }

  list(filter: JobFilter): Promise<Job[]> {
    return listJobs(this.o.sql, filter);
  }

  countsByStatus(): Promise<{ status: string; n: number; failed: number }[]> {
    return jobCountsByStatus(this.o.sql);
  }

  async cancel(jobId: string): Promise<Job> {
    if (!isUuid(jobId)) throw new UserError(`no job with id "${jobId}"`, 'not_found');
    const cancelled = await finishJob(this.o.sql, jobId, 'cancelled', { error: 'cancelled by request', errorCode: 'cancelled' });
    if (!cancelled) {
      const job = await this.get(jobId);
      throw new UserError(`job ${jobId} is already ${job.status}`, 'conflict');
    }
    // The owner, wherever it runs, sees the job end at its next lease renewal; this process's work stops now.
    await this.o.executor.cancel(jobId);
    this.o.bus.publish(eventForJob(cancelled));
    return cancelled;
  }

  /**
   * Every queued or running job of the catalog, cancelled, and (where this process runs it) its
   * work stopped: what a catalog's deletion waits for, so no file is written after it.
   */
  async cancelAllOf(catalogId: string): Promise<void> {
    for (const status of ['queued', 'running'] as const) {
      for (const j of await this.list({ catalogId, status, limit: 500 })) {
        await this.cancel(j.id).catch((err) => {
          if (!(err instanceof UserError && err.kind === 'conflict')) throw err;
        });
        await this.o.executor.settle?.(j.id, 60_000);
      }
    }
  }

  /**
   * Local jobs whose owner is gone (a server or ingest that was stopped or killed), taken over by
   * this process's executor and started again: their writes are idempotent.
   */
  async resumeOrphans(): Promise<Job[]> {
    const owner = this.o.executor.owner;
    if (!owner) return [];
    const resumed: Job[] = [];
    for (const job of await activeLocalJobs(this.o.sql)) {
      if (!ownerIsGone(job, { self: owner, exclusive: this.o.exclusive })) continue;
      const mine = await takeOverJob(this.o.sql, job.id, job.owner, owner, this.o.leaseMs);
      const catalog = mine?.catalog_id ? await this.o.catalogs.find(mine.catalog_id) : null;
      if (!mine || !catalog) continue;
      await this.o.executor.submit(mine, catalog);
      resumed.push(mine);
    }
    return resumed;
  }

  #scanParams(directories: string[], shardSize?: number): ScanParams {
    return { directories: [...new Set(directories)], runner: this.#runner(), ...(shardSize ? { shard_size: shardSize } : {}) };
  }

  #duplicatesParams(params: Partial<DuplicatesParams>): DuplicatesParams {
    return duplicatesParams(params, this.#runner());
  }

  #runner() {
    return this.o.executor.mode === 'cluster' ? ('cluster' as const) : ('local' as const);
  }

  async #submit(catalog: Catalog, type: JobType, params: JobParams): Promise<Job> {
    const job = await this.#create(catalog, type, params);
    await this.o.executor.submit(job, catalog);
    this.o.bus.publish(eventForJob(job));
    return job;
  }

  async #runHere<T>(catalog: Catalog, type: JobType, params: JobParams, onProgress?: (p: JobProgress) => void): Promise<T> {
    const run = this.o.executor.run?.bind(this.o.executor);
    if (!run) throw new Error('this executor cannot run a job in this process');
    const job = await this.#create(catalog, type, params);
    const unsubscribe = this.o.bus.subscribe((e) => {
      if (e.job_id === job.id && e.type === 'job_progress') onProgress?.(e.progress);
    });
    try {
      const result = (await run(job, catalog)) as T | null;
      if (!result) throw new UserError(`job ${job.id} was cancelled`);
      return result;
    } finally {
      unsubscribe();
    }
  }

  /**
   * The job's row, queued and owned by the executor. A catalog's active job of the same type
   * refuses it while its owner lives; one whose owner is gone is closed as interrupted first.
   */
  async #create(catalog: Catalog, type: JobType, params: JobParams): Promise<Job> {
    const id = randomUUID();
    const owner = this.o.executor.owner;
    for (let attempt = 0; ; attempt++) {
      try {
        return await insertJob(this.o.sql, { id, catalogId: catalog.id, type, params: params as unknown as Record<string, unknown>, owner, leaseMs: this.o.leaseMs });
      } catch (err) {
        if (!isUniqueViolation(err, ONE_ACTIVE_JOB) || attempt >= 3) throw err;
      }
      const active = await activeJob(this.o.sql, catalog.id, type);
      // Ended meanwhile: the slot is free again.
      if (!active || isFinal(active.status)) continue;
      if (!ownerIsGone(active, { self: owner ?? '', exclusive: this.o.exclusive })) throw busy(catalog, type, active, owner);
      await finishJob(this.o.sql, active.id, 'failed', { error: `${TAKEN_OVER[type]} ${id}`, errorCode: 'interrupted' });
    }
  }
}

/** The refusal of a second job of a type on one catalog: HTTP 409, exit code 2. */
function busy(catalog: Catalog, type: JobType, active: Job, self: string | null): UserError {
  const what = {
    scan: `catalog "${catalog.name}" is being scanned`,
    duplicates: `duplicates of catalog "${catalog.name}" are being searched`,
    organize: `catalog "${catalog.name}" is being organized (or a plan rolled back)`,
  }[type];
  const where = active.owner && active.owner === self ? 'by this process' : `by another lumina process (${describeOwner(active.owner)})`;
  return new UserError(`${what} ${where}: job ${active.id} is ${active.status}; wait for it to finish or cancel it`, 'conflict');
}
