import fs from 'node:fs/promises';
import path from 'node:path';
import { countAssets } from '../db/assets.js';
import { deleteCatalog, findCatalogById, findCatalogByName, insertCatalog, listCatalogs, updateCatalog, type CatalogFields } from '../db/catalogs.js';
import type { Sql } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { checkAbsolute } from '../jobs/paths.js';
import { isUuid, legacyEmbedInputDir, looksLikeUuid, thumbnailDir, type Catalog } from '../model/catalog.js';
import { UserError } from '../util/errors.js';

export interface CatalogInput {
  name: string;
  sourceDirectories: string[];
  organizedDirectory?: string | null;
  settings?: Record<string, unknown>;
}

export type CatalogPatch = Partial<CatalogInput>;

/** What a directory given by a caller must be; the CLI resolves relative ones before this. */
export type DirectoryRule = 'absolute' | 'resolve';

/**
 * Catalogs: the rules of their names and directories, lookups by id or name (never one for the
 * other), and deletion, which first stops the catalog's jobs.
 */
export class CatalogService {
  constructor(
    private readonly sql: Sql,
    private readonly dataDir: string,
    /** Cancels the catalog's queued and running jobs (the job service's rule, called before a delete). */
    private readonly cancelJobsOf: (catalogId: string) => Promise<void>,
  ) {}

  /** A catalog name as stored: trimmed, 1 to 200 printable characters, and never a UUID. */
  static checkName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed) throw new UserError('a catalog name may not be empty');
    if (trimmed.length > 200) throw new UserError('a catalog name may be at most 200 characters');
    if (/[\u0000-\u001f]/.test(trimmed)) throw new UserError('a catalog name may not contain control characters');
    if (looksLikeUuid(trimmed)) throw new UserError(`a catalog name may not look like a catalog id (a UUID), got "${trimmed}"`);
    return trimmed;
  }

  static directories(dirs: string[], rule: DirectoryRule): string[] {
    const checked = dirs.map((d) => (rule === 'absolute' ? checkAbsolute(d, 'a source directory') : path.resolve(d)));
    return [...new Set(checked)];
  }

  async create(input: CatalogInput, rule: DirectoryRule = 'absolute'): Promise<Catalog> {
    const fields: CatalogFields = {
      name: CatalogService.checkName(input.name),
      sourceDirectories: CatalogService.directories(input.sourceDirectories, rule),
      organizedDirectory: input.organizedDirectory ? checkAbsolute(input.organizedDirectory, 'the organized directory') : null,
      settings: input.settings ?? {},
    };
    try {
      return await insertCatalog(this.sql, fields);
    } catch (err) {
      if (isUniqueViolation(err)) throw new UserError(`a catalog named "${fields.name}" already exists`, 'conflict');
      throw err;
    }
  }

  list(): Promise<Catalog[]> {
    return listCatalogs(this.sql);
  }

  /** By id when the text is a UUID, else by name: an id never matches a name. */
  find(ref: string): Promise<Catalog | null> {
    return isUuid(ref) ? findCatalogById(this.sql, ref.toLowerCase()) : findCatalogByName(this.sql, ref.trim());
  }

  async get(ref: string): Promise<Catalog> {
    const catalog = await this.find(ref);
    if (catalog) return catalog;
    throw new UserError(isUuid(ref) ? `no catalog with id "${ref}"` : `no catalog named "${ref}" (see: lumina catalog list)`, 'not_found');
  }

  /** Changes the given fields only. */
  async update(ref: string, patch: CatalogPatch): Promise<Catalog> {
    const c = await this.get(ref);
    const fields: CatalogFields = {
      name: patch.name !== undefined ? CatalogService.checkName(patch.name) : c.name,
      sourceDirectories: patch.sourceDirectories ? CatalogService.directories(patch.sourceDirectories, 'absolute') : c.source_directories,
      organizedDirectory:
        patch.organizedDirectory === undefined ? c.organized_directory : patch.organizedDirectory && checkAbsolute(patch.organizedDirectory, 'the organized directory'),
      settings: patch.settings ?? c.settings,
    };
    try {
      const row = await updateCatalog(this.sql, c.id, fields);
      if (!row) throw new UserError(`no catalog with id "${c.id}"`, 'not_found');
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new UserError(`a catalog named "${fields.name}" already exists`, 'conflict');
      throw err;
    }
  }

  /**
   * The catalog an ingest of these roots goes into: found by name (or id), its roots extended by
   * any new ones; created when there is none.
   */
  async ensure(ref: string, roots: string[]): Promise<Catalog> {
    const existing = await this.find(ref);
    // An id names an existing catalog; a new one needs a name.
    if (!existing && isUuid(ref)) throw new UserError(`no catalog with id "${ref}" (see: lumina catalog list)`, 'not_found');
    if (!existing) return this.create({ name: ref, sourceDirectories: roots }, 'resolve');
    const merged = CatalogService.directories([...existing.source_directories, ...roots], 'resolve');
    if (merged.length === existing.source_directories.length) return existing;
    return (await updateCatalog(this.sql, existing.id, { ...fieldsOf(existing), sourceDirectories: merged })) ?? existing;
  }

  /** Asset counts by status. */
  counts(catalog: Catalog): Promise<Record<string, number>> {
    return countAssets(this.sql, catalog.schema_name);
  }

  /** Cancels its jobs, drops its schema, then its thumbnails and CNN inputs; never touches the photos. */
  async delete(ref: string): Promise<Catalog> {
    const c = await this.get(ref);
    await this.cancelJobsOf(c.id);
    await deleteCatalog(this.sql, c);
    await this.#removeFiles(c.id);
    return c;
  }

  /**
   * Thumbnails (and CNN inputs earlier versions left) of catalogs that no longer exist: a job
   * running in another process when its catalog was deleted may have written a last few.
   * Removed when a server starts.
   */
  async sweepOrphanedFiles(): Promise<string[]> {
    const known = new Set((await this.list()).map((c) => c.id));
    const swept = new Set<string>();
    for (const dir of [thumbnailDir(this.dataDir, ''), legacyEmbedInputDir(this.dataDir, '')]) {
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      for (const name of names) if (isUuid(name) && !known.has(name)) swept.add(name);
    }
    for (const id of swept) await this.#removeFiles(id);
    return [...swept];
  }

  async #removeFiles(catalogId: string): Promise<void> {
    // A writer finishing its last file may add one as the folder goes: rm retries ENOTEMPTY.
    const gone = { recursive: true, force: true, maxRetries: 5, retryDelay: 200 };
    await fs.rm(thumbnailDir(this.dataDir, catalogId), gone);
    await fs.rm(legacyEmbedInputDir(this.dataDir, catalogId), gone);
  }
}

function fieldsOf(c: Catalog): CatalogFields {
  return { name: c.name, sourceDirectories: c.source_directories, organizedDirectory: c.organized_directory, settings: c.settings };
}
