import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../src/config/config.js';
import { openApp } from '../src/app.js';
import { isFinal } from '../src/model/job.js';
import { ensurePhotos } from './corpus.js';
import { child } from './ingest.js';
import { benchPrefix, REDIS, startLumina, throwawayDatabase } from './services.js';

/**
 * `npm run bench -- cluster [--files N] [--shard-size N] [--threads N] [--corpus DIR]`
 *
 * The same photos ingested three ways, with the same number of threads in all: embedded (one
 * process), one `lumina worker`, and two workers splitting the threads. The cluster runs are timed
 * from the API's point of view: from the scan's submission to its completion, queue hops,
 * discovery and finalize included. Workers are started (and warmed by nothing) beforehand, as
 * long-running workers are.
 */
const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

async function clusterRun(dir: string, workers: number, threads: number, shardSize: number): Promise<number> {
  const db = await throwawayDatabase();
  const keys = benchPrefix();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-cluster-'));
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: REDIS,
    LUMINA_QUEUE_PREFIX: keys.prefix,
    LUMINA_DATA_DIR: dataDir,
    LUMINA_WORKERS: String(Math.max(1, Math.floor(threads / workers))),
  };
  const config = resolveConfig({}, env);
  const app = await openApp(config, { jobs: 'serve' });
  const started = await Promise.all(Array.from({ length: workers }, () => startLumina(['worker', '--concurrency', '2'], env, /worker \S+ taking/)));
  try {
    const catalog = await app.services.catalogs.create({ name: 'bench', sourceDirectories: [dir] });
    const t0 = performance.now();
    const job = await app.services.jobs.submitScan(catalog.id, undefined, shardSize);
    for (;;) {
      const j = await app.services.jobs.find(job.id);
      if (j && isFinal(j.status)) {
        if (j.status !== 'completed') throw new Error(`cluster job ${j.status}: ${j.error}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    await app.close();
    await keys.clean();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchCluster(argv: string[]): Promise<void> {
  const files = Number(arg(argv, 'files', '150'));
  const shardSize = Number(arg(argv, 'shard-size', '25'));
  const threads = Number(arg(argv, 'threads', String(os.availableParallelism())));
  const corpusDir = path.resolve(arg(argv, 'corpus', path.join(os.tmpdir(), 'lumina-bench')));
  log(`lumina cluster benchmark: ${files} photos, shards of ${shardSize}, ${threads} threads in all`);
  const corpus = await ensurePhotos(path.join(corpusDir, 'photos'), files, 1, log);
  for (const f of corpus.files) fs.readFileSync(f);

  log('embedded …');
  const embedded = child('ingest', { dir: corpus.dir, workers: threads, reruns: 0, shardSize }).runs[0].wall_s as number;
  log('cluster, one worker …');
  const one = await clusterRun(corpus.dir, 1, threads, shardSize);
  log('cluster, two workers …');
  const two = await clusterRun(corpus.dir, 2, threads, shardSize);

  const rate = (s: number) => r2(files / s);
  const out = {
    files,
    shard_size: shardSize,
    threads,
    embedded: { wall_s: r2(embedded), files_per_s: rate(embedded) },
    cluster_1_worker: { wall_s: r2(one), files_per_s: rate(one), ratio_to_embedded: r2(embedded / one) },
    cluster_2_workers: { wall_s: r2(two), files_per_s: rate(two), ratio_to_embedded: r2(embedded / two) },
  };
  const row = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(36)} ${v}\n`);
  process.stdout.write(`\nlumina cluster benchmark (${files} JPEGs, shards of ${shardSize}, ${threads} threads in all)\n`);
  row('embedded', `${out.embedded.wall_s} s, ${out.embedded.files_per_s} files/s`);
  row('cluster, 1 worker', `${out.cluster_1_worker.wall_s} s, ${out.cluster_1_worker.files_per_s} files/s, ${out.cluster_1_worker.ratio_to_embedded} of embedded`);
  row('cluster, 2 workers (target ≥ 0.9)', `${out.cluster_2_workers.wall_s} s, ${out.cluster_2_workers.files_per_s} files/s, ${out.cluster_2_workers.ratio_to_embedded} of embedded`);
  process.stdout.write(JSON.stringify(out) + '\n');
}
