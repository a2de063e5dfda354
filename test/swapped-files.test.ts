import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../src/db/database.js';
import { listAssets } from '../src/db/assets.js';
import { openShardWork } from '../src/jobs/shard-work.js';
import { ingestShard } from '../src/pipeline/ingest-shard.js';
import { hashBounded, readBounded, ReadError } from '../src/pipeline/safe-read.js';
import { CatalogService } from '../src/services/catalog-service.js';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

// Files that are no longer what discovery saw: a FIFO (whose open would block), a link to
// /dev/zero (which never ends), a file that grew. Each is an error of its own; the run goes on.

const JOB = '00000000-0000-4000-8000-0000000000f1';

t.test('bounded reads refuse what is not a regular file, and what grew far past its size', async (t) => {
  const dir = tmpDir(t);
  const fifo = path.join(dir, 'pipe.jpg');
  execFileSync('mkfifo', [fifo]);
  const started = Date.now();
  await t.rejects(readBounded(fifo, 1000), { name: 'ReadError', code: 'not_regular', message: /a FIFO/ });
  await t.rejects(hashBounded('/dev/zero', 1000), { name: 'ReadError', code: 'not_regular', message: /a device/ });
  t.ok(Date.now() - started < 5000, 'at once, without blocking');
  const grown = path.join(dir, 'grown.jpg');
  fs.writeFileSync(grown, Buffer.alloc(5 << 20));
  await t.rejects(readBounded(grown, 1000), { name: 'ReadError', code: 'changed' });
  t.equal((await readBounded(grown, 5 << 20)).length, 5 << 20, 'a file of its discovered size reads whole');
  t.ok(new ReadError('not_regular', 'x') instanceof Error);
});

t.test('files swapped for a FIFO or a /dev/zero link after discovery: clear errors, bounded time and memory', async (t) => {
  const config = await configFor(t, 'pglite');
  const db = await openDatabase(config);
  t.teardown(() => db.close());
  const root = tmpDir(t);
  const good = await writePhoto(path.join(root, 'good.jpg'), { seed: 3 });
  const fifo = path.join(root, 'was-a-photo.jpg');
  const zero = path.join(root, 'was-another.jpg');
  await writePhoto(fifo, { seed: 4 });
  await writePhoto(zero, { seed: 5 });
  const catalog = await new CatalogService(db.sql, config.dataDir, async () => {}).create({ name: 'Swapped', sourceDirectories: [root] });
  // What discovery saw: three regular files. Then two are swapped.
  const seen = [good, fifo, zero].map((p) => ({ path: p, size: fs.statSync(p).size, mtimeMs: Math.floor(fs.statSync(p).mtimeMs), type: 'image' as const, ext: 'jpg' }));
  fs.rmSync(fifo);
  execFileSync('mkfifo', [fifo]);
  fs.rmSync(zero);
  fs.symlinkSync('/dev/zero', zero);

  const opened = openShardWork(db.sql, config);
  t.teardown(() => opened.close());
  const ctx = { ...opened.work, thumbnailDir: path.join(config.dataDir, 'thumbnails', catalog.id) };
  // The pool's threads and ExifTool start with the first shard: measure after them.
  await ingestShard(ctx, { catalogSchema: catalog.schema_name, jobId: JOB, files: [seen[0]!] });
  let peak = process.memoryUsage().rss;
  const before = peak;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = Date.now();
  const out = await ingestShard(ctx, { catalogSchema: catalog.schema_name, jobId: JOB, files: seen });
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  t.ok(seconds < 30, `the shard finished (${seconds.toFixed(1)} s)`);
  t.ok(peak - before < 200 << 20, `memory stayed bounded (+${((peak - before) / 2 ** 20).toFixed(0)} MB)`);
  t.equal(out.errors, 2);
  const rows = Object.fromEntries((await listAssets(db.sql, catalog.schema_name)).map((r) => [path.basename(r.path), r]));
  t.equal(rows['good.jpg']!.status, 'ok', 'the intact file is cataloged');
  for (const name of ['was-a-photo.jpg', 'was-another.jpg']) {
    t.equal(rows[name]!.status, 'error', `${name} is an error`);
    t.equal(rows[name]!.error_code, 'not_regular');
    t.match(rows[name]!.error, /not a regular file any more \(a (FIFO|device)\)/);
  }
});

t.test('FIFOs and devices met during discovery are reported, not skipped in silence', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = tmpDir(t);
  await writePhoto(path.join(root, 'ok.jpg'), { seed: 1, width: 160, height: 120 });
  execFileSync('mkfifo', [path.join(root, 'pipe.jpg')]);
  fs.symlinkSync('/dev/zero', path.join(root, 'zero.jpg'));
  const started = Date.now();
  const r = await runCli(['ingest', root, '--catalog', 'Special', '--json'], { env: envFor(config) });
  t.equal(r.code, 0, r.stderr);
  t.ok(Date.now() - started < 60_000, 'the run is not held up');
  t.match(r.stderr, /pipe\.jpg: not a regular file \(a FIFO\): skipped/);
  t.match(r.stderr, /zero\.jpg: not a regular file \(a device\): skipped/);
  t.equal(JSON.parse(r.stdout).assets_added, 1);
});
