import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

// What ExifTool and libvips used to lose without a word: the metadata of a file with a newline
// in its name, the damage in a JPEG whose entropy data is corrupt, and ExifTool's processes
// themselves, left running when Lumina was killed.

/** A copy of a JPEG whose scan data stops early: libjpeg decodes it with "premature end of data segment". */
function withCorruptScan(jpeg: Buffer, keep: number): Buffer {
  const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  return Buffer.concat([jpeg.subarray(0, sos + Math.floor((jpeg.length - sos) * keep)), Buffer.from([0xff, 0xd9])]);
}

interface Listed {
  path: string;
  status: string;
  error: string | null;
  error_code: string | null;
  metadata_error: string | null;
  sha256: string | null;
  phash: string | null;
  thumbnail: string | null;
  taken_at: string | null;
  date_source: string | null;
  make: string | null;
  id: number;
}

t.test('a newline in a name keeps its metadata; a file ExifTool cannot read says so', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  const odd = await writePhoto(path.join(root, 'line one\nline two.jpg'), { seed: 3, make: 'Nikon', model: 'D850', dateTimeOriginal: '2015:01:02 03:04:05' });
  const tab = await writePhoto(path.join(root, 'tab\there.jpg'), { seed: 4, make: 'Canon', dateTimeOriginal: '2016:06:07 08:09:10' });
  const junk = path.join(root, 'junk.jpg');
  fs.writeFileSync(junk, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)));
  // Where the stand-in links go, to see that they are removed.
  const scratch = tmpDir(t);
  env.TMPDIR = scratch;

  const run = await runCli(['ingest', root, '--catalog', 'Names', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  const list = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Names', '--json'], { env })).stdout) as Listed[];
  const byPath = new Map(list.map((a) => [a.path, a]));
  t.same(
    [odd, tab].map((p) => [byPath.get(p)?.status, byPath.get(p)?.date_source, byPath.get(p)?.make, byPath.get(p)?.metadata_error]),
    [['ok', 'exif', 'Nikon', null], ['ok', 'exif', 'Canon', null]],
    'EXIF read through the control characters',
  );
  t.equal(byPath.get(odd)?.taken_at, '2015-01-02T03:04:05');
  t.match(byPath.get(junk)?.metadata_error, /\S/, `ExifTool's refusal is on the asset: ${byPath.get(junk)?.metadata_error}`);
  t.same(fs.readdirSync(scratch), [], 'the links and their folder are removed');
});

t.test('a JPEG with corrupt entropy data is damaged, hashed, grouped, and never kept over an intact copy', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  const intact = await writePhoto(path.join(root, 'intact.jpg'), { seed: 7, width: 1200, height: 900, make: 'Canon', dateTimeOriginal: '2019:05:04 10:11:12' });
  const bytes = fs.readFileSync(intact);
  // The damaged copy is the better one by every other measure: larger, and first by name.
  const damaged = path.join(root, 'a-damaged.jpg');
  fs.writeFileSync(damaged, Buffer.concat([withCorruptScan(bytes, 0.93), Buffer.alloc(40_000)]));
  // Two damaged copies with the same bytes and nothing intact beside them.
  const lone = withCorruptScan(fs.readFileSync(await writePhoto(path.join(root, 'tmp.jpg'), { seed: 21, width: 800, height: 600 })), 0.8);
  fs.rmSync(path.join(root, 'tmp.jpg'));
  fs.writeFileSync(path.join(root, 'lone-1.jpg'), lone);
  fs.writeFileSync(path.join(root, 'lone-2.jpg'), lone);

  const run = await runCli(['ingest', root, '--catalog', 'Damage', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  t.equal(JSON.parse(run.stdout).errors, 0, 'damage is not an error');
  const list = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Damage', '--json'], { env })).stdout) as Listed[];
  const d = list.find((a) => a.path === damaged)!;
  t.equal(d.status, 'damaged');
  t.equal(d.error_code, 'damaged');
  t.match(d.error, /premature end of data segment/, 'the decoder says what it met');
  t.ok(d.sha256 && d.phash && d.thumbnail && fs.existsSync(d.thumbnail), 'hashes and thumbnail kept');
  t.equal(list.find((a) => a.path === intact)?.status, 'ok', 'the intact file is ok');
  const damagedOnly = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Damage', '--status', 'damaged', '--json'], { env })).stdout) as Listed[];
  t.equal(damagedOnly.length, 3, 'listed by status');

  const dupes = await runCli(['dupes', '--catalog', 'Damage', '--json', '--embeddings', 'off'], { env });
  t.equal(dupes.code, 0, dupes.stderr);
  const groups = JSON.parse(dupes.stdout).groups as { kind: string; keeper: string; reason: string; members: { path: string; status: string }[] }[];
  const near = groups.find((g) => g.members.some((m) => m.path === damaged));
  t.ok(near, 'the damaged copy takes part in duplicate detection');
  t.equal(near?.keeper, intact, 'the intact copy is kept');
  t.match(near?.reason, /passed over a damaged copy/);
  t.same(near?.members.map((m) => m.status).sort(), ['damaged', 'ok']);
  const exact = groups.find((g) => g.kind === 'exact');
  t.match(exact?.reason, /every copy is damaged/, 'a group of damaged copies says so');
});

t.test('every damaged JPEG is found while two pool threads decode side by side', async (t) => {
  // libvips keeps its error text in one buffer per process: with two threads decoding, another
  // thread's work wiped the decoder's message about one time in ten, and the damage went unsaid.
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t);
  const bytes = fs.readFileSync(await writePhoto(path.join(tmpDir(t), 'p.jpg'), { seed: 5, width: 640, height: 480 }));
  const damaged = withCorruptScan(bytes, 0.85);
  const count = 40;
  for (let i = 0; i < count; i++) {
    // Distinct bytes, so each file is decoded rather than recognised as a copy.
    fs.writeFileSync(path.join(root, `d${i}.jpg`), Buffer.concat([damaged, Buffer.from(`pad ${i}`)]));
    fs.writeFileSync(path.join(root, `i${i}.jpg`), Buffer.concat([bytes, Buffer.from(`pad ${i}`)]));
  }
  const run = await runCli(['ingest', root, '--catalog', 'Race', '--json', '--workers', '2'], { env });
  t.equal(run.code, 0, run.stderr);
  const list = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Race', '--json', '--limit', '1000'], { env })).stdout) as Listed[];
  const statusOf = (prefix: string) => list.filter((a) => path.basename(a.path).startsWith(prefix)).map((a) => a.status);
  t.same(statusOf('d'), Array(count).fill('damaged'), 'each damaged copy is damaged');
  t.same(statusOf('i'), Array(count).fill('ok'), 'each intact copy is ok');
  t.same([...new Set(list.filter((a) => a.status === 'damaged').map((a) => a.error))], ['damaged image data: Corrupt JPEG data: premature end of data segment (decoded with gaps; hashes kept)'], "the decoder's own words, every time");
});

/** Pids of the processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    // A zombie is dead: only its entry is left for a parent to collect.
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('ExifTool processes exit within seconds of a SIGKILL of the Lumina that started them', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const root = tmpDir(t);
  const photo = await writePhoto(path.join(root, 'a.jpg'), { seed: 1 });
  // A process that has read metadata and now waits, as a server between jobs does: its ExifTool
  // processes sit idle, blocked on their request pipe (a busy one dies of SIGPIPE on its reply).
  const metadata = new URL('../src/pipeline/metadata.js', import.meta.url).href;
  const script = `const { MetadataReader } = await import(${JSON.stringify(metadata)});
    const m = new MetadataReader(2);
    await Promise.all([m.read(${JSON.stringify(photo)}), m.read(${JSON.stringify(photo)})]);
    process.stdout.write('read\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  const perls = childrenOf(child.pid!).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('exiftool'));
  t.ok(perls.length >= 1, `ExifTool running under the process (${perls.length})`);
  await new Promise((r) => setTimeout(r, 500));
  t.ok(perls.every(alive), 'and idle');
  child.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  while (perls.some(alive) && Date.now() - killedAt < 15_000) await new Promise((r) => setTimeout(r, 100));
  const left = perls.filter(alive);
  t.same(left, [], `no ExifTool left running (${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`);
  for (const p of left) process.kill(p, 'SIGKILL');
});
