import type { Catalog } from '../db/catalogs.js';
import { findCatalog } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { createJob, finishJob, getJob, listJobs, type Job, type JobFilter } from '../db/jobs.js';
import { eventForJob, type EventBus } from '../events/job-events.js';
import { UserError } from '../util/errors.js';
import type { JobExecutor } from './executor.js';
import { resolveInsideRoots } from './paths.js';
import type { ScanParams } from './scan.js';
import { duplicatesParams, type DuplicatesParams } from './duplicates.js';

/** Submitting, reading and cancelling jobs: what the API and the CLI share. */
export class JobService {
  constructor(
    private readonly sql: Sql,
    private readonly executor: JobExecutor,
    private readonly bus: EventBus,
  ) {}

  async catalog(id: string): Promise<Catalog> {
    const c = await findCatalog(this.sql, id);
    if (!c) throw new UserError(`no catalog with id "${id}"`, 'not_found');
    return c;
  }

  /** A scan of some (by default all) of a catalog's source directories. */
  async submitScan(catalogId: string, directories?: string[], shardSize?: number): Promise<Job> {
    const catalog = await this.catalog(catalogId);
    const dirs = directories?.length ? resolveInsideRoots(catalog.source_directories, directories) : catalog.source_directories;
    if (!dirs.length) throw new UserError('the catalog has no source directories to scan');
    const params: ScanParams = {
      directories: [...new Set(dirs)],
      runner: this.executor.mode === 'cluster' ? 'cluster' : 'local',
      ...(shardSize ? { shard_size: shardSize } : {}),
    };
    const job = await createJob(this.sql, catalog.id, 'scan', params as unknown as Record<string, unknown>, 'queued');
    await this.executor.submit(job, catalog);
    this.bus.publish(eventForJob(job));
    return job;
  }

  /** Duplicate detection over a whole catalog. */
  async submitDuplicates(catalogId: string, params: Partial<DuplicatesParams> = {}): Promise<Job> {
    const catalog = await this.catalog(catalogId);
    const full = duplicatesParams(params, this.executor.mode === 'cluster' ? 'cluster' : 'local');
    const job = await createJob(this.sql, catalog.id, 'duplicates', full as unknown as Record<string, unknown>, 'queued');
    await this.executor.submit(job, catalog);
    this.bus.publish(eventForJob(job));
    return job;
  }

  async get(jobId: string): Promise<Job> {
    const job = await getJob(this.sql, jobId);
    if (!job) throw new UserError(`no job with id "${jobId}"`, 'not_found');
    return job;
  }

  list(filter: JobFilter): Promise<Job[]> {
    return listJobs(this.sql, filter);
  }

  async cancel(jobId: string): Promise<Job> {
    const cancelled = await finishJob(this.sql, jobId, 'cancelled', { error: 'cancelled by request' });
    if (!cancelled) {
      const job = await this.get(jobId);
      throw new UserError(`job ${jobId} is already ${job.status}`, 'conflict');
    }
    await this.executor.cancel(jobId);
    this.bus.publish(eventForJob(cancelled));
    return cancelled;
  }
}
