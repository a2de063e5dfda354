import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { writeTemplate } from '../src/db/build-template.js';
import type { Sql } from '../src/db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { publicMigrations } from '../src/db/migrations/public.js';
import { fittingTemplate, manifestOf, templateFits } from '../src/db/template.js';
import { tmpDir } from './helpers/tmp.js';

// A new data directory starts from the prepared template; the template is never trusted to be
// current, so whatever it lacks is migrated, and one that does not fit is not used.

/** Starts the embedded database in `dataDir`, migrates it, and returns what `fn` makes of it. */
async function started<T>(dataDir: string, template: string | null, fn: (sql: Sql, origin: EmbeddedPostgres['origin'], applied: string[]) => Promise<T>): Promise<T> {
  const embedded = await startEmbeddedPostgres(dataDir, { template });
  const sql = postgres({ path: embedded.socketPath, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} }) as unknown as Sql;
  try {
    const { applied } = await migrate(sql);
    return await fn(sql, embedded.origin, applied);
  } finally {
    await sql.end({ timeout: 5 });
    await embedded.stop();
  }
}

/** What the public schema is made of: migrations, columns, indexes and constraints. */
async function schemaOf(sql: Sql): Promise<string[]> {
  const rows = await sql<{ line: string }[]>`
    select 'migration ' || version || ' ' || name as line from public.schema_migrations
    union all
    select 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
      from information_schema.columns where table_schema = 'public'
    union all
    select 'index ' || indexdef from pg_indexes where schemaname = 'public'
    union all
    select 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) from pg_constraint where connamespace = 'public'::regnamespace`;
  return rows.map((r) => r.line).sort();
}

function modesOf(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => (fs.lstatSync(path.join(e.parentPath, e.name)).mode & 0o777) !== (e.isDirectory() ? 0o700 : 0o600))
    .map((e) => path.join(e.parentPath, e.name));
}

t.test('a template fits only its own PGlite and the first migrations of this build, unchanged', async (t) => {
  const all = publicMigrations;
  t.ok(templateFits(manifestOf(all), all), 'current');
  t.ok(templateFits(manifestOf(all.slice(0, 1)), all), 'stale: later migrations missing');
  t.notOk(templateFits(manifestOf([...all, { version: 9999, name: 'from another branch', sql: 'select 1' }]), all), 'a migration this build lacks');
  t.notOk(templateFits(manifestOf(all.map((m, i) => (i === 0 ? { ...m, sql: m.sql + '\n-- edited' } : m))), all), 'a migration edited since');
  t.notOk(templateFits({ ...manifestOf(all), pglite: '0.0.1' }, all), 'another PGlite');
  t.equal(fittingTemplate(path.join(tmpDir(t), 'never-built'), all), null, 'not built');
});

t.test('a new data directory from a current, a stale or no template: the same migrated database', async (t) => {
  const templates = tmpDir(t, 'lumina-template-');
  const current = path.join(templates, 'current');
  const stale = path.join(templates, 'stale');
  t.equal(await writeTemplate(current), 'written');
  t.equal(await writeTemplate(current), 'current', 'a second build keeps a template that holds every migration');
  const staleMigrations = publicMigrations.slice(0, -1);
  t.equal(await writeTemplate(stale, staleMigrations), 'written');
  t.same(JSON.parse(fs.readFileSync(path.join(stale, 'manifest.json'), 'utf8')).migrations.map((m: { version: number }) => m.version), staleMigrations.map((m) => m.version));

  const fromCurrent = tmpDir(t, 'lumina-data-');
  // A copy a killed start left behind is cleared, not mistaken for a database.
  fs.mkdirSync(path.join(fromCurrent, 'pgdata.partial'));
  fs.writeFileSync(path.join(fromCurrent, 'pgdata.partial', 'PG_VERSION'), '18\n');
  const schema = await started(fromCurrent, current, async (sql, origin, applied) => {
    t.equal(origin, 'template');
    t.same(applied, [], 'a current template needs no migration');
    return schemaOf(sql);
  });
  t.notOk(fs.existsSync(path.join(fromCurrent, 'pgdata.partial')));
  t.same(modesOf(fromCurrent), [], 'every file 0600 and folder 0700');

  const fromStale = tmpDir(t, 'lumina-data-');
  await started(fromStale, stale, async (sql, origin, applied) => {
    t.equal(origin, 'template');
    const last = publicMigrations.at(-1)!;
    t.same(applied, [`public ${last.version} ${last.name}`], 'the migration the template lacks is applied');
    t.same(await schemaOf(sql), schema);
  });

  // No template built: initdb, as before templates.
  const fromNone = tmpDir(t, 'lumina-data-');
  await started(fromNone, path.join(templates, 'never-built'), async (sql, origin, applied) => {
    t.equal(origin, 'initdb');
    t.equal(applied.length, publicMigrations.length);
    t.same(await schemaOf(sql), schema);
  });

  // The database works and keeps what it was given from one start to the next.
  await started(fromCurrent, current, async (sql, origin) => {
    t.equal(origin, 'existing');
    // A catalog row whose schema is not made yet: the next start's migrations make it.
    await sql`insert into public.catalogs (name, schema_name) values ('from the template', ${'catalog_' + 'ab'.repeat(16)})`;
  });
  await started(fromCurrent, current, async (sql, _origin, applied) => {
    t.same((await sql`select name from public.catalogs`).map((r) => r.name), ['from the template']);
    t.ok(applied.length > 0 && applied.every((a) => a.startsWith(`catalog_${'ab'.repeat(16)} `)), 'past the quick check, a catalog schema is still migrated');
  });
  t.same(modesOf(fromCurrent), []);
});
