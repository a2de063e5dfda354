import { randomUUID } from 'node:crypto';
import type { Catalog } from '../model/catalog.js';
import type { Sql } from './database.js';
import { migrateCatalogSchema, quoteSchema } from './migrate.js';

export type { Catalog } from '../model/catalog.js';

const CATALOG_COLUMNS = ['id', 'name', 'schema_name', 'source_directories', 'organized_directory', 'settings', 'created_at', 'updated_at'] as const;

export interface CatalogFields {
  name: string;
  sourceDirectories: string[];
  organizedDirectory: string | null;
  settings: Record<string, unknown>;
}

/**
 * Creates the catalog row and its schema in one transaction, so neither exists without the other.
 * A taken name is a unique violation of `catalogs_name_key`.
 */
export async function insertCatalog(sql: Sql, input: CatalogFields): Promise<Catalog> {
  const id = randomUUID();
  const schemaName = `catalog_${id.replace(/-/g, '')}`;
  return sql.begin(async (tx) => {
    const [row] = await tx<Catalog[]>`
      insert into public.catalogs (id, name, schema_name, source_directories, organized_directory, settings)
      values (${id}, ${input.name}, ${schemaName}, ${input.sourceDirectories}, ${input.organizedDirectory}, ${tx.json(input.settings as never)})
      returning ${tx(CATALOG_COLUMNS)}`;
    await migrateCatalogSchema(tx as unknown as Sql, schemaName, 0);
    return row!;
  });
}

export async function listCatalogs(sql: Sql): Promise<Catalog[]> {
  return sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs order by name`;
}

export async function findCatalogById(sql: Sql, id: string): Promise<Catalog | null> {
  const [row] = await sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs where id = ${id}`;
  return row ?? null;
}

export async function findCatalogByName(sql: Sql, name: string): Promise<Catalog | null> {
  const [row] = await sql<Catalog[]>`select ${sql(CATALOG_COLUMNS)} from public.catalogs where name = ${name}`;
  return row ?? null;
}

/** Writes every field; null when the catalog is gone. */
export async function updateCatalog(sql: Sql, id: string, fields: CatalogFields): Promise<Catalog | null> {
  const [row] = await sql<Catalog[]>`
    update public.catalogs set name = ${fields.name}, source_directories = ${fields.sourceDirectories},
      organized_directory = ${fields.organizedDirectory}, settings = ${sql.json(fields.settings as never)}, updated_at = now()
    where id = ${id} returning ${sql(CATALOG_COLUMNS)}`;
  return row ?? null;
}

/** Drops the schema and its rows; jobs go with the catalog (cascade). */
export async function deleteCatalog(sql: Sql, catalog: Catalog): Promise<void> {
  await sql.begin(async (tx) => {
    // DDL takes no parameters: the name is checked by quoteSchema.
    await tx.unsafe(`drop schema if exists ${quoteSchema(catalog.schema_name)} cascade`);
    await tx`delete from public.catalogs where id = ${catalog.id}`;
  });
}
