import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import type { Sql } from './database.js';
import { migrateCatalogSchema, quoteSchema } from './migrate.js';

export interface Catalog {
  id: string;
  name: string;
  schema_name: string;
  source_directories: string[];
  organized_directory: string | null;
  settings: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

const CATALOG_COLUMNS = ['id', 'name', 'schema_name', 'source_directories', 'organized_directory', 'settings', 'created_at', 'updated_at'] as const;

export function validateCatalogName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw new UserError('a catalog name may not be empty');
  if (trimmed.length > 200) throw new UserError('a catalog name may be at most 200 characters');
  if (/[\u0000-\u001f]/.test(trimmed)) throw new UserError('a catalog name may not contain control characters');
  return trimmed;
}

/** Creates the catalog row and its schema in one transaction, so neither exists without the other. */
export async function createCatalog(
  sql: Sql,
  input: { name: string; sourceDirectories: string[]; organizedDirectory?: string | null; settings?: Record<string, unknown> },
): Promise<Catalog> {
  const name = validateCatalogName(input.name);
  const id = randomUUID();
  const schemaName = `catalog_${id.replace(/-/g, '')}`;
  const dirs = [...new Set(input.sourceDirectories.map((d) => path.resolve(d)))];
  try {
    return await sql.begin(async (tx) => {
      const [row] = await tx<Catalog[]>`
        insert into public.catalogs (id, name, schema_name, source_directories, organized_directory, settings)
        values (${id}, ${name}, ${schemaName}, ${dirs}, ${input.organizedDirectory ?? null}, ${tx.json((input.settings ?? {}) as never)})
        returning ${tx(CATALOG_COLUMNS)}`;
      await migrateCatalogSchema(tx as unknown as Sql, schemaName, 0);
      return row!;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new UserError(`a catalog named "${name}" already exists`, 'conflict');
    throw err;
  }
}

export async function listCatalogs(sql: Sql): Promise<Catalog[]> {
  return sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs order by name`;
}

/** By name, or by id when the text is a uuid. */
export async function findCatalog(sql: Sql, nameOrId: string): Promise<Catalog | null> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId);
  const rows = isUuid
    ? await sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs where id = ${nameOrId} or name = ${nameOrId}`
    : await sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs where name = ${nameOrId}`;
  return rows[0] ?? null;
}

export async function getCatalog(sql: Sql, nameOrId: string): Promise<Catalog> {
  const catalog = await findCatalog(sql, nameOrId);
  if (!catalog) throw new UserError(`no catalog named "${nameOrId}" (see: lumina catalog list)`, 'not_found');
  return catalog;
}

/** Adds directories to a catalog's roots (ingest of a new folder into an existing catalog). */
export async function addSourceDirectories(sql: Sql, catalog: Catalog, dirs: string[]): Promise<Catalog> {
  const merged = [...new Set([...catalog.source_directories, ...dirs.map((d) => path.resolve(d))])];
  if (merged.length === catalog.source_directories.length) return catalog;
  const [row] = await sql<Catalog[]>`
    update public.catalogs set source_directories = ${merged}, updated_at = now()
    where id = ${catalog.id} returning ${sql(CATALOG_COLUMNS)}`;
  return row!;
}

export interface CatalogPatch {
  name?: string;
  sourceDirectories?: string[];
  organizedDirectory?: string | null;
  settings?: Record<string, unknown>;
}

/** Changes the given fields only. */
export async function updateCatalog(sql: Sql, catalog: Catalog, patch: CatalogPatch): Promise<Catalog> {
  const name = patch.name !== undefined ? validateCatalogName(patch.name) : catalog.name;
  const dirs = patch.sourceDirectories ? [...new Set(patch.sourceDirectories.map((d) => path.resolve(d)))] : catalog.source_directories;
  const organized = patch.organizedDirectory !== undefined ? patch.organizedDirectory : catalog.organized_directory;
  const settings = patch.settings ?? catalog.settings;
  try {
    const [row] = await sql<Catalog[]>`
      update public.catalogs set name = ${name}, source_directories = ${dirs}, organized_directory = ${organized},
        settings = ${sql.json(settings as never)}, updated_at = now()
      where id = ${catalog.id} returning ${sql(CATALOG_COLUMNS)}`;
    if (!row) throw new UserError(`no catalog with id "${catalog.id}"`, 'not_found');
    return row;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new UserError(`a catalog named "${name}" already exists`, 'conflict');
    throw err;
  }
}

/** Drops the schema and its rows, then the thumbnails; jobs go with the catalog (cascade). */
export async function deleteCatalog(sql: Sql, catalog: Catalog, dataDir: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe(`drop schema if exists ${quoteSchema(catalog.schema_name)} cascade`);
    await tx`delete from public.catalogs where id = ${catalog.id}`;
  });
  await fs.rm(thumbnailDir(dataDir, catalog.id), { recursive: true, force: true });
  await fs.rm(embedInputDir(dataDir, catalog.id), { recursive: true, force: true });
}

/**
 * Where ingest leaves each picture's CNN input (224×224 RGB, cut from the pixels it decoded
 * anyway) for the embed stage, which removes each once embedded. Null when the catalog's
 * settings turn embeddings off.
 */
export function embedInputDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'embed-input', catalogId);
}

export interface OutputDirs {
  thumbnails: string;
  embedInputs: string | null;
}

export function outputDirs(dataDir: string, catalog: Catalog): OutputDirs {
  return {
    thumbnails: thumbnailDir(dataDir, catalog.id),
    embedInputs: catalog.settings.embeddings === 'off' ? null : embedInputDir(dataDir, catalog.id),
  };
}

export function thumbnailDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'thumbnails', catalogId);
}
