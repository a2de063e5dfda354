import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { publicMigrations } from '../src/db/migrations/public.js';
import { fittingTemplate, readManifest, TEMPLATE_DIR } from '../src/db/template.js';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

t.test('catalog create, list, show, delete and migrate', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const photos = tmpDir(t);
  await writePhoto(path.join(photos, 'a.jpg'));

  const migrate = await runCli(['migrate', '--json'], { env });
  t.equal(migrate.code, 0, migrate.stderr);
  // A new data directory is copied from the build's template, which holds the migrations of its build.
  const inTemplate = fittingTemplate(TEMPLATE_DIR, publicMigrations) ? readManifest(TEMPLATE_DIR)!.migrations.length : 0;
  t.equal(JSON.parse(migrate.stdout).applied.length, publicMigrations.length - inTemplate, 'first migrate applies what the new database lacks');
  t.same(JSON.parse((await runCli(['migrate', '--json'], { env })).stdout).applied, [], 'second applies nothing');

  const created = await runCli(['catalog', 'create', 'Holidays', photos, '--json'], { env });
  t.equal(created.code, 0, created.stderr);
  const cat = JSON.parse(created.stdout);
  t.match(cat, { name: 'Holidays', source_directories: [photos] });
  const dup = await runCli(['catalog', 'create', 'Holidays'], { env });
  t.equal(dup.code, 2);
  t.equal(dup.stderr, 'lumina: a catalog named "Holidays" already exists\n');

  t.equal((await runCli(['ingest', photos, '--catalog', 'Holidays'], { env })).code, 0);
  const list = JSON.parse((await runCli(['catalog', 'list', '--json'], { env })).stdout);
  t.same(list.map((c: { name: string }) => c.name), ['Holidays']);
  const show = JSON.parse((await runCli(['catalog', 'show', cat.id, '--json'], { env })).stdout);
  t.same(show.assets, { ok: 1 });
  const human = await runCli(['assets', 'list', '--catalog', 'Holidays'], { env });
  t.match(human.stdout, /a\.jpg\tok\t640×480/);

  const thumbs = path.join(config.dataDir, 'thumbnails', cat.id);
  t.ok(fs.existsSync(thumbs));
  const del = await runCli(['catalog', 'delete', 'Holidays', '--json'], { env });
  t.equal(del.code, 0, del.stderr);
  t.notOk(fs.existsSync(thumbs), 'thumbnails deleted with the catalog');
  t.ok(fs.existsSync(path.join(photos, 'a.jpg')), 'photos untouched');
  const gone = await runCli(['assets', 'list', '--catalog', 'Holidays'], { env });
  t.equal(gone.code, 2);
  t.match(gone.stderr, /no catalog named "Holidays"/);
});

t.test('ingest names the catalog after the first directory', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = path.join(tmpDir(t), 'Summer 2024');
  await writePhoto(path.join(root, 'x.jpg'));
  const run = await runCli(['ingest', root, '--json'], { env: envFor(config) });
  t.equal(JSON.parse(run.stdout).catalog.name, 'Summer 2024');
  t.equal(run.stdout.trim().split('\n').at(-1), '}', 'stdout is one JSON document');
  JSON.parse(run.stdout);
});

t.test('bad configuration and bad arguments are one-line errors', async (t) => {
  const base = { ...process.env, LUMINA_DATA_DIR: tmpDir(t) } as Record<string, string>;
  delete base.NODE_OPTIONS;
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['catalog', 'list'], { DATABASE_URL: 'mysql://nope' }, /^lumina: DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/"\n$/],
    [['catalog', 'list'], { LUMINA_WORKERS: '-1' }, /^lumina: --workers \/ LUMINA_WORKERS must be a positive whole number, got "-1"\n$/],
    [['catalog', 'list'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, /^lumina: cannot reach the database: .*\n$/],
    [['assets', 'list', '--catalog', 'x', '--limit', 'lots'], {}, /--limit.*must be a whole number/],
  ];
  for (const [args, extra, re] of cases) {
    const r = await runCli(args, { env: { ...base, ...extra } });
    t.not(r.code, 0, `${args.join(' ')} fails`);
    t.match(r.stderr, re);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.test('two scans of one catalog on a shared PostgreSQL: the second is refused, not interleaved', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const root = tmpDir(t);
  await writePhoto(path.join(root, 'p.jpg'));
  const created = JSON.parse((await runCli(['catalog', 'create', 'Shared', root, '--json'], { env })).stdout);
  // Another process's scan: a running job owned by a process on another host whose lease is live.
  const other = postgres((config.database as { url: string }).url, { onnotice: () => {}, max: 1 });
  t.teardown(() => other.end());
  const [held] = await other`
    insert into public.jobs (catalog_id, type, status, params, owner, lease_until, started_at)
    values (${created.id}, 'scan', 'running', ${other.json({ runner: 'local', directories: [root] })}, 'elsewhere.example/4242/0abc', now() + interval '1 hour', now())
    returning id`;
  const refused = await runCli(['ingest', root, '--catalog', 'Shared', '--json'], { env });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /catalog "Shared" is being scanned by another lumina process/);
  await other`update public.jobs set status = 'completed', finished_at = now() where id = ${held!.id}`;
  const done = await runCli(['ingest', root, '--catalog', 'Shared', '--json'], { env });
  t.equal(done.code, 0, done.stderr);
  t.equal(JSON.parse(done.stdout).assets_added, 1);
  const again = await runCli(['ingest', root, '--catalog', 'Shared', '--json'], { env });
  t.equal(JSON.parse(again.stdout).assets_unchanged, 1, 'the lock is released at the end');
});
