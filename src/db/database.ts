import postgres from 'postgres';
import type { LuminaConfig } from '../config/config.js';
import { UserError, messageOf } from '../util/errors.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';

/** int8 columns (perceptual hashes, sizes) come back as bigint so no bit is ever lost. */
export type Sql = postgres.Sql<{ bigint: bigint }>;

export interface Database {
  sql: Sql;
  kind: 'embedded' | 'postgres';
  close(): Promise<void>;
}

const clientOptions = {
  types: { bigint: postgres.BigInt },
  onnotice: () => {},
  connect_timeout: 10,
  // Connection-level settings the repositories rely on.
  connection: { application_name: 'lumina' },
} as const;

/** Opens the configured database (or starts the embedded one) and brings its schema up to date. */
export async function openDatabase(config: Pick<LuminaConfig, 'database' | 'dataDir'>, opts: { migrate?: boolean } = {}): Promise<Database> {
  let db: Database;
  if (config.database.kind === 'postgres') {
    const sql = postgres(config.database.url, { ...clientOptions, max: 8 }) as unknown as Sql;
    db = { sql, kind: 'postgres', close: () => sql.end({ timeout: 5 }) };
  } else {
    const embedded = await startEmbeddedPostgres(config.dataDir);
    // One session: PGlite runs one statement at a time anyway, and one connection keeps
    // transactions from interleaving inside the socket server's queue.
    const sql = postgres({ ...clientOptions, path: embedded.socketPath, user: 'postgres', database: 'postgres', max: 1 }) as unknown as Sql;
    db = {
      sql,
      kind: 'embedded',
      async close() {
        await sql.end({ timeout: 5 });
        await embedded.stop();
      },
    };
  }
  try {
    await db.sql`select 1`;
  } catch (err) {
    await db.close().catch(() => {});
    throw new UserError(`cannot reach the database: ${messageOf(err)}`);
  }
  if (opts.migrate !== false) {
    try {
      await migrate(db.sql);
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
  }
  return db;
}

/** The cheapest round trip: is the database there? */
export async function ping(sql: Sql): Promise<void> {
  await sql`select 1`;
}
