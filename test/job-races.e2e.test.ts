import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { openDatabase } from '../src/db/database.js';
import { finalizeDuplicates, duplicatesParams } from '../src/jobs/duplicates.js';
import { PairTable } from '../src/dedupe/pair-table.js';
import type { Catalog } from '../src/model/catalog.js';
import type { Job } from '../src/model/job.js';
import { CLI, runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { isThumbnailFile } from '../src/pipeline/pixels.js';

// The races the scattered rules let through, on a shared PostgreSQL: each reproduced, and shown
// to end with one job of a kind per catalog, no file wrongly missing, and one set of groups.

async function smallPhotos(root: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await writePhoto(path.join(root, `d${i % 10}`, `IMG_${String(i).padStart(4, '0')}.jpg`), { seed: i + 1, width: 160, height: 120 });
}

const countThumbs = (dir: string) =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && isThumbnailFile(e.name)).length : 0;

t.test('an API scan and a CLI ingest of one catalog: the ingest is refused, nothing goes missing, the job reads the same everywhere', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const root = tmpDir(t, 'lumina-race-');
  const FILES = 500;
  await smallPhotos(root, FILES);
  const server = await startServe(t, env, ['--shard-size', '25', '--workers', '1']);
  const created = await api(server.url, 'POST', '/api/catalogs', { body: { name: 'Race', source_directories: [root] } });
  t.equal(created.status, 201);
  const scan = await api(server.url, 'POST', '/api/jobs/scan', { body: { catalog_id: created.json.id } });
  t.equal(scan.status, 202);
  await waitFor('the served scan to be under way', async () => (await api(server.url, 'GET', `/api/jobs/${scan.json.id}`)).json.progress.done > 0, 120_000, 50);
  // The window held open: another connection locks the assets table, so the served scan's next
  // shard write waits (and the scan stays running) until it is released.
  const holder = postgres((config.database as { url: string }).url, { onnotice: () => {}, max: 1 });
  t.teardown(() => holder.end());
  const [{ schema_name: schema }] = await holder`select schema_name from public.catalogs where id = ${created.json.id}`;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const holding = holder.begin(async (tx) => {
    await tx`lock table ${tx(schema)}.assets in exclusive mode`;
    await released;
  });
  t.equal((await api(server.url, 'GET', `/api/jobs/${scan.json.id}`)).json.status, 'running', 'the served scan is running');

  const ingest = await runCli(['ingest', root, '--catalog', 'Race', '--json'], { env });
  t.equal(ingest.code, 2, 'the CLI ingest is refused');
  t.match(ingest.stderr, /catalog "Race" is being scanned by another lumina process \(pid \d+ on .*\): job [0-9a-f-]{36} is running/);
  t.notMatch(ingest.stderr, /\n\s+at /, 'no stack trace');
  const twice = await api(server.url, 'POST', '/api/jobs/scan', { body: { catalog_id: created.json.id } });
  t.equal(twice.status, 409, 'a second API scan is refused too');
  t.equal(twice.json.error.code, 'conflict');
  release();
  await holding;

  const done = await jobDone(server.url, scan.json.id, undefined, 300_000);
  t.equal(done.status, 'completed', done.error ?? '');
  const listed = await api(server.url, 'GET', `/api/jobs?catalog_id=${created.json.id}`);
  t.same(listed.json.items.map((j: { id: string; status: string }) => [j.id, j.status]), [[scan.json.id, 'completed']], 'one job, and the list agrees with GET /api/jobs/:id');
  const counts = (await api(server.url, 'GET', `/api/catalogs/${created.json.id}`)).json.asset_counts;
  t.same(counts, { ok: FILES }, 'every file present, none marked missing');

  await server.stop();
  const after = await runCli(['ingest', root, '--catalog', 'Race', '--json'], { env });
  t.equal(after.code, 0, after.stderr);
  t.equal(JSON.parse(after.stdout).assets_unchanged, FILES, 'once the server’s job has ended, an ingest runs');
});

t.test('a scan whose database connections are terminated mid-run reconnects and finishes', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const url = (config.database as { url: string }).url;
  const root = tmpDir(t, 'lumina-reset-');
  const FILES = 300;
  await smallPhotos(root, FILES);
  const thumbs = path.join(config.dataDir, 'thumbnails');
  const child = spawn(process.execPath, [CLI, 'ingest', root, '--catalog', 'Reset', '--json', '--shard-size', '20', '--workers', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const admin = postgres(url, { onnotice: () => {}, max: 1 });
  t.teardown(() => admin.end());
  const terminate = async () =>
    (await admin`select pg_terminate_backend(pid) as gone from pg_stat_activity
      where datname = current_database() and application_name = 'lumina' and pid <> pg_backend_pid()`).length;
  let killed = 0;
  for (const at of [30, 90]) {
    await waitFor(`${at} thumbnails`, async () => countThumbs(thumbs) >= at || child.exitCode !== null, 120_000, 20);
    killed += await terminate();
  }
  t.ok(killed > 0, `the scan's connections were terminated (${killed})`);
  const code = await exited;
  t.equal(code, 0, stderr);
  t.notMatch(stderr, /TypeError|Cannot read properties/, 'no raw error');
  const summary = JSON.parse(stdout);
  t.equal(summary.files_seen, FILES);
  t.equal(summary.errors, 0);
  const [job] = await admin`select status, error from public.jobs where type = 'scan'`;
  t.equal(job!.status, 'completed', 'the job completed');
  const [{ schema_name }] = await admin`select schema_name from public.catalogs where name = 'Reset'`;
  const statuses = await admin`select status, count(*)::int as n from ${admin(schema_name)}.assets group by status`;
  t.same(statuses.map((r) => [r.status, r.n]), [['ok', FILES]], 'every file written once, none missing');
});

t.test('two duplicates runs of one catalog, the window widened by a table lock: one runs, one is refused, one set of groups', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const url = (config.database as { url: string }).url;
  const root = tmpDir(t, 'lumina-dupes-race-');
  // Eight pictures, each in three copies: two byte-identical, one smaller (a near duplicate).
  for (let i = 0; i < 8; i++) {
    await writePhoto(path.join(root, 'a', `p${i}.jpg`), { seed: 100 + i, width: 480, height: 360 });
    fs.mkdirSync(path.join(root, 'b'), { recursive: true });
    fs.copyFileSync(path.join(root, 'a', `p${i}.jpg`), path.join(root, 'b', `p${i}.jpg`));
    await writePhoto(path.join(root, 'c', `p${i}_small.jpg`), { seed: 100 + i, width: 240, height: 180 });
  }
  t.equal((await runCli(['ingest', root, '--catalog', 'Twice'], { env })).code, 0);
  const admin = postgres(url, { onnotice: () => {}, max: 1 });
  t.teardown(() => admin.end());
  const [{ schema_name: schema, id: catalogId }] = await admin`select schema_name, id from public.catalogs where name = 'Twice'`;

  const holder = postgres(url, { onnotice: () => {}, max: 1 });
  t.teardown(() => holder.end());
  // Another connection holds the groups table, as a slow reader would: writers must wait on it.
  const holdGroups = async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const holding = holder.begin(async (tx) => {
      await tx`lock table ${tx(schema)}.duplicate_groups in access exclusive mode`;
      await released;
    });
    await waitFor('the table lock', async () => (await admin`select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'duplicate_groups' and l.granted and l.mode = 'AccessExclusiveLock'`).length > 0);
    return async () => {
      release();
      await holding;
    };
  };
  const unlock = await holdGroups();

  const first = runCli(['dupes', '--catalog', 'Twice', '--json', '--embeddings', 'off'], { env });
  await waitFor('the first run to wait on the lock', async () => (await admin`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and application_name = 'lumina'`).length > 0, 120_000);
  const second = await runCli(['dupes', '--catalog', 'Twice', '--json', '--embeddings', 'off'], { env });
  t.equal(second.code, 2, 'the second run is refused while the first is alive');
  t.match(second.stderr, /duplicates of catalog "Twice" are being searched by another lumina process/);
  await unlock();
  const ran = await first;
  t.equal(ran.code, 0, ran.stderr);
  const report = JSON.parse(ran.stdout);
  const k = report.summary.groups;
  t.equal(k.exact, 8, 'the byte-identical copies');
  t.ok(k.near > 0, `and near groups (${k.near})`);

  const groupSet = async () =>
    (await admin`select g.kind, array_agg(m.asset_id order by m.asset_id)::text as members from ${admin(schema)}.duplicate_groups g
      join ${admin(schema)}.duplicate_members m on m.group_id = g.id group by g.id order by 2, 1`).map((r) => `${r.kind}:${r.members}`);
  const once = await groupSet();
  t.equal(once.length, k.exact + k.near + k.burst + k.format_pair, 'one set of groups, as the run reported it');
  t.equal(new Set(once).size, once.length, 'none written twice');

  // A finalize delivered twice (a retried BullMQ job) while the table is locked: both wait, one
  // writes, the other finds the job closed and writes nothing.
  const db = await openDatabase(config, { migrate: false });
  t.teardown(() => db.close());
  const [catalog] = await db.sql<Catalog[]>`select * from public.catalogs where id = ${catalogId}`;
  const params = duplicatesParams({ embeddings: 'off' }, 'cluster');
  const [job] = await db.sql<Job[]>`
    insert into public.jobs (catalog_id, type, status, params, started_at) values (${catalogId}, 'duplicates', 'running', ${db.sql.json(params as never)}, now()) returning *`;
  const unlockAgain = await holdGroups();
  const input = { catalog: catalog!, job: job!, params, pairs: new PairTable(), searched: 0 };
  const both = Promise.all([finalizeDuplicates(db.sql, input), finalizeDuplicates(db.sql, input)]);
  await new Promise((r) => setTimeout(r, 300));
  await unlockAgain();
  const results = await both;
  t.same(results.map((r) => (r.job ? r.job.status : null)).sort(), ['completed', null], 'one finalize closed the job; the other wrote nothing');
  // This run had no near candidates, so its open near groups are dropped and the exact ones stay: once each.
  t.same(await groupSet(), once.filter((g) => g.startsWith('exact:')), 'still one set of groups, none doubled');
});

t.test('deleting a catalog while its scan runs: the work stops first, and no file of it is left', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const root = tmpDir(t, 'lumina-delete-');
  await smallPhotos(root, 200);
  const leftovers = (id: string) => ['thumbnails', 'embed-input'].filter((d) => fs.existsSync(path.join(config.dataDir, d, id)));
  let server = await startServe(t, env, ['--shard-size', '5', '--workers', '1']);
  const scanning = async (name: string) => {
    const id = (await api(server.url, 'POST', '/api/catalogs', { body: { name, source_directories: [root] } })).json.id as string;
    const scan = await api(server.url, 'POST', '/api/jobs/scan', { body: { catalog_id: id } });
    await waitFor('the scan to be under way', async () => (await api(server.url, 'GET', `/api/jobs/${scan.json.id}`)).json.progress.done > 10, 120_000, 50);
    return id;
  };

  // Through the API of the process that runs the scan: it waits for the work to stop.
  const a = await scanning('DeleteMe');
  t.equal((await api(server.url, 'DELETE', `/api/catalogs/${a}`)).status, 204);
  await new Promise((r) => setTimeout(r, 1500));
  t.same(leftovers(a), [], 'no thumbnail or CNN input of the deleted catalog, even a moment later');
  t.notMatch(server.output(), /does not exist/, 'no write reached the dropped schema');

  // From another process (the CLI): the owner stops at its next lease renewal; what it wrote
  // meanwhile is swept when a server starts.
  const b = await scanning('DeleteMeToo');
  const deleted = await runCli(['catalog', 'delete', 'DeleteMeToo', '--json'], { env });
  t.equal(deleted.code, 0, deleted.stderr);
  t.equal(JSON.parse(deleted.stdout).deleted, b);
  await new Promise((r) => setTimeout(r, 1500));
  await server.stop();
  server = await startServe(t, env);
  t.same(leftovers(b), [], 'the next server start sweeps what was written after the delete');
  await server.stop();
});
