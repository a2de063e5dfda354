import { resolveConfig, type ConfigFlags, type LuminaConfig } from '../config/config.js';
import { openDatabase, type Database } from '../db/database.js';

/** The options every command accepts (set on the root program). */
export interface GlobalOptions extends ConfigFlags {
  json?: boolean;
}

/** Resolves configuration, opens the database for the length of `fn`, and always closes it. */
export async function withDatabase<T>(flags: GlobalOptions, fn: (db: Database, config: LuminaConfig) => Promise<T>): Promise<T> {
  const config = resolveConfig(flags);
  const db = await openDatabase(config);
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}

/** --json output: one JSON document on stdout, nothing else there. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n');
}
