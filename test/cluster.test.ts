import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import t, { type Test } from 'tap';
import { writePhoto } from './helpers/corpus.js';
import { makeHosts, ownRedis, type Host } from './helpers/netns.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe, startWorker, waitFor, type Proc } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { isThumbnailFile } from '../src/pipeline/pixels.js';

const FILES = 180;

/**
 * The multi-host story: an API instance and three workers, each worker in a network namespace of
 * its own (a host as far as the network goes) where the machine allows, on loopback otherwise.
 */
t.test('three workers on separate hosts: SIGKILL, SIGTERM and a Redis restart mid-job; every file exactly once', async (t) => {
  const base = tmpDir(t, 'lumina-cluster-');
  const redis = await ownRedis(t, path.join(base, 'redis'));
  const config = await configFor(t, 'postgres');
  if (config.database.kind !== 'postgres') throw new Error('postgres expected');
  const dbUrl = new URL(config.database.url);

  const hosts = makeHosts(t, 3, [Number(dbUrl.port || 5432), redis.port]);
  t.comment(hosts ? `workers in network namespaces ${hosts.map((h) => h.name).join(', ')}` : 'network namespaces not allowed here: workers on loopback');
  const envOn = (host: Host | null) => {
    const db = new URL(config.database.kind === 'postgres' ? config.database.url : '');
    const r = new URL(redis.url);
    if (host) {
      db.hostname = host.serviceIp;
      r.hostname = host.serviceIp;
    }
    return { ...envFor(config), DATABASE_URL: db.toString(), REDIS_URL: r.toString(), LUMINA_QUEUE_PREFIX: 'lumina', LUMINA_SHARD_SIZE: '10', LUMINA_WORKERS: '1' };
  };

  const served = await startServe(t, envOn(null));
  const workerArgs = ['--concurrency', '1', '--lock-ms', '3000', '--grace-s', '0'];
  const workers: Proc[] = [];
  for (let i = 0; i < 3; i++) workers.push(await startWorker(t, envOn(hosts?.[i] ?? null), workerArgs, hosts?.[i]?.prefix ?? []));
  await waitFor('three heartbeats', async () => (await api(served.url, 'GET', '/api/workers')).json.length === 3);
  const sql = postgres(config.database.url, { onnotice: () => {}, max: 2 });
  t.teardown(() => sql.end());

  /** A scan of a fresh tree, with `disrupt` run once a quarter of it is done. */
  /** A worker in the middle of a shard, as its heartbeat says (sent within 200 ms of a change). */
  const busyWorker = async () => {
    const busy = await waitFor('a busy worker', async () => {
      const list = (await api(served.url, 'GET', '/api/workers')).json as { pid: number; active_shards: number }[];
      return list.find((w) => w.active_shards > 0 && workers.some((p) => p.proc.pid === w.pid));
    }, 30_000, 50);
    return workers.find((w) => w.proc.pid === busy.pid)!;
  };

  async function scanWith(t: Test, name: string, disrupt: () => Promise<void>, shardSize = 10) {
    const root = path.join(base, name);
    for (let i = 0; i < FILES; i++) await writePhoto(path.join(root, `d${i % 6}`, `IMG_${i}.jpg`), { seed: i + 1, width: 1024, height: 768 });
    const cid = (await api(served.url, 'POST', '/api/catalogs', { body: { name, source_directories: [root] } })).json.id;
    const job = (await api(served.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid, shard_size: shardSize } })).json;
    const at = await waitFor('a quarter done', async () => {
      const j = (await api(served.url, 'GET', `/api/jobs/${job.id}`)).json;
      return j.progress.done >= FILES / 4 ? j.progress.done : null;
    }, 120_000, 50);
    t.ok(at < FILES, `disrupted mid-job (${at} of ${FILES} done)`);
    await disrupt();
    const done = await jobDone(served.url, job.id, undefined, 240_000);
    t.equal(done.status, 'completed', done.error ?? '');
    t.equal(done.result.files_seen, FILES);
    t.equal(done.result.errors, 0);
    t.equal(done.result.assets_added + done.result.assets_updated + done.result.assets_unchanged, FILES, 'each file counted once');
    t.equal(done.progress.done, FILES);
    const schema = `catalog_${cid.replace(/-/g, '')}`;
    const [row] = await sql.unsafe(`select count(*)::int as n, count(distinct path)::int as paths, count(*) filter (where status = 'ok' and sha256 is not null)::int as ok from "${schema}".assets`);
    t.same(row, { n: FILES, paths: FILES, ok: FILES }, 'every file exactly once, complete');
    const thumbs = fs.readdirSync(path.join(config.dataDir, 'thumbnails', cid), { recursive: true }).filter((f) => isThumbnailFile(String(f)));
    t.equal(thumbs.length, FILES, 'one thumbnail per file');
  }

  await t.test('a worker killed with SIGKILL: its shard is taken by another', async (t) => {
    await scanWith(t, 'killed', async () => {
      const victim = await busyWorker();
      const exit = await victim.stop('SIGKILL');
      t.equal(exit.signal, 'SIGKILL', `worker pid ${victim.proc.pid} killed`);
      workers.splice(workers.indexOf(victim), 1);
    });
    await waitFor('the dead worker to drop off the list', async () => (await api(served.url, 'GET', '/api/workers')).json.length === 2, 30_000, 500);
    t.pass('its heartbeat expired');
  });

  await t.test('a worker stopped with SIGTERM hands its shard back and exits', async (t) => {
    let stopped: { code: number | null } | null = null;
    await scanWith(t, 'stopped', async () => {
      const w = await busyWorker();
      const t0 = Date.now();
      stopped = await w.stop('SIGTERM');
      t.ok(Date.now() - t0 < 20_000, `it exits promptly (${Date.now() - t0} ms)`);
      t.match(w.output(), /SIGTERM: shutting down[\s\S]*handed back \(\d+ of 60 files written\)[\s\S]*stopped/, 'its shard went back to the queue');
      workers.splice(workers.indexOf(w), 1);
    }, 60);
    t.same(stopped, { code: 0, signal: null }, 'clean exit');
  });

  await t.test('Redis restarts mid-job', async (t) => {
    await scanWith(t, 'restart', async () => {
      await redis.kill();
      await new Promise((r) => setTimeout(r, 1500));
      await redis.start();
    });
    const health = await waitFor('health to recover', async () => {
      const h = await api(served.url, 'GET', '/health');
      return h.status === 200 ? h.json : null;
    });
    t.match(health, { status: 'ok', redis: { ok: true } });
  });
});
