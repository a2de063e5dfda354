import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, redisPrefix, REDIS_URL, startServe, startWorker, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

const run = promisify(execFile);

/** A small tree: two cameras, two years, a PNG without metadata, a corrupt file, a symlink out. */
async function corpus(t: Test): Promise<{ root: string; outside: string; files: number }> {
  const base = tmpDir(t, 'lumina-api-');
  const root = path.join(base, 'photos');
  const outside = path.join(base, 'private');
  for (let i = 0; i < 4; i++) await writePhoto(path.join(root, '2019', `canon_${i}.jpg`), { seed: i + 1, make: 'Canon', model: 'EOS 5D', dateTimeOriginal: `2019:05:0${i + 1} 10:00:00` });
  for (let i = 0; i < 4; i++) await writePhoto(path.join(root, '2021', `nikon_${i}.jpg`), { seed: i + 11, make: 'NIKON CORPORATION', model: 'NIKON D750', dateTimeOriginal: `2021:08:0${i + 1} 12:00:00` });
  for (let i = 0; i < 2; i++) await writePhoto(path.join(root, 'misc', `plain ${i}.png`), { seed: i + 21, format: 'png' });
  fs.writeFileSync(path.join(root, 'misc', 'corrupt.jpg'), Buffer.from('this is not a jpeg at all'));
  fs.mkdirSync(outside, { recursive: true });
  await writePhoto(path.join(outside, 'secret.jpg'), { seed: 99 });
  fs.symlinkSync(outside, path.join(root, 'escape'));
  // The symlinked folder leads outside the catalog's roots: a scan of the root does not follow it
  // (a skipped problem, not an error), and it may not be named as a scan directory of its own.
  return { root, outside, files: 11 };
}

/** The four calls of the original design, sent exactly as written (curl), checked by status and body. */
async function originalCurls(t: Test, port: number) {
  const curl = async (...args: string[]) => {
    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
    const nl = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(nl + 1)), json: JSON.parse(stdout.slice(0, nl)) };
  };
  const created = await curl('-X', 'POST', `http://localhost:${port}/api/catalogs/`, '-H', 'Content-Type: application/json', '-d', '{"name": "My Photos", "source_directories": ["/photos"]}');
  t.equal(created.status, 201, 'POST /api/catalogs/ → 201');
  t.match(created.json, { id: /^[0-9a-f-]{36}$/, name: 'My Photos', source_directories: ['/photos'] });
  const listed = await curl(`http://localhost:${port}/api/catalogs/`);
  t.equal(listed.status, 200);
  t.ok(listed.json.some((c: { id: string }) => c.id === created.json.id), 'GET /api/catalogs/ lists it');
  const scan = await curl('-X', 'POST', `http://localhost:${port}/api/jobs/scan`, '-H', 'Content-Type: application/json', '-d', `{"catalog_id": "${created.json.id}", "directories": ["/photos"]}`);
  t.equal(scan.status, 202, 'POST /api/jobs/scan → 202');
  t.match(scan.json, { job_id: /^[0-9a-f-]{36}$/, status: 'queued', type: 'scan' });
  const got = await curl(`http://localhost:${port}/api/jobs/${scan.json.job_id}`);
  t.equal(got.status, 200);
  t.equal(got.json.id, scan.json.job_id);
  t.match(got.json.progress, { done: Number, total: Number, failed: Number, rate: Number, stage: String });
  // /photos does not exist here: the job completes and says so, rather than failing.
  const done = await jobDone(`http://localhost:${port}`, scan.json.job_id);
  t.equal(done.status, 'completed');
  t.match(done.result.problems, [{ path: '/photos', message: /no such file/ }]);
}

async function contract(t: Test, base: string, mode: 'embedded' | 'cluster', dataDir: string) {
  const { root, outside, files } = await corpus(t);

  const created = await api(base, 'POST', '/api/catalogs', { body: { name: 'Real', source_directories: [root] } });
  t.equal(created.status, 201);
  t.equal(created.headers.get('location'), `/api/catalogs/${created.json.id}`);
  const cid = created.json.id as string;
  t.equal((await api(base, 'POST', '/api/catalogs', { body: { name: 'Real', source_directories: [root] } })).status, 409, 'name taken → 409');

  // A scan of the whole catalog, then its results.
  const scan = await api(base, 'POST', '/api/jobs/scan/', { body: { catalog_id: cid } });
  t.equal(scan.status, 202);
  const job = await jobDone(base, scan.json.job_id);
  t.equal(job.status, 'completed', JSON.stringify(job));
  t.equal(job.result.files_seen, files);
  t.equal(job.result.errors, 1, 'the corrupt file is the one error');
  t.match(job.progress, { done: files, total: files, failed: 1, stage: 'done' });
  t.equal(job.params.runner, mode === 'cluster' ? 'cluster' : 'local');

  const one = await api(base, 'GET', `/api/catalogs/${cid}`);
  t.same(one.json.asset_counts, { ok: files - 1, error: 1 });

  // Paging with a cursor visits every asset once.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { json: { items: { path: string }[]; next_cursor: string | null } } = await api(base, 'GET', `/api/catalogs/${cid}/assets?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...page.json.items.map((a) => a.path));
    cursor = page.json.next_cursor;
  } while (cursor);
  t.equal(seen.length, files);
  t.equal(new Set(seen).size, files, 'pages do not overlap');

  const filtered = async (q: string) => (await api(base, 'GET', `/api/catalogs/${cid}/assets?${q}`)).json.items.map((a: { path: string }) => path.basename(a.path)).sort();
  t.same(await filtered('camera=nikon'), ['nikon_0.jpg', 'nikon_1.jpg', 'nikon_2.jpg', 'nikon_3.jpg'], 'camera filter');
  t.same(await filtered('from=2019-05-02&to=2019-05-03'), ['canon_1.jpg', 'canon_2.jpg'], 'date range filter');
  t.same(await filtered('has_error=true'), ['corrupt.jpg'], 'error filter');
  t.equal((await filtered('has_error=false&type=image')).length, files - 1);
  t.same(await filtered('type=video'), []);

  const page = await api(base, 'GET', `/api/catalogs/${cid}/assets?camera=canon&limit=1`);
  const asset = page.json.items[0];
  t.match(asset.thumbnail_url, new RegExp(`^/api/catalogs/${cid}/assets/\\d+/thumbnail$`));
  const thumb = await fetch(base + asset.thumbnail_url);
  t.equal(thumb.status, 200);
  t.equal(thumb.headers.get('content-type'), 'image/jpeg');
  const bytes = Buffer.from(await thumb.arrayBuffer());
  t.same([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], 'the thumbnail of a JPEG is a JPEG');
  const full = await api(base, 'GET', `/api/catalogs/${cid}/assets/${asset.id}`);
  t.equal(full.json.make, 'Canon');
  t.ok(full.json.exif && typeof full.json.exif === 'object', 'one asset carries its ExifTool tags');
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}/assets/999999`)).status, 404);

  // Jobs: list with filters, cancel.
  const listed = await api(base, 'GET', `/api/jobs?catalog_id=${cid}&status=completed&type=scan`);
  t.equal(listed.status, 200);
  t.same(listed.json.items.map((j: { id: string }) => j.id), [job.id]);
  t.equal((await api(base, 'GET', `/api/jobs?status=bogus`)).status, 400);
  const late = await api(base, 'POST', `/api/jobs/${job.id}/cancel`);
  t.equal(late.status, 409, 'a finished job cannot be cancelled');
  t.equal(late.json.error.code, 'conflict');
  // New pictures give the next scan real work, so it is still running when the cancel arrives.
  for (let i = 0; i < 12; i++) await writePhoto(path.join(root, 'busy', `b${i}.jpg`), { seed: 50 + i, width: 2400, height: 1800 });
  const next = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid, directories: [path.join(root, 'busy')] } });
  t.equal(next.status, 202, 'a sub-directory may be scanned');
  const cancelled = await api(base, 'POST', `/api/jobs/${next.json.job_id}/cancel`);
  t.equal(cancelled.status, 200);
  t.equal(cancelled.json.status, 'cancelled');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await api(base, 'GET', `/api/jobs/${next.json.job_id}`)).json.status, 'cancelled', 'a cancelled job stays cancelled');

  // Directories must lie inside the catalog's roots, as they really are.
  const refused = async (dirs: string[]) => (await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid, directories: dirs } })).json.error.code;
  t.equal(await refused([`${root}/../private`]), 'invalid_request', '".." is refused');
  t.equal(await refused([outside]), 'forbidden', 'outside the roots is refused');
  t.equal(await refused([path.join(root, 'escape')]), 'forbidden', 'a symlink out of the roots is refused');
  t.equal(await refused(['relative/dir']), 'validation_failed');

  // Validation and errors.
  const bad = async (method: string, p: string, o: Parameters<typeof api>[3]) => {
    const r = await api(base, method, p, o);
    t.match(r.json, { error: { code: String, message: String } }, `${method} ${p}: error body`);
    return [r.status, r.json.error.code];
  };
  t.same(await bad('POST', '/api/catalogs', { body: { name: 'X', source_directories: ['/x'], extra: true } }), [400, 'validation_failed'], 'unknown field');
  t.same(await bad('POST', '/api/catalogs', { body: { name: 5, source_directories: ['/x'] } }), [400, 'validation_failed'], 'wrong type');
  t.same(await bad('POST', '/api/catalogs', { body: { source_directories: ['/x'] } }), [400, 'validation_failed'], 'missing field');
  t.same(await bad('POST', '/api/catalogs', { raw: '{"name": ', headers: { 'content-type': 'application/json' } }), [400, 'invalid_json']);
  t.same(await bad('POST', '/api/catalogs', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), [415, 'unsupported_media_type']);
  t.same(await bad('POST', '/api/catalogs', { raw: JSON.stringify({ name: 'x'.repeat(2_000_000) }), headers: { 'content-type': 'application/json' } }), [413, 'payload_too_large']);
  t.same(await bad('PATCH', `/api/catalogs/${cid}`, { body: {} }), [400, 'validation_failed'], 'empty patch');
  t.same(await bad('GET', '/api/catalogs/not-a-uuid', {}), [400, 'validation_failed']);
  t.same(await bad('GET', '/api/catalogs/00000000-0000-4000-8000-000000000000', {}), [404, 'not_found']);
  t.same(await bad('GET', '/api/nothing', {}), [404, 'not_found']);
  t.same(await bad('DELETE', '/api/jobs/scan', {}), [405, 'method_not_allowed']);
  t.same(await bad('GET', '/api/jobs?limit=100000', {}), [400, 'validation_failed']);

  const renamed = await api(base, 'PATCH', `/api/catalogs/${cid}/`, { body: { name: 'Renamed', settings: { note: 'x' } } });
  t.equal(renamed.status, 200);
  t.match(renamed.json, { name: 'Renamed', settings: { note: 'x' }, source_directories: [root] });

  // System endpoints.
  const health = await api(base, 'GET', '/health');
  t.equal(health.status, 200);
  t.match(health.json, { status: 'ok', mode, database: { ok: true }, redis: { ok: true, configured: mode === 'cluster' } });
  const metrics = await fetch(base + '/metrics').then((r) => r.text());
  t.match(metrics, /^lumina_workers \d+$/m);
  t.match(metrics, /^lumina_jobs\{status="completed"\} \d+$/m);
  t.match(metrics, /^lumina_http_requests_total\{code="2xx"\} \d+$/m);
  if (mode === 'cluster') t.match(metrics, /^lumina_queue_jobs\{queue="ingest",state="waiting"\} \d+$/m);
  t.equal(/^lumina_up\{service="redis"\} 1$/m.test(metrics), mode === 'cluster', 'Redis is reported where it is used');
  t.match(metrics, /^lumina_up\{service="database"\} 1$/m);
  const workers = await api(base, 'GET', '/api/workers');
  t.ok(workers.json.length >= 1, 'workers are listed');
  t.match(workers.json[0], { id: String, host: String, pid: Number, cores: Number, files_per_s: Number });

  const doc = (await api(base, 'GET', '/api/openapi.json')).json;
  t.equal(doc.openapi, '3.1.0');
  for (const p of ['/api/catalogs', '/api/catalogs/{id}', '/api/jobs/scan', '/api/jobs/{id}', '/api/jobs/{id}/cancel', '/api/catalogs/{id}/assets', '/api/jobs/duplicates', '/api/catalogs/{id}/duplicates', '/api/catalogs/{id}/duplicates/{group_id}', '/api/catalogs/{id}/duplicates/{group_id}/resolve', '/health', '/metrics', '/api/workers']) {
    t.ok(doc.paths[p], `openapi describes ${p}`);
  }
  t.equal(doc.components.schemas.ScanRequest.additionalProperties, false, 'the document carries the validating schema');
  t.same(doc.paths['/api/jobs/scan'].post.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/ScanRequest' });
  t.same(Object.keys(doc.paths['/api/catalogs/{id}/assets/{asset_id}/thumbnail'].get.responses['200'].content), ['image/jpeg', 'image/webp'], 'a raw answer lists its media types');
  t.notOk(doc.paths['/api/catalogs/{id}/assets/{asset_id}/original'].get.responses['200'].content, 'and a described one claims none');

  // Deleting a catalog drops its rows and thumbnails.
  const thumbs = path.join(dataDir, 'thumbnails', cid);
  t.ok(fs.existsSync(thumbs));
  t.equal((await api(base, 'DELETE', `/api/catalogs/${cid}`)).status, 204);
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}`)).status, 404);
  t.notOk(fs.existsSync(thumbs), 'thumbnails removed');
  t.ok(fs.existsSync(path.join(root, '2019', 'canon_0.jpg')), 'the photos themselves are untouched');
}

t.test('embedded serve: no Redis, jobs in-process, the same API', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const served = await startServe(t, env, ['--port', '8888']);
  t.equal(served.port, 8888);
  await originalCurls(t, 8888);
  await contract(t, served.url, 'embedded', config.dataDir);
  t.same(await served.stop('SIGTERM'), { code: 0, signal: null }, 'SIGTERM stops it cleanly');
});

t.test('cluster serve: jobs on a queue worker, the same API', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: redisPrefix(t), LUMINA_SHARD_SIZE: '4' };
  const served = await startServe(t, env, ['--port', '8888']);
  await startWorker(t, env, ['--concurrency', '2']);
  await waitFor('the worker heartbeat', async () => (await api(served.url, 'GET', '/api/workers')).json.length === 1);
  await originalCurls(t, 8888);
  await contract(t, served.url, 'cluster', config.dataDir);
});

t.test('serve refuses bad options with one line', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const { runCli } = await import('./helpers/cli.js');
  const r = await runCli(['serve', '--port', '99999'], { env });
  t.equal(r.code, 1);
  t.match(r.stderr, /port number/);
  const w = await runCli(['worker'], { env });
  t.equal(w.code, 2);
  t.match(w.stderr, /needs Redis/);
});
