import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A prepared embedded database: initdb's output with the public migrations of its build, written
 * by `npm run build` (build-template.ts) and copied into a new data directory instead of running
 * initdb there (seconds). It is never taken as current: the migrations still run after the copy
 * and apply whatever it lacks; one that does not match this build (another PGlite, a migration
 * changed since) is not used at all.
 */

/** Where `npm run build` leaves the template: dist/ at the package root, for dist/ and dist-dev/ alike. */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../../dist/pglite-template/', import.meta.url));

/** manifest.json beside the template's pgdata/: what it was made with. */
export interface TemplateManifest {
  /** The PGlite release that wrote the files: another one may not read them. */
  pglite: string;
  /** The public migrations applied in it, in order, each with a digest of its SQL. */
  migrations: { version: number; name: string; sha256: string }[];
}

/** A public migration as migrations/public.ts lists it. */
export type Migration = { version: number; name: string; sql: string };

export function manifestOf(migrations: readonly Migration[]): TemplateManifest {
  return {
    pglite: pgliteVersion(),
    migrations: migrations.map((m) => ({ version: m.version, name: m.name, sha256: createHash('sha256').update(m.sql).digest('hex') })),
  };
}

/**
 * Can a database made from this manifest be migrated to `current` as if it had been made fresh?
 * Yes when the same PGlite wrote it and its migrations are the first of `current`, unchanged; the
 * rest are applied afterwards, in the same order as on a fresh database.
 */
export function templateFits(manifest: TemplateManifest, current: readonly Migration[]): boolean {
  const now = manifestOf(current);
  if (manifest.pglite !== now.pglite || manifest.migrations.length > now.migrations.length) return false;
  return manifest.migrations.every((m, i) => {
    const c = now.migrations[i]!;
    return m.version === c.version && m.name === c.name && m.sha256 === c.sha256;
  });
}

/** The template's pgdata/ when there is one that fits `current`; null otherwise (not built, unreadable, or stale in a way migrations cannot mend). */
export function fittingTemplate(templateDir: string, current: readonly Migration[]): string | null {
  const manifest = readManifest(templateDir);
  return manifest && templateFits(manifest, current) ? path.join(templateDir, 'pgdata') : null;
}

/** The template's manifest; null when there is none to read (not built, being rebuilt, not ours to read). */
export function readManifest(templateDir: string): TemplateManifest | null {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(templateDir, 'manifest.json'), 'utf8')) as TemplateManifest;
    return typeof manifest.pglite === 'string' && Array.isArray(manifest.migrations) ? manifest : null;
  } catch {
    return null;
  }
}

let installedPglite: string | undefined;

/** The installed @electric-sql/pglite's version, read from its package.json. */
function pgliteVersion(): string {
  installedPglite ??= (
    JSON.parse(fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), '..', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return installedPglite;
}
