import path from 'node:path';

/** Catalogs as every layer sees them: the row of public.catalogs and where its files live. */
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Catalog ids are UUIDs, and no name may look like one, so an id never matches a name. */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/** Any text PostgreSQL would read as a UUID (braces, no dashes, a urn:uuid: prefix): refused as a name too. */
export function looksLikeUuid(text: string): boolean {
  const bare = text.trim().toLowerCase().replace(/^urn:uuid:/, '').replace(/^\{(.*)\}$/, '$1').replace(/-/g, '');
  return /^[0-9a-f]{32}$/.test(bare);
}

/**
 * Where ingest by earlier versions left each picture's CNN input for the embed stage. The input
 * is now cut from the thumbnail; what such a version left is removed by the next `dupes`.
 */
export function legacyEmbedInputDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'embed-input', catalogId);
}

export function thumbnailDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'thumbnails', catalogId);
}

