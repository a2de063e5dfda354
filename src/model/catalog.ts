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
 * Where ingest leaves each picture's CNN input (224×224, cut from the pixels it decoded anyway,
 * kept as WebP) for the embed stage, which removes each once embedded.
 */
export function embedInputDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'embed-input', catalogId);
}

/** The CNN input's file extension (`<sha256>.webp` under embedInputDir). */
export const EMBED_INPUT_EXT = 'webp';
/** What ingests before the input was compressed left: raw RGB, still read and removed. */
export const LEGACY_EMBED_INPUT_EXT = 'rgb';

export function thumbnailDir(dataDir: string, catalogId: string): string {
  return path.join(dataDir, 'thumbnails', catalogId);
}

export interface OutputDirs {
  thumbnails: string;
  /** Null when the catalog's settings turn embeddings off. */
  embedInputs: string | null;
}

export function outputDirs(dataDir: string, catalog: Catalog): OutputDirs {
  return {
    thumbnails: thumbnailDir(dataDir, catalog.id),
    embedInputs: catalog.settings.embeddings === 'off' ? null : embedInputDir(dataDir, catalog.id),
  };
}
