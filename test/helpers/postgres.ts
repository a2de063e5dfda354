import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Test } from 'tap';
import type { DatabaseTarget, LuminaConfig } from '../../src/config/config.js';
import { resolveConfig } from '../../src/config/config.js';
import { tmpDir } from './tmp.js';

/** The local PostgreSQL server the machine runs (trust auth); override with LUMINA_TEST_PG. */
export const ADMIN_URL = process.env.LUMINA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throw-away database on the local server, dropped when the test ends. */
export async function throwawayDatabase(t: Test): Promise<string> {
  const name = `lumina_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  t.teardown(async () => {
    const a = postgres(ADMIN_URL, { onnotice: () => {}, max: 1 });
    await a.unsafe(`drop database if exists ${name} with (force)`);
    await a.end();
  });
  const url = new URL(ADMIN_URL);
  url.pathname = '/' + name;
  return url.toString();
}

export type Backend = 'pglite' | 'postgres';
export const BACKENDS: Backend[] = ['pglite', 'postgres'];

/** A configuration for one backend with its own data directory (and database, for PostgreSQL). */
export async function configFor(t: Test, backend: Backend, extra: Partial<LuminaConfig> = {}): Promise<LuminaConfig> {
  const dataDir = tmpDir(t, 'lumina-data-');
  const database: DatabaseTarget = backend === 'postgres' ? { kind: 'postgres', url: await throwawayDatabase(t) } : { kind: 'embedded' };
  return { ...resolveConfig({ dataDir }, {}), database, workers: 2, ...extra };
}

/** Environment for a CLI subprocess using this configuration. */
export function envFor(config: LuminaConfig): Record<string, string> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LUMINA_DATA_DIR: config.dataDir };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS; // the test runner's hooks have no business in the program under test
  for (const k of Object.keys(env)) if (k.startsWith('POSTGRES_') || k.startsWith('REDIS_')) delete env[k];
  if (config.database.kind === 'postgres') env.DATABASE_URL = config.database.url;
  return env;
}
