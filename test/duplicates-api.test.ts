import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { Value } from '@sinclair/typebox/value';
import { DuplicateGroup, DuplicateMember, DuplicatePage } from '../src/api/schemas.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, redisPrefix, REDIS_URL, startServe, startWorker, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { photo, variant } from './helpers/variants.js';

/** Three pictures with edited copies, one byte-identical copy, a burst and a RAW-less format pair. */
async function library(t: Test): Promise<string> {
  const root = tmpDir(t, 'lumina-dupes-');
  for (let f = 0; f < 3; f++) {
    const original = await photo(300 + f, 800, 600);
    const dir = path.join(root, `trip-${f}`);
    fs.mkdirSync(dir, { recursive: true });
    await sharp(original).jpeg({ quality: 92 }).toFile(path.join(dir, 'original.jpg'));
    for (const v of ['resized', 'jpeg_q40', 'mirrored', 'rotate90'] as const) {
      const { bytes, ext } = await variant(original, v);
      fs.writeFileSync(path.join(dir, `${v}.${ext}`), bytes);
    }
  }
  fs.mkdirSync(path.join(root, 'backup'));
  fs.copyFileSync(path.join(root, 'trip-0', 'original.jpg'), path.join(root, 'backup', 'original copy.jpg'));
  // A burst: frames a second apart that look nearly alike. They are a burst, not near duplicates.
  const scene = await photo(900, 800, 600);
  fs.mkdirSync(path.join(root, 'burst'));
  for (let i = 0; i < 4; i++) {
    await sharp(scene)
      .modulate({ brightness: 1 + i * 0.02 })
      .withExif({ IFD0: { Make: 'Canon', Model: 'EOS R5' }, IFD2: { DateTimeOriginal: `2024:06:01 12:00:0${i}` } })
      .jpeg({ quality: 90 })
      .toFile(path.join(root, 'burst', `IMG_${i}.jpg`));
  }
  // One shot saved as JPEG and PNG: a format pair, not near duplicates.
  const shot = await photo(901, 800, 600);
  fs.mkdirSync(path.join(root, 'pair'));
  const exif = { IFD0: { Make: 'Sony', Model: 'A7' }, IFD2: { DateTimeOriginal: '2023:01:02 10:00:00' } };
  await sharp(shot).withExif(exif).jpeg({ quality: 90 }).toFile(path.join(root, 'pair', 'DSC_0001.jpg'));
  await sharp(shot).withExif(exif).png().toFile(path.join(root, 'pair', 'DSC_0001.png'));
  return root;
}

async function subscriber(base: string, catalogId: string) {
  const ws = new WebSocket(base.replace('http', 'ws') + '/ws');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const messages: any[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(JSON.stringify({ type: 'subscribe', catalog_id: catalogId }));
  await waitFor('subscribed', async () => messages.some((m) => m.type === 'subscribed'));
  return { ws, messages };
}

async function contract(t: Test, base: string, root: string) {
  const created = await api(base, 'POST', '/api/catalogs', { body: { name: 'Family', source_directories: [root] } });
  t.equal(created.status, 201, 'catalog created');
  const cid = created.json.id as string;
  const scan = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } });
  t.equal((await jobDone(base, scan.json.id)).status, 'completed');

  const sub = await subscriber(base, cid);
  const submitted = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid } });
  t.equal(submitted.status, 202, 'accepted');
  t.equal(submitted.json.type, 'duplicates');
  const done = await jobDone(base, submitted.json.id, undefined, 240_000);
  t.equal(done.status, 'completed', done.error ?? '');
  t.ok(done.result.embeddings_used > 0, `embeddings made and used (${done.result.embeddings_used})`);
  await waitFor('the completion event', async () => sub.messages.some((m) => m.type === 'job_completed' && m.job_id === submitted.json.id));
  const stages = new Set(sub.messages.filter((m) => m.type === 'job_progress' && m.job_id === submitted.json.id).map((m) => m.progress.stage));
  const working = ['plan', 'embed', 'load', 'search', 'group'];
  t.ok([...stages].some((s) => working.includes(s)) && [...stages].every((s) => s === 'queued' || working.includes(s)), `progress over the WebSocket, stages ${[...stages].join(', ')}`);
  sub.ws.close();

  const all = await api(base, 'GET', `/api/catalogs/${cid}/duplicates?limit=500`);
  t.equal(all.status, 200, 'groups listed');
  t.ok(Value.Check(DuplicatePage, [DuplicateGroup, DuplicateMember], all.json), `the page matches its OpenAPI schema ${[...Value.Errors(DuplicatePage, [DuplicateGroup, DuplicateMember], all.json)].slice(0, 2).map((e) => e.path + ' ' + e.message).join('; ')}`);
  const kinds = (k: string) => all.json.items.filter((g: { kind: string }) => g.kind === k);
  t.equal(kinds('exact').length, 1, 'one exact group');
  t.same(kinds('exact')[0].members.map((m: { path: string }) => m.path).sort(), [path.join(root, 'backup', 'original copy.jpg'), path.join(root, 'trip-0', 'original.jpg')]);
  t.equal(kinds('near').length, 3, 'one near group per picture');
  for (const g of kinds('near')) {
    const names = g.members.map((m: { path: string }) => path.basename(m.path)).sort();
    t.same(names, ['jpeg_q40.jpg', 'mirrored.jpg', 'original.jpg', 'resized.jpg', 'rotate90.jpg'], `${path.dirname(g.keeper)}: every copy, turned ones too`);
    t.ok(g.members.find((m: { path: string; orientation: string }) => m.path.endsWith('rotate90.jpg')).orientation.startsWith('rotate'), 'the turned copy says how it is turned');
    t.ok(g.members.every((m: { thumbnail_url: string | null }) => m.thumbnail_url?.startsWith(`/api/catalogs/${cid}/assets/`)));
  }
  t.equal(kinds('burst').length, 1, 'the burst is its own kind');
  t.equal(kinds('burst')[0].members.length, 4);
  t.equal(kinds('format_pair').length, 1, 'the JPEG + PNG of one shot are a format pair');

  // Filters and paging.
  const near = await api(base, 'GET', `/api/catalogs/${cid}/duplicates?kind=near&limit=2`);
  t.equal(near.json.items.length, 2);
  t.ok(near.json.next_cursor);
  const rest = await api(base, 'GET', `/api/catalogs/${cid}/duplicates?kind=near&limit=2&cursor=${near.json.next_cursor}`);
  t.equal(rest.json.items.length, 1);
  t.equal(rest.json.next_cursor, null);

  // Decisions: dismiss one group, resolve another, undo; nothing on disk changes.
  const [g1, g2] = near.json.items;
  const dismissed = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g1.id}/resolve`, { body: { status: 'dismissed' } });
  t.equal(dismissed.json.review_status, 'dismissed');
  const keepIds = g2.members.slice(0, 2).map((m: { asset_id: number }) => m.asset_id);
  const resolved = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g2.id}/resolve`, { body: { status: 'resolved', keep: keepIds } });
  t.equal(resolved.status, 200, resolved.text);
  t.same(resolved.json.members.filter((m: { decision: string }) => m.decision === 'keep').map((m: { asset_id: number }) => m.asset_id).sort(), [...keepIds].sort());
  t.equal(resolved.json.members.filter((m: { decision: string }) => m.decision === 'remove').length, 3, 'the others marked, not deleted');
  for (const m of g2.members) t.ok(fs.existsSync(m.path), 'every file still there');
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates?status=dismissed`)).json.items.length, 1, 'status filter');

  // Detection again: decisions persist.
  const again = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid } });
  t.equal((await jobDone(base, again.json.id, undefined, 240_000)).status, 'completed');
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${g1.id}`)).json.review_status, 'dismissed', 'a dismissed group stays dismissed');
  const stillResolved = await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${g2.id}`);
  t.equal(stillResolved.json.review_status, 'resolved', 'a resolved group stays resolved');
  t.equal(stillResolved.json.members.filter((m: { decision: string }) => m.decision === 'keep').length, 2, 'with its decisions');

  // A new copy of the dismissed picture reopens it, old decisions kept.
  const dir = path.dirname(g1.keeper);
  const original = fs.readFileSync(path.join(dir, 'original.jpg'));
  await sharp(original).resize(500).jpeg({ quality: 70 }).toFile(path.join(dir, 'new-copy.jpg'));
  const rescan = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } });
  t.equal((await jobDone(base, rescan.json.id)).status, 'completed');
  const third = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid } });
  t.equal((await jobDone(base, third.json.id, undefined, 240_000)).status, 'completed');
  const reopened = await api(base, 'GET', `/api/catalogs/${cid}/duplicates/${g1.id}`);
  t.equal(reopened.json.review_status, 'open', 'only a new member reopens it');
  t.ok(reopened.json.members.some((m: { path: string }) => m.path.endsWith('new-copy.jpg')));
  const undone = await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g2.id}/resolve`, { body: { status: 'open' } });
  t.ok(undone.json.members.every((m: { decision: string | null }) => m.decision === null), 'reopen clears the decisions (reversible)');

  // Refusals.
  t.equal((await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid, threshold: 99 } })).status, 400);
  t.equal((await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid, bogus: 1 } })).status, 400);
  t.equal((await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: '00000000-0000-0000-0000-000000000000' } })).status, 404);
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates/999999`)).status, 404);
  t.equal((await api(base, 'GET', `/api/catalogs/${cid}/duplicates?kind=other`)).status, 400);
  t.equal((await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g2.id}/resolve`, { body: { status: 'resolved', keep: [999999] } })).status, 400, 'keep must name members');
  t.equal((await api(base, 'POST', `/api/catalogs/${cid}/duplicates/${g2.id}/resolve`, { body: { status: 'deleted' } })).status, 400);
}

t.test('embedded serve: duplicates job, listing, review', async (t) => {
  const config = await configFor(t, 'pglite');
  const served = await startServe(t, envFor(config));
  await contract(t, served.url, await library(t));
});

t.test('cluster serve: the search sharded over queue workers', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: redisPrefix(t), LUMINA_SHARD_SIZE: '5' };
  const served = await startServe(t, env);
  // Two workers: one takes everything, the other only search slices.
  await startWorker(t, env, ['--concurrency', '2']);
  await startWorker(t, env, ['--queues', 'search']);
  await waitFor('both workers', async () => (await api(served.url, 'GET', '/api/workers')).json.length === 2);
  await contract(t, served.url, await library(t));
});

t.test('cluster: a worker SIGKILLed mid-detection; another takes its work and the groups are whole', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: redisPrefix(t), LUMINA_SHARD_SIZE: '5', LUMINA_EMBED_BATCH: '2' };
  const served = await startServe(t, env);
  const victim = await startWorker(t, env, ['--lock-ms', '2000']);
  await startWorker(t, env, ['--lock-ms', '2000']);
  await waitFor('both workers', async () => (await api(served.url, 'GET', '/api/workers')).json.length === 2);
  const root = await library(t);
  const cid = (await api(served.url, 'POST', '/api/catalogs', { body: { name: 'Kill', source_directories: [root] } })).json.id;
  const scan = await api(served.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } });
  t.equal((await jobDone(served.url, scan.json.id)).status, 'completed');

  const job = (await api(served.url, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid } })).json;
  // The victim is killed while it holds part of this job (an embed batch or a search slice).
  const busy = await waitFor(
    'the victim at work on the job',
    async () => {
      const state = (await api(served.url, 'GET', `/api/jobs/${job.id}`)).json.status;
      if (['completed', 'failed', 'cancelled'].includes(state)) return 'too late';
      const me = (await api(served.url, 'GET', '/api/workers')).json.find((w: { pid: number }) => w.pid === victim.proc.pid);
      return me?.active_shards > 0 ? 'busy' : null;
    },
    120_000,
    20,
  );
  t.equal(busy, 'busy', 'killed mid-job');
  t.equal((await victim.stop('SIGKILL')).signal, 'SIGKILL');
  const done = await jobDone(served.url, job.id, undefined, 240_000);
  t.equal(done.status, 'completed', done.error ?? 'completed');
  const groups = (await api(served.url, 'GET', `/api/catalogs/${cid}/duplicates?limit=500`)).json.items as { kind: string; members: unknown[] }[];
  const count = (k: string) => groups.filter((g) => g.kind === k).length;
  t.same([count('exact'), count('near'), count('burst'), count('format_pair')], [1, 3, 1, 1], 'every group, once');
  t.ok(groups.filter((g) => g.kind === 'near').every((g) => g.members.length === 5), 'every near group whole');
});
