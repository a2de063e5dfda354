import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { Value } from '@sinclair/typebox/value';
import { DuplicateGroup, DuplicateMember, DuplicatePage } from '../src/api/schemas.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { photo } from './helpers/variants.js';

// What the review UI reads and sends: the built app's files, an asset's original (ranges), the
// duplicate queue's orders and totals, stale decisions, bulk keep-suggested, a job's failed files.

/** Pictures each with a byte-identical copy (a different size each), one grainy large picture, a damaged file. */
async function library(t: Test): Promise<string> {
  const root = tmpDir(t, 'lumina-review-');
  for (let i = 0; i < 3; i++) {
    const dir = path.join(root, `set-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'a.jpg');
    await sharp(await photo(500 + i, 400 + i * 300, 300 + i * 200))
      .withExif({ IFD0: { Make: 'Canon', Model: 'EOS R5' }, IFD2: { DateTimeOriginal: `202${i}:03:04 10:00:00` } })
      .jpeg({ quality: 90 })
      .toFile(file);
    fs.copyFileSync(file, path.join(dir, 'a copy.jpg'));
  }
  // Large enough that sending it meets the socket's backpressure.
  await sharp({ create: { width: 1800, height: 1400, channels: 3, background: 'black', noise: { type: 'gaussian', mean: 128, sigma: 70 } } })
    .jpeg({ quality: 98 })
    .toFile(path.join(root, 'grain.jpg'));
  await sharp(await photo(600, 320, 240)).jpeg().toFile(path.join(root, 'swap.jpg'));
  await sharp(await photo(601, 320, 240)).jpeg().toFile(path.join(root, 'gone.jpg'));
  fs.writeFileSync(path.join(root, 'broken.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(4000, 7)]));
  return root;
}

/** A request sent as written, unnormalized (fetch would resolve the dots itself). */
function rawGet(port: number, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('error', reject);
    socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), text: data }));
  });
}

t.test('serve: the web app, originals, the duplicate queue, stale and bulk decisions, failed files', async (t) => {
  const web = tmpDir(t, 'lumina-web-');
  fs.writeFileSync(path.join(path.dirname(web), `${path.basename(web)}-secret.txt`), 'secret');
  t.teardown(() => fs.rmSync(path.join(path.dirname(web), `${path.basename(web)}-secret.txt`), { force: true }));
  const config = await configFor(t, 'pglite');
  const served = await startServe(t, envFor(config), ['--web-root', web]);
  const base = served.url;
  t.ok(await waitFor('the UI URL', async () => served.output().includes(`web UI at http://127.0.0.1:${served.port}/`), 10_000), 'the UI URL is printed');

  await t.test('the web app', async (t) => {
    const unbuilt = await api(base, 'GET', '/');
    t.equal(unbuilt.status, 404, 'no app built yet');
    t.match(unbuilt.text, /not built.*npm run build/);
    fs.mkdirSync(path.join(web, 'assets'));
    fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><script type="module" src="/assets/app-1a2b3c.js"></script>');
    fs.writeFileSync(path.join(web, 'assets', 'app-1a2b3c.js'), 'console.log(1)');
    fs.writeFileSync(path.join(web, 'assets', 'app-1a2b3c.css'), 'body{}');
    fs.writeFileSync(path.join(web, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');

    const index = await api(base, 'GET', '/');
    t.equal(index.status, 200);
    t.match(index.headers.get('content-type'), /^text\/html/);
    t.equal(index.headers.get('cache-control'), 'no-cache');
    t.match(index.text, 'app-1a2b3c.js');
    const deep = await api(base, 'GET', '/catalogs/0b5e1ad2-0000-4000-8000-000000000000/duplicates?kind=near');
    t.equal(deep.status, 200, 'a deep link is the app');
    t.equal(deep.text, index.text);
    t.equal(deep.headers.get('cache-control'), 'no-cache');
    const js = await api(base, 'GET', '/assets/app-1a2b3c.js');
    t.equal(js.status, 200);
    t.match(js.headers.get('content-type'), /^text\/javascript/);
    t.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed assets cached for good');
    t.match((await api(base, 'GET', '/assets/app-1a2b3c.css')).headers.get('content-type'), /^text\/css/);
    const icon = await api(base, 'GET', '/favicon.svg');
    t.equal(icon.headers.get('content-type'), 'image/svg+xml');
    t.equal(icon.headers.get('cache-control'), 'no-cache');
    t.equal((await api(base, 'GET', '/assets/app-000000.js')).status, 404, 'a missing asset is not the app');
    const headIndex = await api(base, 'HEAD', '/');
    t.equal(headIndex.status, 200);
    t.equal(headIndex.text, '');
    t.equal((await api(base, 'GET', '/api/no-such-thing')).json?.error?.code, 'not_found', 'API paths stay the API’s');
    t.equal((await api(base, 'GET', '/health')).status, 200);
    // Rebuilt while serving: the new index is served.
    fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><p>v2</p>');
    t.match((await api(base, 'GET', '/')).text, 'v2');

    const secret = `${path.basename(web)}-secret.txt`;
    for (const target of [`/../${secret}`, `/assets/../../${secret}`, `/assets/%2e%2e/%2e%2e/${secret}`, `/..%2f${secret}`, `/assets/..%5c..%5c${secret}`, '/assets/x%00.js']) {
      const r = await rawGet(served.port, target);
      t.notOk(r.text.includes('secret'), `${target}: nothing outside the web root`);
      t.ok(r.status === 400 || r.status === 404, `${target}: refused (${r.status})`);
    }
    fs.symlinkSync(path.join(path.dirname(web), secret), path.join(web, 'assets', 'link.txt'));
    t.equal((await api(base, 'GET', '/assets/link.txt')).status, 404, 'a link out of the web root is not followed');
  });

  const root = await library(t);
  const cid = (await api(base, 'POST', '/api/catalogs', { body: { name: 'Review', source_directories: [root] } })).json.id as string;
  const scan = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } });
  t.equal((await jobDone(base, scan.json.id)).status, 'completed');
  const assets = (await api(base, 'GET', `/api/catalogs/${cid}/assets?limit=100`)).json.items as { id: number; path: string; status: string; original_url: string }[];
  const byName = (name: string) => assets.find((a) => path.basename(a.path) === name)!;

  await t.test('an asset’s original', async (t) => {
    const grain = byName('grain.jpg');
    t.equal(grain.original_url, `/api/catalogs/${cid}/assets/${grain.id}/original`, 'the asset view links its file');
    const bytes = fs.readFileSync(grain.path);
    const size = bytes.length;
    t.ok(size > 1_000_000, `a large file (${size} bytes)`);
    const whole = await fetch(base + grain.original_url);
    t.equal(whole.status, 200);
    t.equal(whole.headers.get('content-type'), 'image/jpeg');
    t.equal(whole.headers.get('accept-ranges'), 'bytes');
    t.equal(whole.headers.get('content-length'), String(size));
    const got = Buffer.from(await whole.arrayBuffer());
    t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(bytes).digest('hex'), 'every byte, streamed');

    const ranged = async (range: string) => {
      const r = await fetch(base + grain.original_url, { headers: { range } });
      return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
    };
    const first = await ranged('bytes=0-99');
    t.equal(first.status, 206);
    t.equal(first.headers.get('content-range'), `bytes 0-99/${size}`);
    t.same(first.body, bytes.subarray(0, 100));
    const middle = await ranged('bytes=500000-');
    t.equal(middle.headers.get('content-range'), `bytes 500000-${size - 1}/${size}`);
    t.ok(middle.body.equals(bytes.subarray(500000)), 'from an offset to the end');
    const tail = await ranged('bytes=-50');
    t.equal(tail.status, 206);
    t.same(tail.body, bytes.subarray(size - 50));
    const past = await ranged(`bytes=${size}-`);
    t.equal(past.status, 416);
    t.equal(past.headers.get('content-range'), `bytes */${size}`);
    const head = await fetch(base + grain.original_url, { method: 'HEAD' });
    t.equal(head.status, 200);
    t.equal(head.headers.get('content-length'), String(size));
    t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD: no body');
    const headRange = await fetch(base + grain.original_url, { method: 'HEAD', headers: { range: 'bytes=10-19' } });
    t.equal(headRange.status, 206);
    t.equal(headRange.headers.get('content-length'), '10');

    // A client that goes away mid-file costs the server nothing lasting.
    const abort = new AbortController();
    const partial = await fetch(base + grain.original_url, { signal: abort.signal });
    await partial.body!.getReader().read();
    abort.abort();
    t.equal((await ranged('bytes=0-9')).status, 206, 'still serving after an aborted download');

    const gone = byName('gone.jpg');
    fs.rmSync(gone.path);
    const missing = await api(base, 'GET', gone.original_url);
    t.equal(missing.status, 404);
    t.equal(missing.json.error.code, 'file_missing');

    // The file swapped for a link out of the source directories since the scan.
    const swap = byName('swap.jpg');
    const outside = path.join(tmpDir(t, 'lumina-outside-'), 'private.jpg');
    fs.writeFileSync(outside, 'private bytes');
    fs.rmSync(swap.path);
    fs.symlinkSync(outside, swap.path);
    const refused = await api(base, 'GET', swap.original_url);
    t.equal(refused.status, 403, 'a link out of the roots is refused');
    t.notOk(refused.text.includes('private bytes'));
    t.equal((await api(base, 'GET', `/api/catalogs/${cid}/assets/999999/original`)).status, 404);
  });

  await t.test('a scan’s failed files', async (t) => {
    const failures = await api(base, 'GET', `/api/jobs/${scan.json.id}/failures`);
    t.equal(failures.status, 200, failures.text);
    const broken = failures.json.items.find((f: { path: string }) => f.path.endsWith('broken.jpg'));
    t.ok(broken, 'the damaged file is listed');
    t.equal(broken?.asset_id, byName('broken.jpg').id);
    t.type(broken?.code, 'string');
    t.ok(broken?.message);
    t.equal(failures.json.next_cursor, null);
    const paged = await api(base, 'GET', `/api/jobs/${scan.json.id}/failures?limit=1`);
    t.equal(paged.json.items.length, 1);
    t.equal(paged.json.next_cursor, String(broken.asset_id));
    t.same((await api(base, 'GET', `/api/jobs/${scan.json.id}/failures?cursor=${paged.json.next_cursor}`)).json.items, [], 'after the last');
    t.equal((await api(base, 'GET', '/api/jobs/00000000-0000-4000-8000-000000000000/failures')).status, 404);
  });

  const detect = async () => {
    const job = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid, embeddings: 'off' } });
    t.equal((await jobDone(base, job.json.id, undefined, 240_000)).status, 'completed');
  };
  await detect();
  const list = async (query: string) => (await api(base, 'GET', `/api/catalogs/${cid}/duplicates?${query}`)).json;

  await t.test('the duplicate queue: orders, offsets, totals, what a group frees', async (t) => {
    const all = await list('limit=500');
    t.ok(Value.Check(DuplicatePage, [DuplicateGroup, DuplicateMember], all), `the page matches its schema ${[...Value.Errors(DuplicatePage, [DuplicateGroup, DuplicateMember], all)].slice(0, 2).map((e) => e.path + ' ' + e.message).join('; ')}`);
    const exact = all.items.filter((g: { kind: string }) => g.kind === 'exact');
    t.equal(exact.length, 3, 'three exact groups');
    t.equal(all.total, all.items.length);
    t.equal(all.next_offset, null);
    for (const g of exact) {
      const others = g.members.filter((m: { asset_id: number }) => m.asset_id !== g.keeper_asset_id);
      t.equal(g.bytes_reclaimable, others.reduce((n: number, m: { size: number }) => n + m.size, 0), 'bytes_reclaimable: the copies other than the keeper');
      t.equal(g.version, 1);
      t.match(g.taken_at, /^202\d-03-04T10:00:00\.000Z$/, 'the keeper’s capture time');
      for (const m of g.members) {
        t.match(m, { file_type: 'image', ext: 'jpg', make: 'Canon', model: 'EOS R5', original_url: `/api/catalogs/${cid}/assets/${m.asset_id}/original` });
      }
    }
    const bytes = await list('kind=exact&sort=bytes');
    t.same(bytes.items.map((g: { bytes_reclaimable: number }) => g.bytes_reclaimable), exact.map((g: { bytes_reclaimable: number }) => g.bytes_reclaimable).sort((a: number, b: number) => b - a), 'largest first');
    t.equal(bytes.next_cursor, null);
    const asc = await list('kind=exact&sort=bytes&dir=asc');
    t.same(asc.items.map((g: { id: number }) => g.id), [...bytes.items].reverse().map((g: { id: number }) => g.id));
    const dates = await list('kind=exact&sort=date');
    t.same(dates.items.map((g: { taken_at: string }) => g.taken_at), exact.map((g: { taken_at: string }) => g.taken_at).sort().reverse(), 'newest first');
    // Offsets through a sorted queue: every group once.
    const seen: number[] = [];
    for (let offset: number | null = 0; offset !== null; ) {
      const page = await list(`sort=bytes&limit=1&offset=${offset}`);
      t.equal(page.total, all.total, 'total on every page');
      seen.push(...page.items.map((g: { id: number }) => g.id));
      offset = page.next_offset;
      if (seen.length > 50) break;
    }
    t.same([...seen].sort((a, b) => a - b), all.items.map((g: { id: number }) => g.id).sort((a: number, b: number) => a - b));
    const desc = await list('kind=exact&sort=id&dir=desc&limit=2');
    t.same(desc.items.map((g: { id: number }) => g.id), exact.map((g: { id: number }) => g.id).sort((a: number, b: number) => b - a).slice(0, 2));
    const rest = await list(`kind=exact&sort=id&dir=desc&limit=2&cursor=${desc.next_cursor}`);
    t.equal(rest.items.length, 1, 'the keyset runs the way of the order');
    t.equal((await list('kind=exact&status=resolved')).total, 0);
    t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates?sort=size`)).status, 400);
    t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates?sort=bytes&cursor=5`)).status, 400, 'a cursor is for sort=id');
    t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates?offset=-1`)).status, 400);
  });

  await t.test('a decision on a stale group is refused', async (t) => {
    const [g] = (await list('kind=exact&limit=1')).items;
    const first = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g.id}/resolve`, { body: { status: 'dismissed', if_version: g.version } });
    t.equal(first.status, 200, first.text);
    t.equal(first.json.version, g.version + 1);
    const second = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g.id}/resolve`, { body: { status: 'resolved', if_version: g.version } });
    t.equal(second.status, 409);
    t.equal(second.json.error.code, 'stale_group');
    t.match(second.json.error.message, `version ${g.version + 1}`);
    const now = (await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${g.id}`)).json;
    t.equal(now.review_status, 'dismissed', 'nothing changed');
    t.equal(now.version, g.version + 1);
    t.ok(now.members.every((m: { decision: string | null }) => m.decision === null));

    // Detection that adds a copy to the dismissed group moves its version on.
    const untouched = (await list('kind=exact&limit=3')).items.find((x: { id: number }) => x.id !== g.id);
    fs.copyFileSync(g.keeper, path.join(path.dirname(g.keeper), 'a third copy.jpg'));
    const rescan = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } });
    t.equal((await jobDone(base, rescan.json.id)).status, 'completed');
    await detect();
    const grown = (await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${g.id}`)).json;
    t.equal(grown.members.length, g.members.length + 1, 'the new copy joined');
    t.equal(grown.review_status, 'open');
    t.ok(grown.version > now.version, `version ${now.version} → ${grown.version}`);
    const stale = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g.id}/resolve`, { body: { status: 'resolved', if_version: now.version } });
    t.equal(stale.status, 409, 'a decision made before detection ran again is stale');
    t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${untouched.id}`)).json.version, untouched.version, 'a group detection left as it was keeps its version');
    const plain = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g.id}/resolve`, { body: { status: 'resolved' } });
    t.equal(plain.status, 200, 'without if_version, as before');
    t.equal(plain.json.version, grown.version + 1);
  });

  await t.test('bulk: keep the suggested keeper', async (t) => {
    const open = await list('status=open&limit=500');
    const preview = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/bulk-resolve`, { body: { dry_run: true } });
    t.equal(preview.status, 200, preview.text);
    t.equal(preview.json.groups, open.total, 'every open group has a keeper here');
    t.same([...preview.json.group_ids].sort(), open.items.map((g: { id: number }) => g.id).sort());
    t.equal(preview.json.bytes_reclaimable, open.items.reduce((n: number, g: { bytes_reclaimable: number }) => n + g.bytes_reclaimable, 0));
    t.equal((await list('status=open')).total, open.total, 'a dry run decides nothing');
    t.ok(preview.json.groups >= 2, `groups to decide (${preview.json.groups})`);

    // One of them decided by hand after the preview.
    const [taken, ...others] = preview.json.group_ids as number[];
    await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${taken}/resolve`, { body: { status: 'dismissed' } });
    const applied = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/bulk-resolve`, { body: { dry_run: false, group_ids: preview.json.group_ids } });
    t.equal(applied.status, 200, applied.text);
    t.equal(applied.json.resolved, preview.json.groups - 1);
    t.same(applied.json.failed.map((f: { group_id: number; code: string }) => [f.group_id, f.code]), [[taken, 'stale_group']]);
    const expected = open.items.filter((g: { id: number }) => g.id !== taken).reduce((n: number, g: { bytes_reclaimable: number }) => n + g.bytes_reclaimable, 0);
    t.equal(applied.json.bytes_reclaimable, expected);
    t.equal((await list('status=open')).total, 0, 'none left open');
    for (const id of others) {
      const g = (await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${id}`)).json;
      t.equal(g.review_status, 'resolved');
      t.same(g.members.map((m: { asset_id: number; decision: string }) => m.decision), g.members.map((m: { asset_id: number }) => (m.asset_id === g.keeper_asset_id ? 'keep' : 'remove')), `group ${id}: the keeper kept, the others marked`);
    }
    const again = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/bulk-resolve`, { body: { dry_run: false } });
    t.same(again.json, { resolved: 0, bytes_reclaimable: 0, failed: [] }, 'nothing left to decide');
    t.equal((await api(base, 'POST', `/api/catalogs/${cid}/duplicates/bulk-resolve`, { body: { kind: 'other', dry_run: true } })).status, 400);
    t.equal((await api(base, 'POST', `/api/catalogs/${cid}/duplicates/bulk-resolve`, { body: {} })).status, 400, 'dry_run is required');
  });

  t.equal((await api(base, 'GET', '/api/openapi.json')).json.paths['/api/catalogs/{id}/duplicates/bulk-resolve'].post['x-lumina-access'], 'write');
});
