import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import { Piscina } from 'piscina';
import { resolveConfig } from '../src/config/config.js';
import { openApp } from '../src/app.js';
import { ensurePhotos, linkTree } from './corpus.js';

/**
 * `npm run bench -- ingest [--files N] [--workers N] [--corpus DIR] [--rerun-files N] [--rss-files N]`
 *
 * 1. throughput on realistic 8–12 MP JPEGs against the floor measured on the same files:
 *    SHA-256 alone + libvips decode at the same shrink alone + ExifTool alone, each over all cores;
 * 2. a re-run over an unchanged tree of --rerun-files files, as a ratio to its first run;
 * 3. peak RSS of an ingest of a --rss-files tree.
 * Each measurement runs in its own process, so peak memory is that run's alone.
 */
interface Args {
  files: number;
  workers: number;
  corpus: string;
  rerunFiles: number;
  rssFiles: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  return {
    files: Number(get('files', '150')),
    workers: Number(get('workers', String(os.availableParallelism()))),
    corpus: path.resolve(get('corpus', path.join(os.tmpdir(), 'lumina-bench'))),
    rerunFiles: Number(get('rerun-files', '10000')),
    rssFiles: Number(get('rss-files', '100000')),
  };
}

const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;

/** CPU seconds of this process and its reaped children (ExifTool's perl processes). */
function cpuSeconds(): number {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // fields 14–17 of stat: utime stime cutime cstime, in clock ticks; 3rd field is index 0 here.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function timeOverCores(workers: number, files: string[], stage: 'sha256' | 'decode'): Promise<number> {
  const pool = new Piscina({ filename: new URL('./floor-worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
  await Promise.all(Array.from({ length: workers }, () => pool.run({ stage, file: files[0]! }))); // threads up
  const t0 = performance.now();
  await Promise.all(files.map((file) => pool.run({ stage, file })));
  const s = (performance.now() - t0) / 1000;
  await pool.destroy();
  return s;
}

/** Child-process phases; each prints one JSON line. */
export async function ingestPhase(phase: string, json: string): Promise<void> {
  const p = JSON.parse(json);
  if (phase === 'floor') {
    const files: string[] = p.files;
    const sha = await timeOverCores(p.workers, files, 'sha256');
    const decode = await timeOverCores(p.workers, files, 'decode');
    const et = new ExifTool({ maxProcs: p.workers });
    await et.read(files[0]!);
    const t0 = performance.now();
    await Promise.all(files.map((f) => et.read(f)));
    const exif = (performance.now() - t0) / 1000;
    await et.end();
    process.stdout.write(JSON.stringify({ sha256_s: sha, decode_s: decode, exiftool_s: exif }) + '\n');
    return;
  }
  // phase 'ingest': a fresh embedded catalog; the first run, then `reruns` runs over the unchanged tree.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-data-'));
  try {
    const config = { ...resolveConfig({ dataDir }, {}), workers: p.workers, ...(p.shardSize ? { shardSize: p.shardSize } : {}) };
    const app = await openApp(config, { jobs: 'here' });
    const runs = [];
    for (let i = 0; i < 1 + (p.reruns ?? 0); i++) {
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      const s = await app.services.jobs.ingestHere([p.dir], 'bench');
      runs.push({ wall_s: (performance.now() - t0) / 1000, cpu_s: cpuSeconds() - cpu0, summary: s });
    }
    await app.close();
    process.stdout.write(JSON.stringify({ runs: runs.map((r) => ({ ...r, summary: { ...r.summary, problems: r.summary.problems.length } })), max_rss_mb: process.resourceUsage().maxRSS / 1024 }) + '\n');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function child(phase: string, params: unknown): any {
  const out = execFileSync(process.execPath, [process.argv[1]!, 'ingest-phase', phase, JSON.stringify(params)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString().trim().split('\n').at(-1)!);
}

export async function benchIngest(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  log(`lumina ingest benchmark: ${a.files} photos, ${a.workers} workers, ${os.cpus()[0]?.model ?? 'cpu'} ×${os.availableParallelism()}`);
  const corpus = await ensurePhotos(path.join(a.corpus, 'photos'), a.files, 1, log);
  // Warm the page cache: every measurement below reads from memory, so they compare like with like.
  for (const f of corpus.files) fs.readFileSync(f);
  const mb = corpus.bytes / 1e6;

  log('floor: each stage alone over all cores …');
  const floor = child('floor', { files: corpus.files, workers: a.workers });
  const floorS = floor.sha256_s + floor.decode_s + floor.exiftool_s;
  log('end to end …');
  const e2e = child('ingest', { dir: corpus.dir, workers: a.workers, reruns: 0 });
  const run = e2e.runs[0];
  const stage = run.summary.stage_ms as Record<string, number>;
  const stageTotal = Object.values(stage).reduce((x, y) => x + y, 0);

  const out: Record<string, unknown> = {
    corpus: { files: a.files, mb: r2(mb), megapixels: "8-12" },
    floor_s: { sha256: r2(floor.sha256_s), decode: r2(floor.decode_s), exiftool: r2(floor.exiftool_s), total: r2(floorS) },
    floor_files_per_s: r2(a.files / floorS),
    ingest: { wall_s: r2(run.wall_s), files_per_s: r2(a.files / run.wall_s), mb_per_s: r2(mb / run.wall_s), cpu_s_per_file: r2((run.cpu_s / a.files) * 1000) / 1000, errors: run.summary.errors },
    ratio_to_floor: r2(a.files / run.wall_s / (a.files / floorS)),
    stage_ms_per_file: Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, r2(v / a.files)])),
    stage_share: Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, r2((100 * v) / stageTotal)])),
  };

  if (a.rerunFiles > 0) {
    log(`re-run: a ${a.rerunFiles}-file tree, first run and unchanged re-run …`);
    const medium = await ensurePhotos(path.join(a.corpus, 'photos-3mp'), 100, 0.5, log);
    const tree = linkTree(path.join(a.corpus, `tree-${a.rerunFiles}`), medium.files, a.rerunFiles);
    const rr = child('ingest', { dir: tree.dir, workers: a.workers, reruns: 1 });
    out.rerun = {
      files: a.rerunFiles,
      first_s: r2(rr.runs[0].wall_s),
      rerun_s: r2(rr.runs[1].wall_s),
      speedup: r2(rr.runs[0].wall_s / rr.runs[1].wall_s),
      rerun_unchanged: rr.runs[1].summary.assets_unchanged,
    };
  }
  if (a.rssFiles > 0) {
    log(`memory: ingest of a ${a.rssFiles}-file tree …`);
    const tiny = await ensurePhotos(path.join(a.corpus, 'photos-tiny'), 50, 0.08, log);
    const tree = linkTree(path.join(a.corpus, `tree-${a.rssFiles}`), tiny.files, a.rssFiles);
    const big = child('ingest', { dir: tree.dir, workers: a.workers, reruns: 0 });
    out.memory = { files: a.rssFiles, wall_s: r2(big.runs[0].wall_s), files_per_s: r2(a.rssFiles / big.runs[0].wall_s), peak_rss_mb: r2(big.max_rss_mb) };
  }

  const row = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(34)} ${v}\n`);
  const f = out.floor_s as Record<string, number>;
  const i = out.ingest as Record<string, number>;
  process.stdout.write(`\nlumina ingest benchmark (${a.files} JPEGs, ${r2(mb)} MB, ${a.workers} workers)\n`);
  row('floor: sha256 / decode / exiftool', `${f.sha256} s / ${f.decode} s / ${f.exiftool} s = ${f.total} s (${out.floor_files_per_s} files/s)`);
  row('ingest end to end', `${i.wall_s} s: ${i.files_per_s} files/s, ${i.mb_per_s} MB/s, ${i.cpu_s_per_file} CPU s/file`);
  row('ratio to floor (target ≥ 0.75)', out.ratio_to_floor);
  row('stage ms per file', Object.entries(out.stage_ms_per_file as object).map(([k, v]) => `${k} ${v}`).join(', '));
  if (out.rerun) {
    const rr = out.rerun as Record<string, number>;
    row(`re-run of ${rr.files} unchanged files`, `${rr.first_s} s first, ${rr.rerun_s} s re-run: ${rr.speedup}× (target ≥ 20×)`);
  }
  if (out.memory) {
    const m = out.memory as Record<string, number>;
    row(`peak RSS, ${m.files}-file tree`, `${m.peak_rss_mb} MB (target < 1024 MB), ${m.files_per_s} files/s`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
