import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from '../db/database.js';
import { countActions, getPlan, insertPlan, listActions, listPlans, loadPlanInput, planCatalogId, type StoredAction } from '../db/organize.js';
import { checkAbsolute } from '../jobs/paths.js';
import type { OrganizeDirection, OrganizeSummary } from '../jobs/organize.js';
import { isUuid, type Catalog } from '../model/catalog.js';
import type { Job, JobProgress } from '../model/job.js';
import {
  DEFAULT_MIN_CONFIDENCE,
  DEFAULT_TEMPLATE,
  DUPLICATE_POLICIES,
  ORGANIZE_MODES,
  type DuplicatePolicy,
  type OrganizeMode,
  type OrganizePlan,
  type PlanOptions,
  type PlanSummary,
} from '../model/organize.js';
import { duplicateLosers, foldName, formUnits, planActions, SIDECAR_EXTS, type Sidecar } from '../organize/plan.js';
import { MAX_SEGMENT_BYTES, parseTemplate } from '../organize/template.js';
import { hashBounded } from '../pipeline/safe-read.js';
import { isInside, realLocation } from '../pipeline/real-paths.js';
import { UserError } from '../util/errors.js';
import type { CatalogService } from './catalog-service.js';
import type { JobService } from './job-service.js';

export interface PlanRequest {
  dest: string;
  mode?: OrganizeMode;
  template?: string;
  duplicates?: DuplicatePolicy;
  minConfidence?: number;
}

/** Longest path Linux takes (PATH_MAX, with its NUL). */
const MAX_PATH_BYTES = 4095;

/**
 * Organize: plans (made from the catalog, changing no file), their actions, and the jobs that
 * apply or roll them back. Every rule of a plan lives here and in src/organize; the CLI, the API
 * and the queue call this.
 */
export class OrganizeService {
  constructor(
    private readonly sql: Sql,
    private readonly catalogs: CatalogService,
    private readonly jobs: JobService,
  ) {}

  static options(req: PlanRequest): PlanOptions {
    const mode = req.mode ?? 'copy';
    if (!ORGANIZE_MODES.includes(mode)) throw new UserError(`--mode must be one of ${ORGANIZE_MODES.join(', ')}, got "${mode}"`);
    const duplicates = req.duplicates ?? 'quarantine';
    if (!DUPLICATE_POLICIES.includes(duplicates)) throw new UserError(`--duplicates must be one of ${DUPLICATE_POLICIES.join(', ')}, got "${duplicates}"`);
    const minConfidence = req.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
    if (!Number.isInteger(minConfidence) || minConfidence < 0 || minConfidence > 100) throw new UserError(`--min-confidence must be a whole number from 0 to 100, got ${minConfidence}`);
    return { dest: checkAbsolute(req.dest, 'the destination (--dest)'), mode, template: req.template ?? DEFAULT_TEMPLATE, duplicates, minConfidence };
  }

  /** Makes a plan and stores it; no file is changed (a probe file in DEST is made and removed). */
  async plan(catalogRef: string, req: PlanRequest): Promise<{ plan: OrganizePlan; catalog: Catalog }> {
    const catalog = await this.catalogs.get(catalogRef);
    const options = OrganizeService.options(req);
    const template = parseTemplate(options.template);
    const dest = realLocation(options.dest);
    for (const root of catalog.source_directories.map(realLocation)) {
      if (isInside(dest, root)) throw new UserError(`the destination ${options.dest} is inside the source directory ${root}: choose a folder outside the archive`, 'invalid', 'dest_inside_source');
      if (isInside(root, dest)) throw new UserError(`the source directory ${root} is inside the destination ${options.dest}: choose a folder that holds no part of the archive`, 'invalid', 'dest_inside_source');
    }
    const probe = await probeDest(options.dest);

    const { assets, groups } = await loadPlanInput(this.sql, catalog.schema_name);
    const sidecars = await findSidecars(assets.map((a) => a.path));
    const units = formUnits(assets, sidecars);
    const losers = duplicateLosers(groups);
    // The folders units go to, from a first pass; then the names already in each, read once per folder.
    const listing = new Map<string, Set<string>>();
    const { actions: firstPass } = planActions({ units, options, template, roots: catalog.source_directories, losers, existing: () => new Set() });
    for (const dir of new Set(firstPass.filter((a) => a.target).map((a) => path.dirname(a.target!)))) {
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      listing.set(path.relative(options.dest, dir) || '.', new Set(names.map(foldName)));
    }
    const { actions, conflicts, undated } = planActions({
      units,
      options,
      template,
      roots: catalog.source_directories,
      losers,
      existing: (dirRel) => listing.get(path.normalize(dirRel) || '.') ?? new Set(),
    });

    for (const a of actions) {
      if (!a.target) continue;
      if (Buffer.byteLength(a.target) > MAX_PATH_BYTES) throw new UserError(`the target of ${a.source} would be longer than ${MAX_PATH_BYTES} bytes: use a shorter --dest or template`, 'invalid', 'path_too_long');
      for (const seg of path.relative(options.dest, a.target).split('/')) {
        if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw new UserError(`a name in the target of ${a.source} is longer than ${MAX_SEGMENT_BYTES} bytes`, 'invalid', 'path_too_long');
      }
    }
    const moving = actions.filter((a) => a.kind !== 'skip');
    let toWrite = 0;
    for (const a of moving) if (options.mode === 'copy' || (await fs.stat(a.source).then((st) => st.dev !== probe.dev, () => true))) toWrite += a.size;
    if (toWrite > probe.free) {
      throw new UserError(`not enough free space on ${options.dest}: ${(toWrite / 1e9).toFixed(2)} GB to write, ${(probe.free / 1e9).toFixed(2)} GB free`, 'invalid', 'no_space');
    }
    const summary: PlanSummary = {
      files: actions.length,
      bytes: moving.reduce((n, a) => n + a.size, 0),
      placed: actions.filter((a) => a.kind === 'place').length,
      duplicates: actions.filter((a) => a.note?.startsWith('a duplicate')).length,
      undated,
      conflicts,
      sidecars: actions.filter((a) => a.role === 'sidecar').length,
      skipped: actions.filter((a) => a.kind === 'skip').length,
      bytes_to_write: toWrite,
      case_sensitive: probe.caseSensitive,
    };
    const id = randomUUID();
    await insertPlan(this.sql, catalog.schema_name, { id, catalogId: catalog.id, dest: options.dest, mode: options.mode, template: options.template, duplicates: options.duplicates, minConfidence: options.minConfidence, summary }, actions);
    return { plan: (await this.get(id)).plan, catalog };
  }

  /** A plan by its id alone (ids are unique across catalogs). */
  async get(planId: string): Promise<{ plan: OrganizePlan; catalog: Catalog }> {
    const missing = () => new UserError(`no organize plan with id "${planId}"`, 'not_found');
    if (!isUuid(planId)) throw missing();
    const catalogId = await planCatalogId(this.sql, planId.toLowerCase());
    const catalog = catalogId ? await this.catalogs.find(catalogId) : null;
    const row = catalog ? await getPlan(this.sql, catalog.schema_name, planId.toLowerCase()) : null;
    if (!catalog || !row) throw missing();
    return { plan: { ...row, catalog_id: catalog.id }, catalog };
  }

  async list(catalogRef: string): Promise<{ catalog: Catalog; plans: OrganizePlan[] }> {
    const catalog = await this.catalogs.get(catalogRef);
    return { catalog, plans: (await listPlans(this.sql, catalog.schema_name)).map((p) => ({ ...p, catalog_id: catalog.id })) };
  }

  async actions(planId: string, page: { afterSeq?: number; limit: number }): Promise<StoredAction[]> {
    const { catalog } = await this.get(planId);
    return listActions(this.sql, catalog.schema_name, planId.toLowerCase(), page);
  }

  /** Actions by kind and state, for show and the API. */
  async counts(planId: string) {
    const { catalog } = await this.get(planId);
    return countActions(this.sql, catalog.schema_name, planId.toLowerCase());
  }

  /** Queues apply or rollback on the executor (the API). */
  async submit(planId: string, direction: OrganizeDirection): Promise<Job> {
    const { plan, catalog } = await this.#startable(planId, direction);
    return this.jobs.submitOrganize(catalog, { plan_id: plan.id, direction });
  }

  /** Runs apply or rollback here and waits (the CLI). */
  async runHere(planId: string, direction: OrganizeDirection, onProgress?: (p: JobProgress) => void): Promise<OrganizeSummary> {
    const { plan, catalog } = await this.#startable(planId, direction);
    return this.jobs.organizeHere(catalog, { plan_id: plan.id, direction }, onProgress);
  }

  async #startable(planId: string, direction: OrganizeDirection) {
    const found = await this.get(planId);
    const s = found.plan.status;
    if (direction === 'apply' && (s === 'rolling_back' || s === 'rolled_back')) {
      throw new UserError(`plan ${found.plan.id} was rolled back${s === 'rolling_back' ? ' (in part)' : ''}: make a new plan`, 'conflict');
    }
    if (direction === 'rollback' && s === 'planned') throw new UserError(`plan ${found.plan.id} was never applied: nothing to roll back`, 'conflict');
    return found;
  }
}

/**
 * What DEST allows: a write probe (a file made and removed in DEST, or in its nearest existing
 * parent), whether it tells names apart by case, its free space and its device.
 */
async function probeDest(dest: string): Promise<{ free: number; caseSensitive: boolean; dev: number }> {
  let dir = dest;
  while (!(await fs.stat(dir).then((s) => s.isDirectory(), () => false))) {
    if (path.dirname(dir) === dir) throw new UserError(`the destination ${dest} has no existing parent folder`);
    dir = path.dirname(dir);
  }
  const probe = path.join(dir, `.lumina-probe-${randomUUID().slice(0, 8)}-a`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    throw new UserError(`cannot write in ${dir} (for ${dest}): ${(err as Error).message}`, 'invalid', 'dest_not_writable');
  }
  try {
    const caseSensitive = !(await fs.stat(probe.replace(/-a$/, '-A')).then(() => true, () => false));
    const st = await fs.statfs(dir);
    return { free: Number(st.bavail) * Number(st.bsize), caseSensitive, dev: (await fs.stat(dir)).dev };
  } finally {
    await fs.rm(probe, { force: true });
  }
}

/** The sidecar files (by extension) in the folders of these files, each hashed: one listing per folder. */
async function findSidecars(files: string[]): Promise<Map<string, Sidecar[]>> {
  const out = new Map<string, Sidecar[]>();
  for (const dir of new Set(files.map((f) => path.dirname(f)))) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const found: Sidecar[] = [];
    for (const name of names.sort()) {
      if (!SIDECAR_EXTS.includes(path.extname(name).slice(1).toLowerCase())) continue;
      const file = path.join(dir, name);
      const st = await fs.stat(file).catch(() => null);
      if (!st?.isFile()) continue;
      const sha256 = await hashBounded(file, st.size).catch(() => null);
      if (sha256) found.push({ path: file, size: st.size, mtime: new Date(Math.floor(st.mtimeMs)), sha256 });
    }
    if (found.length) out.set(dir, found);
  }
  return out;
}
