import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { CLI, runCli } from './helpers/cli.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';
import { photo, variant } from './helpers/variants.js';

function countFiles(dir: string, ext: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith(ext)).length;
}

async function library(root: string, pictures: number): Promise<void> {
  for (let i = 0; i < pictures; i++) {
    const original = await photo(500 + i, 640, 480);
    const dir = path.join(root, `p${i}`);
    fs.mkdirSync(dir, { recursive: true });
    await sharp(original).jpeg({ quality: 90 }).toFile(path.join(dir, 'a.jpg'));
    fs.writeFileSync(path.join(dir, 'b.jpg'), (await variant(original, 'resized')).bytes);
  }
  fs.copyFileSync(path.join(root, 'p0', 'a.jpg'), path.join(root, 'p0', 'a copy.jpg'));
  // Bad input: not pictures at all, or nothing.
  fs.writeFileSync(path.join(root, 'empty.jpg'), '');
  fs.writeFileSync(path.join(root, 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(500, 7)]));
}

t.test('lumina dupes --json: the documented shape; review by CLI; refusals', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  await library(root, 3);
  t.equal((await runCli(['catalog', 'create', 'Lib', root, '--no-embeddings'], { env })).code, 0);
  const ingest = await runCli(['ingest', root, '--catalog', 'Lib', '--json'], { env });
  t.equal(ingest.code, 0, ingest.stderr);

  const run = await runCli(['dupes', '--catalog', 'Lib', '--json', '--embeddings', 'off'], { env });
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  t.same(Object.keys(out).sort(), ['groups', 'summary']);
  for (const g of out.groups) {
    t.ok(['exact', 'near', 'burst', 'format_pair'].includes(g.kind));
    t.type(g.id, 'number');
    t.ok(path.isAbsolute(g.keeper));
    t.type(g.reason, 'string');
    for (const m of g.members) t.ok(path.isAbsolute(m.path) && 'distance' in m && 'similarity' in m);
  }
  t.equal(out.groups.filter((g: { kind: string }) => g.kind === 'exact').length, 1);
  t.equal(out.groups.filter((g: { kind: string }) => g.kind === 'near').length, 3);
  t.notOk(JSON.stringify(out).includes('empty.jpg') || JSON.stringify(out).includes('corrupt.jpg'), 'files in error are not duplicates of anything');
  t.equal(out.summary.embeddings_used, 0, '--embeddings off');

  const near = out.groups.find((g: { kind: string }) => g.kind === 'near');
  const other = near.members.find((m: { path: string }) => m.path !== near.keeper).path;
  const kept = await runCli(['review', String(near.id), '--catalog', 'Lib', '--keep', other, '--json'], { env });
  t.equal(kept.code, 0, kept.stderr);
  const view = JSON.parse(kept.stdout);
  t.equal(view.review_status, 'resolved');
  t.same(view.members.find((m: { path: string }) => m.path === other).decision, 'keep');
  t.same(view.members.find((m: { path: string }) => m.path === near.keeper).decision, 'remove');
  t.ok(fs.existsSync(near.keeper), 'marked, not deleted');
  const listed = JSON.parse((await runCli(['dupes', '--catalog', 'Lib', '--json', '--embeddings', 'off', '--status', 'resolved'], { env })).stdout);
  t.same(listed.groups.map((g: { id: number }) => g.id), [near.id], 'still resolved after detection ran again');
  t.equal(JSON.parse((await runCli(['review', String(near.id), '--catalog', 'Lib', '--reopen', '--json'], { env })).stdout).review_status, 'open');

  const refusals: [string[], RegExp][] = [
    [['dupes', '--catalog', 'Nope'], /no catalog named "Nope"/],
    [['dupes', '--catalog', 'Lib', '--threshold', 'ten'], /--threshold must be a whole number/],
    [['dupes', '--catalog', 'Lib', '--threshold', '40'], /--threshold above 32/],
    [['dupes', '--catalog', 'Lib', '--embeddings', 'maybe'], /--embeddings must be auto, on or off/],
    [['review', String(near.id), '--catalog', 'Lib', '--keep', '/elsewhere.jpg'], /is not a member of group/],
    [['review', '99999', '--catalog', 'Lib', '--dismiss'], /has no duplicate group 99999/],
    [['review', String(near.id), '--catalog', 'Lib', '--dismiss', '--reopen'], /give one of/],
  ];
  for (const [args, message] of refusals) {
    const r = await runCli(args, { env });
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
  }
  t.equal((await runCli(['catalog', 'create', 'Empty'], { env })).code, 0);
  const empty = await runCli(['dupes', '--catalog', 'Empty', '--json'], { env });
  t.equal(empty.code, 0, empty.stderr);
  t.same(JSON.parse(empty.stdout).groups, [], 'a catalog with nothing in it has no duplicates');
});

t.test('SIGKILL mid-detection, then a re-run finishes and writes each group once', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const root = tmpDir(t);
  await library(root, 8);
  t.equal((await runCli(['ingest', root, '--catalog', 'Kill'], { env })).code, 0);
  t.equal(countFiles(path.join(config.dataDir, 'embed-input'), '.webp'), 0, 'ingest leaves no CNN input: the embed stage cuts it from the thumbnail');
  const { default: postgres } = await import('postgres');
  const sql = postgres((config.database as { url: string }).url, { onnotice: () => {} });
  const [{ schema_name }] = await sql`select schema_name from public.catalogs where name = 'Kill'`;
  const embedded = async () => Number((await sql.unsafe(`select count(*)::int as n from ${schema_name}.embeddings`))[0]!.n);
  const pictures = Number((await sql.unsafe(`select count(distinct sha256)::int as n from ${schema_name}.assets where thumbnail_key is not null`))[0]!.n);
  t.ok(pictures >= 16, `pictures to embed (${pictures})`);

  // Killed while embedding: some inputs consumed, the groups not yet written.
  const child = spawn(process.execPath, [CLI, 'dupes', '--catalog', 'Kill', '--embed-batch', '2'], { env, stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  const started = Date.now();
  while (child.exitCode === null && (await embedded()) < 4 && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 20));
  process.kill(-child.pid!, 'SIGKILL');
  t.equal(await exited, 'SIGKILL');
  const before = await embedded();
  t.ok(before >= 4 && before < pictures, `killed part way through the embed stage (${before} of ${pictures} embedded)`);

  const again = await runCli(['dupes', '--catalog', 'Kill', '--json'], { env });
  t.equal(again.code, 0, again.stderr);
  const first = JSON.parse(again.stdout);
  t.ok((await embedded()) >= pictures, 'every picture embedded');
  t.equal(first.groups.filter((g: { kind: string }) => g.kind === 'near').length, 8);
  const third = JSON.parse((await runCli(['dupes', '--catalog', 'Kill', '--json'], { env })).stdout);
  t.same(third.groups.map((g: { id: number; members: unknown[] }) => [g.id, g.members.length]), first.groups.map((g: { id: number; members: unknown[] }) => [g.id, g.members.length]), 'running again changes nothing');
  const rows = await sql`select status, error from public.jobs where type = 'duplicates' order by created_at`;
  // A catalog fingerprinted by an older Lumina: dupes says so, and the next scan fills the hashes in.
  await sql.unsafe(`update ${schema_name}.assets set phash_sign = null, fingerprint_version = 1`);
  const stale = JSON.parse((await runCli(['dupes', '--catalog', 'Kill', '--json', '--embeddings', 'off'], { env })).stdout);
  t.ok(stale.summary.stale_fingerprints >= 16, `stale fingerprints counted (${stale.summary.stale_fingerprints})`);
  const rescan = JSON.parse((await runCli(['ingest', root, '--catalog', 'Kill', '--json'], { env })).stdout);
  t.ok(rescan.assets_updated >= 16, `an older fingerprint counts as a change (${rescan.assets_updated} updated)`);
  const fresh = JSON.parse((await runCli(['dupes', '--catalog', 'Kill', '--json', '--embeddings', 'off'], { env })).stdout);
  t.equal(fresh.summary.stale_fingerprints, 0);
  t.equal(fresh.groups.filter((g: { kind: string }) => g.kind === 'near').length, 8, 'near groups again');
  await sql.end();
  t.equal(rows[0]!.status, 'failed');
  t.match(rows[0]!.error, /interrupted before it finished/);
  t.same(rows.slice(1).map((r) => r.status), ['completed', 'completed']);
});

t.test('the CNN input is cut from the thumbnail inside its border; what an older version spooled is removed', async (t) => {
  const { cnnInput, EMBED_SIZE } = await import('../src/pipeline/pixels.js');
  const original = await photo(77, 480, 360);
  // The same picture, and the same picture on a wide white mat: the CNN sees the same pixels.
  const framed = await sharp(original).extend({ top: 60, bottom: 60, left: 80, right: 80, background: '#ffffff' }).toBuffer();
  const thumb = (img: Buffer) => sharp(img).resize(256, 256, { fit: 'inside' }).webp({ quality: 75, effort: 2 }).toBuffer();
  const [a, b] = await Promise.all([cnnInput(await thumb(original)), cnnInput(await thumb(framed))]);
  t.equal(a.length, EMBED_SIZE * EMBED_SIZE * 3, '224×224 RGB');
  const meanDiff = (x: Buffer, y: Buffer) => x.reduce((sum, v, i) => sum + Math.abs(v - y[i]!), 0) / x.length;
  const white = await cnnInput(await thumb(await sharp({ create: { width: 480, height: 360, channels: 3, background: '#ffffff' } }).png().toBuffer()));
  t.ok(meanDiff(a, b) < 12, `the mat is cut off (mean difference ${meanDiff(a, b).toFixed(1)} of 255)`);
  t.ok(meanDiff(a, white) > 3 * meanDiff(a, b), 'and the comparison can tell pictures apart');
  const gray = await cnnInput(await sharp(await thumb(original)).grayscale().webp().toBuffer());
  t.equal(gray.length, a.length, 'a gray thumbnail gives three bands too');

  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  await library(root, 4);
  t.equal((await runCli(['ingest', root, '--catalog', 'Old'], { env })).code, 0);
  const catalogs = JSON.parse((await runCli(['catalog', 'list', '--json'], { env })).stdout);
  const id = catalogs.find((c: { name: string }) => c.name === 'Old').id;
  const leftover = path.join(config.dataDir, 'embed-input', id, 'ab');
  fs.mkdirSync(leftover, { recursive: true });
  fs.writeFileSync(path.join(leftover, `${'ab'.repeat(32)}.webp`), 'an older version left this');
  const run = await runCli(['dupes', '--catalog', 'Old', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  t.ok(out.summary.embed.embedded >= 8, `embedded from thumbnails (${out.summary.embed.embedded})`);
  t.equal(out.groups.filter((g: { kind: string }) => g.kind === 'near').length, 4, 'every pair found');
  t.notOk(fs.existsSync(path.join(config.dataDir, 'embed-input', id)), 'the old spool is gone');
});
