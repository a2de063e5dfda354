import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, redisPrefix, REDIS_URL, startServe, startWorker, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = any;

/** A WebSocket client that keeps every message it gets. */
async function client(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const messages: Msg[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (pred: (m: Msg) => boolean, what: string, timeoutMs = 60_000) => waitFor(what, async () => messages.find(pred), timeoutMs, 20);
  return { ws, messages, send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)), next };
}

async function photos(t: Test, n: number): Promise<string> {
  const root = tmpDir(t, 'lumina-ws-');
  for (let i = 0; i < n; i++) await writePhoto(path.join(root, `d${i % 3}`, `p${i}.jpg`), { seed: i + 1, width: 800, height: 600 });
  return root;
}

function checkEventStream(t: Test, events: Msg[], jobId: string, files: number) {
  const progress = events.filter((m) => m.type === 'job_progress' && m.job_id === jobId);
  t.ok(progress.length >= 2, `progress events arrived (${progress.length})`);
  const dones = progress.map((m) => m.progress.done);
  t.same(dones, [...dones].sort((a, b) => a - b), 'progress never moves backwards');
  t.ok(progress.every((m) => ['done', 'total', 'failed', 'rate', 'eta_s', 'stage'].every((k) => k in m.progress)), 'progress has every field');
  const final = events.filter((m) => m.job_id === jobId && m.type !== 'job_progress');
  t.equal(final.length, 1, 'one final event');
  t.match(final[0], { type: 'job_completed', status: 'completed', progress: { done: files, total: files }, result: { files_seen: files } });
  t.equal(events.indexOf(final[0]), events.length - 1 - events.slice(events.indexOf(final[0]) + 1).length, 'nothing about the job after its end');
  t.notOk(events.slice(events.indexOf(final[0]) + 1).some((m) => m.job_id === jobId), 'no progress after completion');
}

async function protocolErrors(t: Test, wsUrl: string) {
  const c = await client(wsUrl);
  c.send('not json');
  c.send({ type: 'dance' });
  c.send({ type: 'subscribe', job_id: 'x' });
  c.send({ type: 'subscribe', job_id: '00000000-0000-4000-8000-000000000000' });
  c.send({ type: 'subscribe' });
  await waitFor('five answers', async () => c.messages.length >= 5);
  t.same(
    c.messages.map((m) => [m.type, m.error.code]),
    [
      ['error', 'invalid_message'],
      ['error', 'invalid_message'],
      ['error', 'invalid_message'],
      ['error', 'not_found'],
      ['error', 'invalid_message'],
    ],
    'bad messages get errors, and the connection stays',
  );
  t.equal(c.ws.readyState, WebSocket.OPEN);
  c.ws.close();
}

t.test('cluster: events travel from workers through Redis to every API instance', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: redisPrefix(t), LUMINA_SHARD_SIZE: '5' };
  const files = 40;
  const root = await photos(t, files);
  const [a, b] = await Promise.all([startServe(t, env), startServe(t, env)]);
  await startWorker(t, env, ['--concurrency', '2']);

  const cid = (await api(a.url, 'POST', '/api/catalogs', { body: { name: 'Live', source_directories: [root] } })).json.id;
  // The subscriber listens on API instance B; the job is submitted through A.
  const byCatalog = await client(`ws://127.0.0.1:${b.port}/ws`);
  byCatalog.send({ type: 'subscribe', catalog_id: cid });
  await byCatalog.next((m) => m.type === 'subscribed', 'subscribed');
  t.same(byCatalog.messages[0], { type: 'subscribed', catalog_id: cid });

  const job = (await api(a.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } })).json;
  const byJob = await client(`ws://127.0.0.1:${a.port}/ws`);
  byJob.send({ type: 'subscribe', job_id: job.id });
  await byCatalog.next((m) => m.type === 'job_completed', 'job_completed on B', 120_000);
  await byJob.next((m) => m.type === 'job_completed', 'job_completed on A');
  checkEventStream(t, byCatalog.messages.slice(1), job.id, files);
  t.match(byJob.messages[0], { type: 'subscribed', job_id: job.id });
  t.match(byJob.messages[1], { job_id: job.id }, 'the current state comes right after subscribing');

  // GET /api/jobs/:id on B answers from state B learned by events.
  const viaB = await api(b.url, 'GET', `/api/jobs/${job.id}`);
  t.match(viaB.json, { status: 'completed', progress: { done: files } });

  // After a job ended, a new subscriber still hears how it ended.
  const late = await client(`ws://127.0.0.1:${b.port}/ws`);
  late.send({ type: 'subscribe', job_id: job.id });
  await late.next((m) => m.type === 'job_completed', 'late subscriber told the outcome');
  late.send({ type: 'unsubscribe', job_id: job.id });
  await late.next((m) => m.type === 'unsubscribed', 'unsubscribed');

  await protocolErrors(t, `ws://127.0.0.1:${a.port}/ws`);
  for (const c of [byCatalog, byJob, late]) c.ws.close();
});

t.test('embedded: the same events without Redis', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = { ...envFor(config), LUMINA_SHARD_SIZE: '5' };
  const files = 30;
  const root = await photos(t, files);
  const s = await startServe(t, env);
  const cid = (await api(s.url, 'POST', '/api/catalogs', { body: { name: 'Local', source_directories: [root] } })).json.id;
  const c = await client(`ws://127.0.0.1:${s.port}/ws`);
  c.send({ type: 'subscribe', catalog_id: cid });
  await c.next((m) => m.type === 'subscribed', 'subscribed');
  const job = (await api(s.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } })).json;
  await c.next((m) => m.type === 'job_completed', 'job_completed', 120_000);
  checkEventStream(t, c.messages.slice(1), job.id, files);

  // A job that ends otherwise is announced as job_failed, with its status and reason. Jobs run one
  // at a time here, so a job queued behind a busy one is surely still there to cancel. (A second
  // scan of the catalog is refused while the first is active; a duplicates run may queue.)
  for (let i = 0; i < 10; i++) await writePhoto(path.join(root, 'more', `m${i}.jpg`), { seed: 100 + i, width: 800, height: 600 });
  const busy = (await api(s.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } })).json;
  t.equal((await api(s.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid } })).status, 409, 'one scan of a catalog at a time');
  const second = (await api(s.url, 'POST', '/api/jobs/duplicates', { body: { catalog_id: cid } })).json;
  t.equal((await api(s.url, 'POST', `/api/jobs/${second.id}/cancel`)).status, 200);
  await c.next((m) => m.type === 'job_completed' && m.job_id === busy.id, 'the busy job completes', 120_000);
  const failed = await c.next((m) => m.type === 'job_failed' && m.job_id === second.id, 'job_failed');
  t.match(failed, { status: 'cancelled', error: 'cancelled by request', catalog_id: cid });
  await protocolErrors(t, `ws://127.0.0.1:${s.port}/ws`);
  c.ws.close();
});

t.test('a client that stops reading is closed; the server and other clients go on', async (t) => {
  const config = await configFor(t, 'postgres');
  const prefix = redisPrefix(t);
  const env = { ...envFor(config), REDIS_URL, LUMINA_QUEUE_PREFIX: prefix };
  const s = await startServe(t, env);
  const cid = (await api(s.url, 'POST', '/api/catalogs', { body: { name: 'Busy', source_directories: ['/nowhere'] } })).json.id;

  // The slow client: a bare socket that subscribes, then never reads again.
  const slow = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => slow.once('connect', r));
  slow.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise((r) => slow.once('data', r)); // 101 Switching Protocols
  const payload = Buffer.from(JSON.stringify({ type: 'subscribe', catalog_id: cid }));
  const mask = randomBytes(4);
  slow.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
  await new Promise((r) => setTimeout(r, 300));
  slow.pause();
  let slowClosed = false;
  slow.on('close', () => (slowClosed = true));
  slow.on('error', () => {});

  const fast = await client(`ws://127.0.0.1:${s.port}/ws`);
  fast.send({ type: 'subscribe', catalog_id: cid });
  await fast.next((m) => m.type === 'subscribed', 'subscribed');

  // 60 000 events of distinct jobs (~15 MB per subscriber), published as workers publish them.
  const redis = new Redis(REDIS_URL);
  t.teardown(() => redis.disconnect());
  const channel = `${prefix}:events`;
  const healthMs: number[] = [];
  for (let batch = 0; batch < 30; batch++) {
    const p = redis.pipeline();
    for (let i = 0; i < 2000; i++) {
      const id = `00000000-0000-4000-8000-${String(batch * 2000 + i).padStart(12, '0')}`;
      p.publish(channel, JSON.stringify({ type: 'job_progress', job_id: id, catalog_id: cid, job_type: 'scan', status: 'running', progress: { done: 1, total: 9, failed: 0, rate: 1, eta_s: 8, stage: 'ingest' } }));
    }
    await p.exec();
    const t0 = performance.now();
    t.equal((await api(s.url, 'GET', '/health')).status, 200);
    healthMs.push(performance.now() - t0);
  }
  t.ok(Math.max(...healthMs) < 2000, `the server kept answering (slowest /health ${Math.round(Math.max(...healthMs))} ms)`);
  slow.resume(); // drain what the kernel holds; the server has closed its end by now
  await waitFor('the slow client to be closed', async () => slowClosed, 30_000, 50);
  t.pass('the slow client was closed');
  await waitFor('the fast client to get its events', async () => fast.messages.length > 50_000, 60_000, 100);
  t.equal(fast.ws.readyState, WebSocket.OPEN, 'the reading client stays connected');
  fast.ws.close();
});
