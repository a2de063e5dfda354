import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { resolveConfig } from '../src/config/config.js';
import { openApp } from '../src/app.js';
import { exiftoolProcsFor, MetadataReader } from '../src/pipeline/metadata.js';
import { ensurePhotos, linkTree, mixedScale, realisticPhoto } from './corpus.js';

/**
 * `npm run bench -- ingest [--files N] [--workers N] [--corpus DIR] [--corpora realistic,mixed] [--exiftool-procs N] [--cold] [--repeat N] [--rerun-files N] [--rss-files N]`
 *
 * 1. throughput against the floor measured on the same files, on each corpus: realistic 8–12 MP
 *    JPEGs, and mixed sizes (2–24 MP). The floor is SHA-256 alone + libvips decode at the same
 *    shrink alone + ExifTool alone (the pipeline's reader, with its processes), each over all
 *    cores. Both sides are measured warm: the floor starts its threads and ExifTool processes
 *    before its clock starts, the ingest process runs a one-file ingest first (`warmup_s`;
 *    --cold times the ingest with its start-up instead). --repeat N alternates floor and ingest
 *    N times and keeps the fastest of each, for a machine that other work shares;
 * 2. a re-run over an unchanged tree of --rerun-files files, as a ratio to its first run;
 * 3. peak RSS of an ingest of a --rss-files tree.
 * Each measurement runs in its own process, so peak memory is that run's alone.
 */
interface Args {
  files: number;
  workers: number;
  corpus: string;
  corpora: CorpusName[];
  /** ExifTool processes for the floor and the ingest; null: the pipeline's default. */
  exiftoolProcs: number | null;
  /** Time the ingest from a cold start (thread pool and ExifTool started on the clock). */
  cold: boolean;
  /** Floor and ingest alternately this many times on each corpus; the fastest of each counts. */
  repeat: number;
  rerunFiles: number;
  rssFiles: number;
}

/** The throughput corpora, generated once under --corpus and kept. */
const CORPORA = {
  realistic: { dir: 'photos', scale: 1 as number | ((seed: number) => number), megapixels: '8-12' },
  mixed: { dir: 'photos-mixed', scale: mixedScale, megapixels: '2-24' },
};
type CorpusName = keyof typeof CORPORA;
/** What the ingest should reach, as a share of the floor's files per second. */
const TARGET_RATIO = 0.95;

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
    exiftoolProcs: argv.includes('--exiftool-procs') ? Number(get('exiftool-procs', '')) : null,
    cold: argv.includes('--cold'),
    repeat: Math.max(1, Number(get('repeat', '1'))),
    corpora: get('corpora', 'realistic,mixed')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean)
      .map((c) => {
        if (!(c in CORPORA)) throw new Error(`--corpora: unknown corpus "${c}" (known: ${Object.keys(CORPORA).join(', ')})`);
        return c as CorpusName;
      }),
  };
}

const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Fields 14–17 of a /proc stat line (utime stime cutime cstime), in seconds; the 3rd field is index 0 here. */
function statTimes(stat: string): number[] {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return [f[11], f[12], f[13], f[14]].map((x) => Number(x) / 100);
}

/**
 * CPU seconds of this process and its children (ExifTool's perl processes): the reaped ones, and
 * the ones still running, which the kernel adds to ours only once they end.
 */
function cpuSeconds(): number {
  const [u, s, cu, cs] = statTimes(fs.readFileSync('/proc/self/stat', 'utf8'));
  let running = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
      if (ppid === process.pid) running += statTimes(stat)[0]! + statTimes(stat)[1]!;
    } catch {
      /* gone meanwhile */
    }
  }
  return u! + s! + cu! + cs! + running;
}

/** Wall and CPU seconds of one stage over all cores, its threads started before the clock. */
async function timeOverCores(workers: number, files: string[], stage: 'sha256' | 'decode'): Promise<{ s: number; cpu: number }> {
  const pool = new Piscina({ filename: new URL('./floor-worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
  await Promise.all(Array.from({ length: workers }, () => pool.run({ stage, file: files[0]! }))); // threads up
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await Promise.all(files.map((file) => pool.run({ stage, file })));
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  await pool.destroy();
  return { s, cpu };
}

/** Child-process phases; each prints one JSON line. */
export async function ingestPhase(phase: string, json: string): Promise<void> {
  const p = JSON.parse(json);
  if (phase === 'floor') {
    const files: string[] = p.files;
    const sha = await timeOverCores(p.workers, files, 'sha256');
    const decode = await timeOverCores(p.workers, files, 'decode');
    // The pipeline's own reader, with as many processes as the pipeline gives it, all started.
    const et = new MetadataReader(p.exiftoolProcs ?? exiftoolProcsFor(p.workers));
    await et.start();
    // A few files per process first: perl loads ExifTool's modules on its first files.
    await Promise.all(files.slice(0, 4 * et.procs).map((f) => et.read(f)));
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    await Promise.all(files.map((f) => et.read(f)));
    const exif = (performance.now() - t0) / 1000;
    const cpu = sha.cpu + decode.cpu + cpuSeconds() - cpu0;
    await et.close();
    process.stdout.write(JSON.stringify({ sha256_s: sha.s, decode_s: decode.s, exiftool_s: exif, exiftool_procs: et.procs, cpu_s: cpu }) + '\n');
    return;
  }
  // phase 'ingest': a fresh embedded catalog; the first run, then `reruns` runs over the unchanged tree.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-data-'));
  try {
    const config = {
      ...resolveConfig({ dataDir }, {}),
      workers: p.workers,
      ...(p.shardSize ? { shardSize: p.shardSize } : {}),
      ...(p.exiftoolProcs ? { exiftoolProcs: p.exiftoolProcs } : {}),
    };
    const app = await openApp(config, { jobs: 'here' });
    let warmupS: number | null = null;
    if (p.warm) {
      // Small photos in a catalog of their own, a few per ExifTool process: the thread pool and
      // every process (perl loads ExifTool's modules on its first files) are up before the clock
      // starts, as the floor's are.
      const warmDir = path.join(dataDir, 'warm');
      for (let i = 0; i < 16; i++) await realisticPhoto(path.join(warmDir, `warm-${i}.jpg`), 1000 + i, 0.05);
      const t0 = performance.now();
      await app.services.jobs.ingestHere([warmDir], 'warmup');
      warmupS = (performance.now() - t0) / 1000;
    }
    const runs = [];
    for (let i = 0; i < 1 + (p.reruns ?? 0); i++) {
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      const s = await app.services.jobs.ingestHere([p.dir], 'bench');
      runs.push({ wall_s: (performance.now() - t0) / 1000, cpu_s: cpuSeconds() - cpu0, summary: s });
    }
    await app.close();
    process.stdout.write(JSON.stringify({ warmup_s: warmupS, runs: runs.map((r) => ({ ...r, summary: { ...r.summary, problems: r.summary.problems.length } })), max_rss_mb: process.resourceUsage().maxRSS / 1024 }) + '\n');
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

/** Floor and end-to-end ingest on one corpus, the floor first; both in processes of their own. */
async function throughput(a: Args, name: CorpusName): Promise<Record<string, unknown>> {
  const spec = CORPORA[name];
  const corpus = await ensurePhotos(path.join(a.corpus, spec.dir), a.files, spec.scale, log);
  // Warm the page cache: every measurement below reads from memory, so they compare like with like.
  for (const f of corpus.files) fs.readFileSync(f);
  const mb = corpus.bytes / 1e6;
  const n = corpus.files.length;

  // Alternated, so that load from elsewhere on the machine falls on both sides alike.
  const floors = [];
  const e2es = [];
  for (let r = 0; r < a.repeat; r++) {
    const of = a.repeat > 1 ? ` (${r + 1}/${a.repeat})` : '';
    log(`${name}: floor, each stage alone over all cores${of} …`);
    floors.push(child('floor', { files: corpus.files, workers: a.workers, exiftoolProcs: a.exiftoolProcs }));
    log(`${name}: end to end${of} …`);
    e2es.push(child('ingest', { dir: corpus.dir, workers: a.workers, exiftoolProcs: a.exiftoolProcs, reruns: 0, warm: !a.cold }));
  }
  const total = (f: any) => f.sha256_s + f.decode_s + f.exiftool_s;
  const floor = floors.reduce((x, y) => (total(y) < total(x) ? y : x));
  const floorS = total(floor);
  const e2e = e2es.reduce((x, y) => (y.runs[0].wall_s < x.runs[0].wall_s ? y : x));
  const run = e2e.runs[0];
  const stage = run.summary.stage_ms as Record<string, number>;
  const stageTotal = Object.values(stage).reduce((x, y) => x + y, 0);
  return {
    corpus: { files: n, mb: r2(mb), megapixels: spec.megapixels },
    floor_s: { sha256: r2(floor.sha256_s), decode: r2(floor.decode_s), exiftool: r2(floor.exiftool_s), total: r2(floorS) },
    floor_files_per_s: r2(n / floorS),
    floor_cpu_s_per_file: Math.round((floor.cpu_s / n) * 1e5) / 1e5,
    exiftool_procs: floor.exiftool_procs,
    ingest: {
      wall_s: r2(run.wall_s),
      files_per_s: r2(n / run.wall_s),
      mb_per_s: r2(mb / run.wall_s),
      cpu_s_per_file: Math.round((run.cpu_s / n) * 1e5) / 1e5,
      errors: run.summary.errors,
      warmup_s: e2e.warmup_s === null ? null : r2(e2e.warmup_s),
    },
    ratio_to_floor: r2(n / run.wall_s / (n / floorS)),
    ...(a.repeat > 1 ? { runs_s: { floor: floors.map((f) => r2(total(f))), ingest: e2es.map((e) => r2(e.runs[0].wall_s)) } } : {}),
    stage_ms_per_file: Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, r2(v / n)])),
    stage_share: Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, r2((100 * v) / stageTotal)])),
  };
}

export async function benchIngest(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  log(`lumina ingest benchmark: ${a.files} photos per corpus (${a.corpora.join(', ')}), ${a.workers} workers, ${os.cpus()[0]?.model ?? 'cpu'} ×${os.availableParallelism()}`);
  const out: Record<string, unknown> = { target_ratio: TARGET_RATIO };
  for (const name of a.corpora) out[name] = await throughput(a, name);
  // The keys of earlier versions, for the first corpus (the realistic one by default).
  Object.assign(out, out[a.corpora[0]!] as object);

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

  const row = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(36)} ${v}\n`);
  process.stdout.write(`\nlumina ingest benchmark (${a.workers} workers)\n`);
  for (const name of a.corpora) {
    const c = out[name] as Record<string, any>;
    const f = c.floor_s as Record<string, number>;
    const i = c.ingest as Record<string, number>;
    process.stdout.write(`${name}: ${c.corpus.files} JPEGs of ${c.corpus.megapixels} MP, ${c.corpus.mb} MB\n`);
    row('  floor: sha256 / decode / exiftool', `${f.sha256} s / ${f.decode} s / ${f.exiftool} s (${c.exiftool_procs} processes) = ${f.total} s (${c.floor_files_per_s} files/s)`);
    row('  floor CPU', `${c.floor_cpu_s_per_file} CPU s/file`);
    row('  ingest end to end', `${i.wall_s} s: ${i.files_per_s} files/s, ${i.mb_per_s} MB/s, ${i.cpu_s_per_file} CPU s/file (${i.warmup_s === null ? 'cold start on the clock' : `after a warm-up ingest of ${i.warmup_s} s`})`);
    row(`  ratio to floor (target ≥ ${TARGET_RATIO})`, c.ratio_to_floor);
    if (c.runs_s) row('  every run: floor / ingest', `${c.runs_s.floor.join(', ')} s / ${c.runs_s.ingest.join(', ')} s (fastest of each counts)`);
    row('  stage ms per file', Object.entries(c.stage_ms_per_file as object).map(([k, v]) => `${k} ${v}`).join(', '));
  }
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
