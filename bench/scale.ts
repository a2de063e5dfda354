import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { openApp } from '../src/app.js';
import { resolveConfig } from '../src/config/config.js';
import { insertCatalog } from '../src/db/catalogs.js';
import { openDatabase } from '../src/db/database.js';
import { loadWalk } from '../src/db/scan-shards.js';
import { walkScan } from '../src/jobs/scan.js';
import { benchPrefix, REDIS, startLumina, throwawayDatabase } from './services.js';

/**
 * `npm run bench -- scale [--entries 10000000] [--per-dir 1000] [--tree DIR] [--runners cluster,embedded]`
 *
 * The walk of a scan over a tree of --entries files (hard links, made once and kept under --tree):
 * 1. cluster: a `lumina worker --queues discover` (the coordinator) walks it, saving shards in
 *    PostgreSQL and queueing them, with no ingest worker running, so every shard stays queued and
 *    Redis holds the most it ever would. Peak RSS of the worker, Redis memory, and whether
 *    progress said `discover` with a growing count before the walk ended.
 * 2. embedded: the same walk in one process on the embedded database (PGlite in that process).
 * Ingesting the files is not measured here (`bench -- ingest` is).
 */
const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

/**
 * Leaf folders of `perDir` distinct empty files, then copies of copies by `cp -al` (hard links,
 * no new inodes): ten at each level, so each file has at most a few thousand links (ext4 allows
 * 65 000). Kept and reused when its marker says it has the size asked for.
 */
export function buildTree(root: string, entries: number, perDir: number): void {
  const marker = path.join(root, '.lumina-tree');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === `${entries} ${perDir}`) return;
  fs.rmSync(root, { recursive: true, force: true });
  const t = performance.now();
  const leaf = path.join(root, 'src', 'leaf');
  fs.mkdirSync(leaf, { recursive: true });
  for (let i = 0; i < perDir; i++) fs.writeFileSync(path.join(leaf, `IMG_${String(i).padStart(5, '0')}.jpg`), '');
  // Levels of ten copies until there are at least entries/perDir leaves; the last level is cut short.
  let unit = path.join(root, 'src', 'leaf');
  let unitFiles = perDir;
  let level = 0;
  while (unitFiles * 10 <= entries) {
    const next = path.join(root, 'src', `l${++level}`);
    fs.mkdirSync(next);
    for (let c = 0; c < 10; c++) execFileSync('cp', ['-al', unit, path.join(next, `d${c}`)]);
    unit = next;
    unitFiles *= 10;
  }
  const tree = path.join(root, 'tree');
  fs.mkdirSync(tree);
  let made = 0;
  for (let c = 0; made < entries; c++) {
    if (entries - made >= unitFiles) {
      execFileSync('cp', ['-al', unit, path.join(tree, `part${c}`)]);
      made += unitFiles;
    } else {
      // The rest, a leaf at a time.
      const rest = path.join(tree, `part${c}`);
      fs.mkdirSync(rest);
      for (let k = 0; made < entries; k++) {
        const n = Math.min(perDir, entries - made);
        const dir = path.join(rest, `leaf${k}`);
        fs.mkdirSync(dir);
        for (let i = 0; i < n; i++) fs.linkSync(path.join(leaf, `IMG_${String(i).padStart(5, '0')}.jpg`), path.join(dir, `IMG_${String(i).padStart(5, '0')}.jpg`));
        made += n;
      }
    }
  }
  fs.writeFileSync(marker, `${entries} ${perDir}`);
  log(`tree of ${entries} files made in ${r2((performance.now() - t) / 1000)} s`);
}

/** Resident set size of a process, now and at its peak (kB in /proc/PID/status). */
function rssOf(pid: number | 'self'): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'))?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function redisUsed(r: Redis): Promise<number> {
  return Number((await r.info('memory')).match(/^used_memory:(\d+)/m)![1]);
}

async function clusterWalk(tree: string, entries: number) {
  const db = await throwawayDatabase();
  const keys = benchPrefix();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-scale-'));
  const env = { DATABASE_URL: db.url, REDIS_URL: REDIS, LUMINA_QUEUE_PREFIX: keys.prefix, LUMINA_DATA_DIR: dataDir, LUMINA_WORKERS: '1' };
  const app = await openApp(resolveConfig({}, env), { jobs: 'serve' });
  const redis = new Redis(REDIS, { maxRetriesPerRequest: 1 });
  const coordinator = await startLumina(['worker', '--queues', 'discover'], env, /worker \S+ taking/);
  const pid = coordinator.proc.pid!;
  try {
    const redisBefore = await redisUsed(redis);
    const catalog = await app.services.catalogs.create({ name: 'scale', sourceDirectories: [tree] });
    const progress: { t: number; stage: string; total: number }[] = [];
    const t0 = performance.now();
    const off = app.bus.subscribe((e) => {
      if (e.type === 'job_progress' && e.catalog_id === catalog.id) progress.push({ t: (performance.now() - t0) / 1000, stage: e.progress.stage, total: e.progress.total });
    });
    const job = await app.services.jobs.submitScan(catalog.id);
    let redisPeak = redisBefore;
    let rssPeak = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      rssPeak = Math.max(rssPeak, rssOf(pid).peak);
      redisPeak = Math.max(redisPeak, await redisUsed(redis));
      if (await loadWalk(await sqlOf(env.DATABASE_URL), job.id)) break;
    }
    const walkS = (performance.now() - t0) / 1000;
    // The discover job answers once its last shard is queued and the ledger has the total.
    await new Promise((r) => setTimeout(r, 1000));
    rssPeak = Math.max(rssPeak, rssOf(pid).peak);
    const redisAfter = await redisUsed(redis);
    redisPeak = Math.max(redisPeak, redisAfter);
    const ingestQueued = await redis.llen(`${keys.prefix}:ingest:wait`);
    off();
    const discovering = progress.filter((p) => p.stage === 'discover');
    await app.services.jobs.cancel(job.id);
    return {
      runner: 'cluster',
      entries,
      walk_s: r2(walkS),
      files_per_s: Math.round(entries / walkS),
      coordinator_peak_rss_mb: mb(rssPeak),
      redis_used_before_mb: mb(redisBefore),
      redis_used_peak_mb: mb(redisPeak),
      redis_growth_mb: mb(redisPeak - redisBefore),
      ingest_jobs_waiting: ingestQueued,
      discover_events: discovering.length,
      discover_first: discovering[0] ?? null,
      discover_last: discovering.at(-1) ?? null,
    };
  } finally {
    await coordinator.stop();
    redis.disconnect();
    await app.close();
    await closeSql();
    await keys.clean();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

let openSql: import('../src/db/database.js').Database | null = null;
async function sqlOf(url: string) {
  openSql ??= await openDatabase({ database: { kind: 'postgres', url }, dataDir: os.tmpdir() }, { migrate: false });
  return openSql.sql;
}
async function closeSql() {
  await openSql?.close();
  openSql = null;
}

/** The embedded runner's walk, in this process (a child of the bench): its RSS is the walk's and PGlite's. */
export async function embeddedWalkPhase(json: string): Promise<void> {
  const { tree, entries } = JSON.parse(json) as { tree: string; entries: number };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-scale-'));
  const config = resolveConfig({ dataDir }, {});
  const db = await openDatabase(config);
  try {
    const before = rssOf('self').rss;
    const c = await insertCatalog(db.sql, { name: 'scale', sourceDirectories: [tree], organizedDirectory: null, settings: {} });
    const [job] = await db.sql<{ id: string }[]>`insert into public.jobs (catalog_id, type, status, params) values (${c.id}, 'scan', 'running', '{}') returning id`;
    let rssPeak = before;
    const sample = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf('self').rss)), 200);
    let found = 0;
    let shards = 0;
    const t0 = performance.now();
    const walked = await walkScan(db.sql, job!.id, c, [tree], config.shardSize, { onShard: () => void shards++, onFound: (n) => (found = n) });
    const walkS = (performance.now() - t0) / 1000;
    clearInterval(sample);
    const sizes = await db.sql<{ bytes: bigint }[]>`select sum(length(files))::int8 as bytes from public.scan_shards where job_id = ${job!.id}`;
    process.stdout.write(
      JSON.stringify({
        runner: 'embedded',
        entries,
        files: walked?.files ?? found,
        shards,
        walk_s: r2(walkS),
        files_per_s: Math.round(entries / walkS),
        rss_before_walk_mb: mb(before),
        peak_rss_mb: mb(Math.max(rssPeak, rssOf('self').peak)),
        shard_bytes_per_file: r2(Number(sizes[0]!.bytes) / entries),
      }) + '\n',
    );
  } finally {
    await db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchScale(argv: string[]): Promise<void> {
  const entries = Number(arg(argv, 'entries', '10000000'));
  const perDir = Number(arg(argv, 'per-dir', '1000'));
  const root = path.resolve(arg(argv, 'tree', path.join(os.tmpdir(), 'lumina-bench-scale')));
  const runners = arg(argv, 'runners', 'cluster,embedded').split(',');
  log(`lumina scale benchmark: the walk of a scan over ${entries} files (${perDir} a folder), ${os.availableParallelism()} cores`);
  buildTree(root, entries, perDir);
  const tree = path.join(root, 'tree');
  const results: Record<string, unknown>[] = [];
  if (runners.includes('cluster')) {
    log('cluster: lumina worker --queues discover, no ingest workers …');
    results.push(await clusterWalk(tree, entries));
    log(JSON.stringify(results.at(-1)));
  }
  if (runners.includes('embedded')) {
    log('embedded: the walk on PGlite in one process …');
    const out = execFileSync(process.execPath, [process.argv[1]!, 'scale-phase', JSON.stringify({ tree, entries })], { stdio: ['ignore', 'pipe', 'inherit'] });
    results.push(JSON.parse(out.toString().trim().split('\n').at(-1)!));
    log(JSON.stringify(results.at(-1)));
  }
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}
