import type { Catalog } from '../model/catalog.js';

/** A catalog as the API and --json show it (the schema name stays inside). */
export function catalogView(c: Catalog) {
  return {
    id: c.id,
    name: c.name,
    source_directories: c.source_directories,
    organized_directory: c.organized_directory,
    settings: c.settings,
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  };
}

export type CatalogView = ReturnType<typeof catalogView>;
