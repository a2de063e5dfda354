import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../src/config/config.js';
import { writeShard, type AssetWrite } from '../src/db/assets.js';
import { insertCatalog } from '../src/db/catalogs.js';
import { openDatabase } from '../src/db/database.js';
import { createHashIndex, faissStatus, hashesToCodes } from '../src/dedupe/faiss.js';
import { bruteForceJoin, buildIndex, bytesPerHash } from '../src/dedupe/hamming-index.js';
import { JoinPool } from '../src/dedupe/join-pool.js';
import { orient } from '../src/dedupe/orientations.js';
import { EmbedPool } from '../src/embed/embed-pool.js';
import { DEFAULT_THRESHOLD, DEFAULT_TURNED_THRESHOLD } from '../src/jobs/duplicates.js';
import { EMBED_SIZE } from '../src/pipeline/pixels.js';
import { CLI, throwawayDatabase } from './services.js';

/**
 * `npm run bench -- dedupe [--sizes 100000,1000000] [--faiss-sample N] [--images N] [--skip-embed] [--catalog N [--server] [--cli PATH] [--dupes-runs 1|2]]`
 *
 * 1. The near-duplicate self-join at the default threshold (and the 7 turned queries at theirs)
 *    over 10^5 and 10^6 64-bit hashes, uniform and clustered like a photo library, on all cores;
 *    at 10^5 its identity pairs are checked equal to a brute-force reference.
 * 2. The same join through FAISS binary flat (the addon), as a ratio; at 10^6 timed on a sample
 *    of queries and scaled (the whole run takes minutes).
 * 3. Memory of the hash arrays per hash.
 * 4. CNN embeddings per second on the backend this machine has, one thread against all cores.
 * 5. With --catalog N: `lumina dupes` end to end over N synthetic assets, as its own process (time
 *    and peak RSS), in the embedded database (--server: a throw-away database of the PostgreSQL
 *    server; --cli PATH: another build's src/cli/main.js runs it).
 */
const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

/** A repeatable stream of well-mixed 32-bit values (splitmix32). */
function mixer(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Uniform: independent random hashes. Clustered: like a photo library, where a third of the
 * pictures have 1-4 edited copies (0-12 bits away; one in eight turned, 0-2 bits away).
 */
export function syntheticHashes(n: number, kind: 'uniform' | 'clustered', seed = 1): Uint32Array {
  const next = mixer(seed);
  const out = new Uint32Array(new SharedArrayBuffer(n * 8));
  let i = 0;
  while (i < n) {
    const hi = next();
    const lo = next();
    out[2 * i] = hi;
    out[2 * i + 1] = lo;
    i++;
    if (kind === 'uniform') continue;
    const copies = next() % 3 === 0 ? 1 + (next() % 4) : 0;
    for (let c = 0; c < copies && i < n; c++, i++) {
      // One copy in eight is turned or mirrored, as phone and scanner exports often are.
      let [h, l] = next() % 8 === 0 ? orient(hi, lo, 1 + (next() % 7)) : [hi, lo];
      for (let f = next() % (h === hi ? 13 : 3); f > 0; f--) {
        if (next() & 1) h ^= 1 << (next() % 32);
        else l ^= 1 << (next() % 32);
      }
      out[2 * i] = h >>> 0;
      out[2 * i + 1] = l >>> 0;
    }
  }
  return out;
}

async function joinFigures(pool: JoinPool, n: number, kind: 'uniform' | 'clustered', faissSample: number) {
  const hashes = syntheticHashes(n, kind, n + (kind === 'uniform' ? 1 : 2));
  let t = performance.now();
  const index = buildIndex(hashes);
  const buildS = (performance.now() - t) / 1000;
  t = performance.now();
  const pairs = await pool.join(index, { radius: DEFAULT_THRESHOLD, turnedRadius: DEFAULT_TURNED_THRESHOLD });
  const joinS = (performance.now() - t) / 1000;
  const row: Record<string, unknown> = {
    n,
    kind,
    build_s: r2(buildS),
    join_s: r2(joinS),
    total_s: r2(buildS + joinS),
    pairs: pairs.length,
    turned_pairs: pairs.orientation.filter((o) => o > 0).length,
    bytes_per_hash: r2(bytesPerHash(index)),
  };

  if (n <= 100_000) {
    // Reference: every pair compared, identity orientation only.
    t = performance.now();
    const brute = new Set<number>();
    bruteForceJoin(hashes, DEFAULT_THRESHOLD, 0, n, (i, j) => brute.add(i * n + j));
    row.brute_force_s = r2((performance.now() - t) / 1000);
    const ours = new Set<number>();
    for (let k = 0; k < pairs.length; k++) {
      if (pairs.orientation[k] !== 0) continue;
      const a = Math.min(pairs.i[k]!, pairs.j[k]!);
      const b = Math.max(pairs.i[k]!, pairs.j[k]!);
      ours.add(a * n + b);
    }
    row.equal_to_brute_force = ours.size === brute.size && [...brute].every((p) => ours.has(p));
  }

  const status = faissStatus();
  if (status.native) {
    const codes = hashesToCodes(hashes);
    const flat = createHashIndex('flat', {}, 'native');
    flat.add(codes);
    const sample = Math.min(n, faissSample);
    t = performance.now();
    // FAISS counts strictly below the radius: threshold + 1. Identity only, so FAISS does 1/8 of our queries.
    flat.rangeSearch(codes.subarray(0, sample * 8), DEFAULT_THRESHOLD + 1);
    const faissS = ((performance.now() - t) / 1000) * (n / sample);
    row.faiss_flat_s = r2(faissS);
    row.faiss_flat_sampled = sample < n ? `${sample} queries, scaled` : 'all queries';
    row.faiss_over_ours = r2(faissS / joinS);
  } else {
    row.faiss_flat_s = `addon not built (${status.error})`;
  }
  return row;
}

/**
 * `lumina dupes` end to end: N synthetic assets (clustered hashes, no pictures) written as ingest
 * writes them, then `lumina dupes` run twice as its own process (the second merges with the stored
 * groups), timed with its peak RSS. Loading, grouping and writing included; embeddings off. On the
 * embedded database, or with `server` on a throw-away database of the PostgreSQL server. `cli` is
 * the CLI that runs dupes (another checkout's build, to compare with).
 */
export async function catalogFigures(n: number, opts: { cli?: string; server?: boolean; runs?: number } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-bench-dupes-'));
  const server = opts.server ? await throwawayDatabase() : null;
  const env: Record<string, string> = { LUMINA_DATA_DIR: dataDir, ...(server ? { DATABASE_URL: server.url } : {}) };
  const config = resolveConfig({}, env);
  const db = await openDatabase(config);
  try {
    const c = await insertCatalog(db.sql, { name: 'bench', sourceDirectories: ['/bench'], organizedDirectory: null, settings: {} });
    const [job] = await db.sql<{ id: string }[]>`insert into public.jobs (catalog_id, type, status, params) values (${c.id}, 'scan', 'completed', '{}') returning id`;
    const hashes = syntheticHashes(n, 'clustered', 5);
    const t = performance.now();
    for (let i = 0; i < n; i += 5000) {
      const rows: AssetWrite[] = [];
      for (let k = i; k < Math.min(n, i + 5000); k++) {
        const v = BigInt.asIntN(64, (BigInt(hashes[2 * k]!) << 32n) | BigInt(hashes[2 * k + 1]!));
        rows.push({
          path: `/bench/${k % 100}/IMG_${k}.jpg`, size: 3_000_000 + k, mtime: new Date(0), sha256: Buffer.from(k.toString(16).padStart(64, '0'), 'hex'),
          file_type: 'image', ext: 'jpg', mime: 'image/jpeg', width: 4000, height: 3000, orientation: 1, taken_at: null, taken_at_local: null,
          tz_offset_min: null, date_source: null, date_confidence: null, date_suspicious: false, date_flags: [], make: null, model: null, lens: null,
          gps_lat: null, gps_lon: null, gps_alt: null, duration_s: null, dhash: 0n, phash: v, phash_sign: v, fingerprint_version: 2,
          quality_score: 50 + (k % 37), quality: null, sharpness: 100, exif: null, thumbnail_key: null, status: 'ok', error: null, error_code: null, metadata_error: null, timings: null, seen_job: job!.id,
        });
      }
      await writeShard(db.sql, c.schema_name, job!.id, rows, []);
      if (i % 500_000 === 0 && i) log(`  ${i} assets written`);
    }
    const insertS = (performance.now() - t) / 1000;
    // The embedded database has one owner at a time: the writer hands it over to the CLI.
    await db.close();
    const cli = opts.cli ?? CLI;
    // The groups listing goes to a file (at 10^7 assets it is gigabytes); the summary is its last key.
    const listing = path.join(dataDir, 'dupes.json');
    const run = () => {
      const fd = fs.openSync(listing, 'w');
      const out = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, cli, 'dupes', '--catalog', 'bench', '--embeddings', 'off', '--json'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', fd, 'pipe'],
        maxBuffer: 64 << 20,
      });
      fs.closeSync(fd);
      const timing = out.stderr.toString().trim().split('\n').at(-1)!.split(' ');
      if (out.status !== 0) throw new Error(`lumina dupes failed: ${out.stderr.toString().slice(-2000)}`);
      const size = fs.statSync(listing).size;
      const tail = Buffer.alloc(Math.min(size, 1 << 20));
      const tfd = fs.openSync(listing, 'r');
      fs.readSync(tfd, tail, 0, tail.length, size - tail.length);
      fs.closeSync(tfd);
      const text = tail.toString();
      const key = '\n  "summary": ';
      const summary = JSON.parse(text.slice(text.lastIndexOf(key) + key.length).replace(/\n}\n?$/, ''));
      return { s: Number(timing[0]), rssMb: Math.round(Number(timing[1]) / 1024), listingMb: Math.round(size / 1e6), summary };
    };
    const first = run();
    const again = opts.runs === 1 ? null : run();
    return {
      assets: n,
      database: server ? 'postgres' : 'embedded',
      write_assets_s: r2(insertS),
      dupes_s: first.s,
      dupes_peak_rss_mb: first.rssMb,
      dupes_again_s: again?.s ?? null,
      dupes_again_peak_rss_mb: again?.rssMb ?? null,
      listing_mb: first.listingMb,
      near_groups: first.summary.groups?.near,
      candidate_pairs: first.summary.candidate_pairs,
    };
  } finally {
    await db.close().catch(() => {});
    await server?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function embedFigures(images: number) {
  const bytes = EMBED_SIZE * EMBED_SIZE * 3;
  const batch = 16;
  const make = () => {
    const input = new Uint8Array(batch * bytes);
    const next = mixer(7);
    for (let i = 0; i < input.length; i += 4) input[i] = next() & 0xff;
    return input;
  };
  const out: Record<string, unknown> = {};
  const cores = os.availableParallelism();
  for (const threads of [1, cores]) {
    const pool = new EmbedPool({ threads });
    // Every thread loads its model before timing.
    const warm = await Promise.all(Array.from({ length: threads }, () => pool.embed(make(), batch)));
    out.backend = warm[0]!.backend;
    out.model = warm[0]!.model;
    const batches = Math.max(threads, Math.round(images / batch));
    const t = performance.now();
    await Promise.all(Array.from({ length: batches }, () => pool.embed(make(), batch)));
    const s = (performance.now() - t) / 1000;
    out[`per_s_${threads === 1 ? 'one_thread' : `${threads}_threads`}`] = r2((batches * batch) / s);
    await pool.close();
  }
  out.ratio = r2((out[`per_s_${cores}_threads`] as number) / (out.per_s_one_thread as number));
  return out;
}

export async function benchDedupe(argv: string[]): Promise<void> {
  const sizes = arg(argv, 'sizes', '100000,1000000').split(',').map(Number).filter((n) => n > 0);
  const faissSample = Number(arg(argv, 'faiss-sample', '20000'));
  const pool = new JoinPool(os.availableParallelism());
  const results: Record<string, unknown>[] = [];
  log(`dedupe bench: ${os.availableParallelism()} cores, threshold ${DEFAULT_THRESHOLD} (turned ${DEFAULT_TURNED_THRESHOLD}), FAISS addon ${faissStatus().native ? 'built' : 'not built'}`);
  // Threads up before timing.
  await pool.join(buildIndex(syntheticHashes(1000, 'uniform')), { radius: DEFAULT_THRESHOLD, turnedRadius: DEFAULT_TURNED_THRESHOLD });
  for (const n of sizes) {
    for (const kind of ['uniform', 'clustered'] as const) {
      const row = await joinFigures(pool, n, kind, faissSample);
      log(JSON.stringify(row));
      results.push(row);
    }
  }
  await pool.close();
  let catalog: Record<string, unknown> | null = null;
  const catalogRows = Number(arg(argv, 'catalog', '0'));
  if (catalogRows > 0) {
    catalog = await catalogFigures(catalogRows, { cli: argv.includes('--cli') ? path.resolve(arg(argv, 'cli', '')) : undefined, server: argv.includes('--server'), runs: Number(arg(argv, 'dupes-runs', '2')) });
    log(JSON.stringify(catalog));
  }
  let embed: Record<string, unknown> | null = null;
  if (!argv.includes('--skip-embed')) {
    embed = await embedFigures(Number(arg(argv, 'images', '192')));
    log(JSON.stringify(embed));
  }
  process.stdout.write(JSON.stringify({ join: results, catalog, embeddings: embed }, null, 2) + '\n');
  log('\nself-join (all cores, default threshold, 8 orientations):');
  for (const r of results) {
    log(
      `  ${String(r.n).padStart(8)} ${String(r.kind).padEnd(9)} ${String(r.total_s).padStart(6)} s  ${String(r.pairs).padStart(8)} pairs  ${r.bytes_per_hash} B/hash` +
        (r.brute_force_s !== undefined ? `  brute force ${r.brute_force_s} s (equal: ${r.equal_to_brute_force})` : '') +
        (typeof r.faiss_over_ours === 'number' ? `  FAISS binary flat ${r.faiss_flat_s} s = ${r.faiss_over_ours}× ours` : ''),
    );
  }
  if (catalog) {
    log(`lumina dupes over ${catalog.assets} assets (${catalog.database}): ${catalog.dupes_s} s, peak RSS ${catalog.dupes_peak_rss_mb} MB; again ${catalog.dupes_again_s} s, ${catalog.dupes_again_peak_rss_mb} MB`);
  }
  if (embed) log(`embeddings (${embed.backend}): ${embed.per_s_one_thread}/s on one thread, ${embed[`per_s_${os.availableParallelism()}_threads`]}/s on all cores = ${embed.ratio}×`);
}
