import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { writePhoto } from './helpers/corpus.js';
import { treeDigest } from './helpers/organize.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, redisPrefix, REDIS_URL, startServe, startWorker, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// Organize over the API, embedded and on the queue: a plan made (201), read with its actions page
// by page, applied and rolled back as jobs (202) with live progress in files and bytes.

async function archive(t: Test, n: number) {
  const root = path.join(tmpDir(t), 'archive');
  for (let i = 0; i < n; i++) await writePhoto(path.join(root, `IMG_${i}.jpg`), { seed: i + 1, width: 1200, height: 900, dateTimeOriginal: `2016:03:0${1 + (i % 5)} 09:00:00` });
  return root;
}

async function scanned(url: string, root: string): Promise<string> {
  const cid = (await api(url, 'POST', '/api/catalogs', { body: { name: 'Api', source_directories: [root] } })).json.id as string;
  const job = (await api(url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } })).json;
  await jobDone(url, job.id);
  return cid;
}

function listen(port: number, jobId: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const messages: { type: string; progress?: Record<string, number>; result?: Record<string, unknown> }[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', job_id: jobId })));
  return { ws, messages };
}

async function flow(t: Test, url: string, port: number, root: string) {
  const original = treeDigest(root);
  const cid = await scanned(url, root);
  const dest = path.join(tmpDir(t), 'library');
  const bad = await api(url, 'POST', `/api/catalogs/${cid}/organize/plans`, { body: { dest: 'relative/path' } });
  t.equal(bad.status, 400, 'a relative dest is refused');
  const badTemplate = await api(url, 'POST', `/api/catalogs/${cid}/organize/plans`, { body: { dest, template: '../{filename}' } });
  t.equal(badTemplate.status, 400);
  t.equal(badTemplate.json.error.code, 'invalid_template');
  const made = await api(url, 'POST', `/api/catalogs/${cid}/organize/plans`, { body: { dest, mode: 'move', min_confidence: 60 } });
  t.equal(made.status, 201, made.text);
  t.match(made.json, { mode: 'move', status: 'planned', min_confidence: 60, summary: { files: 12, placed: 12 } });
  const id = made.json.id as string;
  t.equal(made.headers.get('location'), `/api/organize/plans/${id}`);
  t.equal((await api(url, 'GET', `/api/catalogs/${cid}/organize/plans`)).json.items.length, 1);
  const page1 = (await api(url, 'GET', `/api/organize/plans/${id}?limit=5`)).json;
  const page2 = (await api(url, 'GET', `/api/organize/plans/${id}?limit=5&cursor=${page1.next_cursor}`)).json;
  t.same([page1.actions.length, page2.actions.length, page2.actions[0].seq], [5, 5, 5], 'actions come in pages');
  t.equal((await api(url, 'GET', '/api/organize/plans/00000000-0000-4000-8000-000000000000')).status, 404);
  const wrongCatalog = await api(url, 'POST', '/api/jobs/organize', { body: { catalog_id: '00000000-0000-4000-8000-000000000000', plan_id: id } });
  t.equal(wrongCatalog.status, 404, 'a plan is applied only on its own catalog');
  t.equal((await api(url, 'POST', '/api/jobs/organize-rollback', { body: { catalog_id: cid, plan_id: id } })).status, 409, 'nothing to roll back yet');

  const job = await api(url, 'POST', '/api/jobs/organize', { body: { catalog_id: cid, plan_id: id } });
  t.equal(job.status, 202, job.text);
  const events = listen(port, job.json.id);
  const done = await jobDone(url, job.json.id);
  t.match(done, { status: 'completed', result: { done: 12, failed: 0, plan_status: 'applied' } });
  await waitFor('the completion event', async () => events.messages.find((m) => m.type === 'job_completed'), 10_000);
  const progress = events.messages.filter((m) => m.type === 'job_progress' || m.type === 'job_completed');
  t.ok(progress.some((m) => (m.progress?.bytes_total ?? 0) > 0), 'progress says bytes');
  events.ws.close();
  t.same(treeDigest(root), [], 'moved');
  t.equal(treeDigest(dest).length, 12);

  const back = await api(url, 'POST', '/api/jobs/organize-rollback', { body: { catalog_id: cid, plan_id: id } });
  t.equal(back.status, 202);
  t.match(await jobDone(url, back.json.id), { status: 'completed', result: { done: 12, conflicts: 0, plan_status: 'rolled_back' } });
  t.same(treeDigest(root), original, 'rolled back byte for byte');
  t.notOk(fs.existsSync(dest));
}

t.test('organize over the API, embedded', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = await archive(t, 12);
  const s = await startServe(t, envFor(config));
  await flow(t, s.url, s.port, root);
});

t.test('organize on the queue: only a worker that takes organize runs it', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: redisPrefix(t), LUMINA_SHARD_SIZE: '5' };
  const root = await archive(t, 12);
  const s = await startServe(t, env);
  await startWorker(t, env, ['--concurrency', '2']);
  await startWorker(t, env, ['--queues', 'organize']);
  const workers = await waitFor('both workers', async () => {
    const list = (await api(s.url, 'GET', '/api/workers')).json as { queues: string[] }[];
    return list.length === 2 ? list : null;
  });
  t.same(workers.map((w) => w.queues.includes('organize')).sort(), [false, true], 'a worker takes organize only when asked');
  await flow(t, s.url, s.port, root);
});
