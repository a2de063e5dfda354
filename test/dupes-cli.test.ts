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
  t.equal(countFiles(path.join(config.dataDir, 'embed-input'), '.webp'), 0, '--no-embeddings: no CNN input left at ingest');

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
  const spool = path.join(config.dataDir, 'embed-input');
  const spooled = countFiles(spool, '.webp');
  const sizes = fs.readdirSync(spool, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith('.webp')).map((e) => fs.statSync(path.join(e.parentPath, e.name)).size);
  t.ok(sizes.length > 0 && Math.max(...sizes) <= 20_000, `each CNN input waits compressed: at most ${Math.max(...sizes)} bytes (raw: 150 528)`);
  t.ok(spooled >= 16, `ingest left the CNN inputs (${spooled})`);

  // Killed while embedding: some inputs consumed, the groups not yet written.
  const child = spawn(process.execPath, [CLI, 'dupes', '--catalog', 'Kill', '--embed-batch', '2'], { env, stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  const started = Date.now();
  while (child.exitCode === null && countFiles(spool, '.webp') > spooled - 4 && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 20));
  process.kill(-child.pid!, 'SIGKILL');
  t.equal(await exited, 'SIGKILL');
  t.ok(countFiles(spool, '.webp') < spooled, 'killed part way through the embed stage');

  const again = await runCli(['dupes', '--catalog', 'Kill', '--json'], { env });
  t.equal(again.code, 0, again.stderr);
  const first = JSON.parse(again.stdout);
  t.equal(countFiles(spool, '.webp'), 0, 'every input embedded and removed');
  t.equal(first.groups.filter((g: { kind: string }) => g.kind === 'near').length, 8);
  const third = JSON.parse((await runCli(['dupes', '--catalog', 'Kill', '--json'], { env })).stdout);
  t.same(third.groups.map((g: { id: number; members: unknown[] }) => [g.id, g.members.length]), first.groups.map((g: { id: number; members: unknown[] }) => [g.id, g.members.length]), 'running again changes nothing');
  const { default: postgres } = await import('postgres');
  const sql = postgres((config.database as { url: string }).url, { onnotice: () => {} });
  const rows = await sql`select status, error from public.jobs where type = 'duplicates' order by created_at`;
  // A catalog fingerprinted by an older Lumina: dupes says so, and the next scan fills the hashes in.
  const [{ schema_name }] = await sql`select schema_name from public.catalogs where name = 'Kill'`;
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

t.test('the CNN-input spool stops at its cap; the rest is embedded from thumbnails', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = tmpDir(t);
  await library(root, 10);
  // Shards of 4 files, two in flight: the cap is checked as each starts, so it holds within two shards' inputs.
  const env = { ...envFor(config), LUMINA_EMBED_SPOOL_MAX: '12K', LUMINA_SHARD_SIZE: '4' };
  const ingest = await runCli(['ingest', root, '--catalog', 'Capped', '--json'], { env });
  t.equal(ingest.code, 0, ingest.stderr);
  const spool = path.join(config.dataDir, 'embed-input');
  const sizes = fs.readdirSync(spool, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith('.webp')).map((e) => fs.statSync(path.join(e.parentPath, e.name)).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  t.ok(sizes.length > 0 && sizes.length < 20, `some inputs spooled, not all 20 pictures' (${sizes.length}, ${total} bytes)`);
  t.ok(total < 12 * 1024 + 2 * 4 * Math.max(...sizes), 'no more than the cap and the two shards in flight past it');
  const run = await runCli(['dupes', '--catalog', 'Capped', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  t.equal(out.summary.embed.from_ingest, sizes.length, 'the spooled inputs were used');
  t.ok(out.summary.embed.from_thumbnail >= 20 - sizes.length - 1, `the others came from thumbnails (${out.summary.embed.from_thumbnail})`);
  t.equal(out.groups.filter((g: { kind: string }) => g.kind === 'near').length, 10, 'every pair found all the same');
  const bad = await runCli(['ingest', root, '--catalog', 'Capped'], { env: { ...env, LUMINA_EMBED_SPOOL_MAX: 'lots' } });
  t.equal(bad.code, 2, 'a size that is not one is refused');
  t.match(bad.stderr, /LUMINA_EMBED_SPOOL_MAX must be a size such as 500M or 4G, got "lots"/);
});
