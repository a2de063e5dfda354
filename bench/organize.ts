import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { resolveConfig } from '../src/config/config.js';
import { writeShard, type AssetWrite } from '../src/db/assets.js';
import { insertCatalog } from '../src/db/catalogs.js';
import { openDatabase } from '../src/db/database.js';

/**
 * `npm run bench -- organize [--files 300] [--size-mb 2] [--dir D]`
 *
 * The same tree organized by Lumina and by the tools a careful person would use, on the same disk
 * in the same run:
 * - copy: `lumina organize apply` (streamed copy, fsync, SHA-256 of source and copy, link into
 *   place, journaled) against `cp -a` followed by `sha256sum` of both sides;
 * - move: Lumina's move (within one file system a link, after hashing the source) against `mv`.
 * Files are random bytes cataloged directly (what ingest would write), dated over a year.
 */
const log = (s: string) => process.stderr.write(s + '\n');
const r2 = (x: number) => Math.round(x * 100) / 100;

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const sha256sumTree = (dir: string) => execFileSync('sh', ['-c', `find "$1" -type f -print0 | xargs -0 sha256sum > /dev/null`, 'sh', dir]);

export async function benchOrganize(argv: string[]): Promise<void> {
  const files = Number(arg(argv, 'files', '300'));
  const size = Math.round(Number(arg(argv, 'size-mb', '2')) * 1e6);
  const base = fs.mkdtempSync(path.join(arg(argv, 'dir', os.tmpdir()), 'lumina-bench-organize-'));
  const src = path.join(base, 'archive');
  const dataDir = path.join(base, 'data');
  try {
    log(`organize: ${files} files of ${(size / 1e6).toFixed(1)} MB (${((files * size) / 1e6).toFixed(0)} MB) in ${base}`);
    const rows: Omit<AssetWrite, 'seen_job'>[] = [];
    for (let i = 0; i < files; i++) {
      const file = path.join(src, `d${i % 20}`, `IMG_${i}.jpg`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const bytes = randomBytes(size);
      fs.writeFileSync(file, bytes);
      const st = fs.statSync(file);
      const day = new Date(Date.UTC(2020, 0, 1 + (i % 365), 12));
      rows.push({
        path: file, size, mtime: new Date(Math.floor(st.mtimeMs)), sha256: createHash('sha256').update(bytes).digest(), file_type: 'image', ext: 'jpg', mime: 'image/jpeg',
        width: 4000, height: 3000, orientation: 1, taken_at: day, taken_at_local: day.toISOString().slice(0, 19), tz_offset_min: 0, date_source: 'exif', date_confidence: 95,
        date_suspicious: false, date_flags: [], make: 'Bench', model: 'Cam', lens: null, gps_lat: null, gps_lon: null, gps_alt: null, duration_s: null,
        dhash: null, phash: null, phash_sign: null, fingerprint_version: 2, quality_score: 50, quality: null, sharpness: null, exif: null, thumbnail_key: null,
        status: 'ok', error: null, error_code: null, metadata_error: null, timings: null,
      });
    }
    execFileSync('sync');
    const config = resolveConfig({ dataDir }, {});
    const db = await openDatabase(config);
    const c = await insertCatalog(db.sql, { name: 'bench', sourceDirectories: [src], organizedDirectory: null, settings: {} });
    const [job] = await db.sql<{ id: string }[]>`insert into public.jobs (catalog_id, type, status, params) values (${c.id}, 'scan', 'completed', '{}') returning id`;
    await writeShard(db.sql, c.schema_name, job!.id, rows.map((r) => ({ ...r, seen_job: job!.id })), []);
    await db.close();

    // The baselines.
    const cpDest = path.join(base, 'cp');
    const cpS = timed(() => execFileSync('cp', ['-a', src, cpDest]));
    const cpHashS = timed(() => {
      sha256sumTree(src);
      sha256sumTree(cpDest);
    });
    fs.rmSync(cpDest, { recursive: true, force: true });
    execFileSync('sync');

    const app = await openApp(config, { jobs: 'here' });
    try {
      const copyDest = path.join(base, 'library-copy');
      let planId = '';
      const planS = await timedAsync(async () => (planId = (await app.services.organize.plan('bench', { dest: copyDest })).plan.id));
      const copyS = await timedAsync(() => app.services.organize.runHere(planId, 'apply'));
      fs.rmSync(copyDest, { recursive: true, force: true });
      execFileSync('sync');

      const moveDest = path.join(base, 'library-move');
      const movePlan = (await app.services.organize.plan('bench', { dest: moveDest, mode: 'move' })).plan.id;
      const moveS = await timedAsync(() => app.services.organize.runHere(movePlan, 'apply'));
      const rollbackS = await timedAsync(() => app.services.organize.runHere(movePlan, 'rollback'));
      const mvDest = path.join(base, 'mv');
      const mvS = timed(() => execFileSync('mv', [src, mvDest]));

      const mb = (files * size) / 1e6;
      const baseline = cpS + cpHashS;
      const out = {
        files,
        mb: r2(mb),
        plan_s: r2(planS),
        copy: { lumina_s: r2(copyS), lumina_mb_per_s: r2(mb / copyS), lumina_files_per_s: r2(files / copyS), cp_a_s: r2(cpS), sha256sum_both_s: r2(cpHashS), cp_plus_sha256sum_s: r2(baseline), ratio_vs_cp_plus_sha256sum: r2(baseline / copyS) },
        move: { lumina_s: r2(moveS), lumina_mb_per_s: r2(mb / moveS), lumina_files_per_s: r2(files / moveS), mv_s: r2(mvS), rollback_s: r2(rollbackS) },
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      log(
        `copy: Lumina ${r2(mb / copyS)} MB/s, ${r2(files / copyS)} files/s; cp -a + sha256sum ${r2(baseline)} s → Lumina at ${Math.round((baseline / copyS) * 100)} % of that speed (target ≥ 70 %)\n` +
          `move: Lumina ${r2(moveS)} s (hash-verified links) against mv ${r2(mvS)} s (a rename of the top folder, nothing read)`,
      );
    } finally {
      await app.close();
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
