import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from './helpers/cli.js';
import { writeMinimalMp4, writePhoto } from './helpers/corpus.js';
import { actionsOf, makePlan, organize, treeDigest } from './helpers/organize.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

// Plans change no file, and say where everything goes: units kept together, collisions settled
// (case-only, NFC/NFD, names already in DEST), duplicates and undated files handled, dates taken
// as recorded whatever the machine's zone, and the same plan from the same catalog every time.

const DAY = '2019:05:04';

async function corpus(root: string): Promise<void> {
  const at = (time: string, o: Record<string, string> = {}) => ({ dateTimeOriginal: `${DAY} ${time}`, make: 'Canon', model: 'EOS', ...o });
  // A RAW+JPEG shot with its sidecars.
  const jpg = await writePhoto(path.join(root, 'a/IMG_0001.JPG'), { seed: 1, ...at('10:00:00') });
  fs.writeFileSync(path.join(root, 'a/IMG_0001.NEF'), Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(2000, 7)]));
  fs.writeFileSync(path.join(root, 'a/IMG_0001.xmp'), '<x:xmpmeta/>');
  fs.writeFileSync(path.join(root, 'a/IMG_0001.JPG.json'), '{"title":"IMG_0001.JPG"}');
  // The same name in another folder, same day, later: it and its sidecar get _1.
  await writePhoto(path.join(root, 'b/IMG_0001.JPG'), { seed: 2, ...at('11:00:00') });
  fs.writeFileSync(path.join(root, 'b/IMG_0001.JPG.xmp'), '<x:xmpmeta b/>');
  // Case-only and NFD/NFC twins.
  await writePhoto(path.join(root, 'c/img_0001.jpg'), { seed: 3, ...at('12:00:00') });
  await writePhoto(path.join(root, 'd/Caf\u00e9.jpg'), { seed: 4, ...at('13:00:00') });
  await writePhoto(path.join(root, 'e/Cafe\u0301.jpg'), { seed: 5, ...at('14:00:00') });
  // A Live Photo: still and video of one name.
  await writePhoto(path.join(root, 'f/IMG_0100.JPG'), { seed: 6, ...at('15:00:00') });
  writeMinimalMp4(path.join(root, 'f/IMG_0100.MOV'), new Date('2019-05-04T05:00:00Z'), 2);
  // Near midnight with an offset west of UTC (UTC is the next day), and a video dated in UTC only.
  await writePhoto(path.join(root, 'g/late.jpg'), { seed: 7, ...at('23:30:00', { offset: '-05:00' }) });
  writeMinimalMp4(path.join(root, 'g/clip.mp4'), new Date('2019-05-04T12:00:00Z'), 3);
  // No date at all; an exact copy; a name already taken in DEST.
  await writePhoto(path.join(root, 'h/nodate.jpg'), { seed: 8 });
  fs.copyFileSync(jpg, path.join(root, 'h/copy-of-0001.jpg'));
  await writePhoto(path.join(root, 'i/existing.jpg'), { seed: 9, ...at('16:00:00') });
  // Same modification times everywhere, so nothing depends on when the test ran.
  for (const e of fs.readdirSync(root, { recursive: true, encoding: 'utf8' })) fs.utimesSync(path.join(root, e), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
}

async function catalogOf(t: Test, tz: string, root: string) {
  const config = await configFor(t, 'pglite');
  const env = { ...envFor(config), TZ: tz };
  const ingest = await runCli(['ingest', root, '--catalog', 'Plan', '--json'], { env });
  t.equal(ingest.code, 0, ingest.stderr);
  const dupes = await runCli(['dupes', '--catalog', 'Plan', '--embeddings', 'off', '--json'], { env });
  t.equal(dupes.code, 0, dupes.stderr);
  return env;
}

t.test('a plan: units, collisions, duplicates, undated, dates as recorded; nothing changed; the same every time and in any zone', async (t) => {
  const root = path.join(tmpDir(t), 'archive');
  await corpus(root);
  const dest = path.join(tmpDir(t), 'library');
  fs.mkdirSync(path.join(dest, '2019/2019-05-04'), { recursive: true });
  fs.writeFileSync(path.join(dest, '2019/2019-05-04/existing.jpg'), 'not ours');
  const before = { src: treeDigest(root), dest: treeDigest(dest) };

  const env = await catalogOf(t, 'UTC', root);
  const { id, summary } = await makePlan(env, ['--catalog', 'Plan', '--dest', dest]);
  t.match(id, /^[0-9a-f-]{36}$/);
  t.same(treeDigest(root), before.src, 'planning changed no source file');
  t.same(treeDigest(dest), before.dest, 'nor anything in DEST');
  const { plan, actions } = await actionsOf(env, id);
  t.equal(plan.status, 'planned');
  const target = (src: string) => {
    const a = actions.find((x) => x.source === path.join(root, src));
    return a?.target ? path.relative(dest, a.target) : a ? `(${a.kind})` : '(absent)';
  };
  const day = '2019/2019-05-04';
  t.same(
    ['a/IMG_0001.JPG', 'a/IMG_0001.NEF', 'a/IMG_0001.xmp', 'a/IMG_0001.JPG.json'].map(target),
    [`${day}/IMG_0001.JPG`, `${day}/IMG_0001.NEF`, `${day}/IMG_0001.xmp`, `${day}/IMG_0001.JPG.json`],
    'a RAW+JPEG pair travels with its sidecars',
  );
  t.same(['b/IMG_0001.JPG', 'b/IMG_0001.JPG.xmp'].map(target), [`${day}/IMG_0001_1.JPG`, `${day}/IMG_0001_1.JPG.xmp`], 'the later same-named shot gets _1, its sidecar too');
  t.equal(target('c/img_0001.jpg'), `${day}/img_0001_2.jpg`, 'a case-only twin is a collision');
  const cafes = [target('d/Caf\u00e9.jpg'), target('e/Cafe\u0301.jpg')];
  t.equal(cafes[0], `${day}/Caf\u00e9.jpg`);
  t.equal(cafes[1], `${day}/Cafe\u0301_1.jpg`, 'NFD and NFC spellings are one name');
  t.same(['f/IMG_0100.JPG', 'f/IMG_0100.MOV'].map(target), [`${day}/IMG_0100.JPG`, `${day}/IMG_0100.MOV`], 'a Live Photo keeps its video');
  t.equal(actions.find((a) => a.source.endsWith('IMG_0100.MOV'))?.role, 'live');
  t.equal(target('g/late.jpg'), `${day}/late.jpg`, '23:30 at -05:00 stays on its own day');
  t.equal(target('i/existing.jpg'), `${day}/existing_1.jpg`, 'a name already in DEST is never taken');
  t.equal(target('h/nodate.jpg'), 'undated/nodate.jpg');
  const copies = ['a/IMG_0001.JPG', 'h/copy-of-0001.jpg'].map(target);
  t.ok(copies.includes('(skip)'), `copy mode: the exact duplicate is not copied (${copies})`);
  t.match(summary, { undated: 1, sidecars: 3, duplicates: 1 });
  t.ok(summary.conflicts >= 4, `collisions counted (${summary.conflicts})`);
  t.equal(summary.files, actions.length);

  const again = await actionsOf(env, (await makePlan(env, ['--catalog', 'Plan', '--dest', dest])).id);
  const shape = (list: typeof actions) => list.map((a) => [a.seq, a.source, a.target, a.kind, a.unit]);
  t.same(shape(again.actions), shape(actions), 'the same plan from the same catalog');

  const sydney = await catalogOf(t, 'Australia/Sydney', root);
  const far = await actionsOf(sydney, (await makePlan(sydney, ['--catalog', 'Plan', '--dest', dest])).id);
  t.same(shape(far.actions), shape(actions), 'the same folders under TZ=Australia/Sydney as under UTC');

  const listed = await organize(env, ['list', '--catalog', 'Plan', '--json']);
  t.equal(JSON.parse(listed.stdout).length, 2, 'organize list');

  const quarantine = await actionsOf(env, (await makePlan(env, ['--catalog', 'Plan', '--dest', dest, '--mode', 'move'])).id);
  const dup = quarantine.actions.find((a) => a.kind === 'quarantine');
  t.ok(dup?.target?.startsWith(path.join(dest, '_duplicates') + '/'), `move mode quarantines the non-keeper under _duplicates/ (${dup?.target})`);
  t.match(dup?.target, /_duplicates\/(a|h)\//, 'at its path relative to its source root');
});

t.test('templates, destinations and options that could lose or misplace files are refused', async (t) => {
  const root = path.join(tmpDir(t), 'archive');
  await writePhoto(path.join(root, 'x.jpg'), { seed: 1, dateTimeOriginal: '2020:02:02 02:02:02' });
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  t.equal((await runCli(['ingest', root, '--catalog', 'T'], { env })).code, 0);
  const dest = path.join(tmpDir(t), 'lib');
  const refused = async (args: string[], why: RegExp, what: string, code = 2) => {
    const r = await organize(env, ['plan', '--catalog', 'T', ...args]);
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.match(r.stderr, why, what);
  };
  await refused(['--dest', dest, '--template', '../{filename}'], /could escape DEST/, 'a .. segment');
  await refused(['--dest', dest, '--template', '/abs/{filename}'], /relative to DEST/, 'an absolute template');
  await refused(['--dest', dest, '--template', '{year}//{filename}'], /empty segment/, 'an empty segment');
  await refused(['--dest', dest, '--template', '{year}/{bogus}'], /unknown token \{bogus\}/, 'an unknown token');
  await refused(['--dest', dest, '--template', '{year}/'], /last segment/, 'no file name');
  await refused(['--dest', dest, '--template', '{make}/{filename}'], /\{make\} is empty.*\{make\|"Unknown"\}/, 'an empty value without a fallback');
  await refused(['--dest', path.join(root, 'lib')], /inside the source directory/, 'DEST inside the archive');
  await refused(['--dest', path.dirname(root)], /inside the destination/, 'the archive inside DEST');
  await refused(['--dest', dest, '--mode', 'shred'], /Allowed choices are copy, move/, 'an unknown mode (a usage error)', 1);
  await refused(['--dest', dest, '--min-confidence', '101'], /0 to 100/, 'a confidence out of range');
  const ok = await makePlan(env, ['--catalog', 'T', '--dest', dest, '--template', '{make|"Unknown"}/{year}{month}/{name}_{sha8}.{ext}']);
  const { actions } = await actionsOf(env, ok.id);
  t.match(path.relative(dest, actions[0]!.target!), /^Unknown\/202002\/x_[0-9a-f]{8}\.jpg$/, 'fallbacks and tokens render');
  const missing = await organize(env, ['show', '00000000-0000-4000-8000-000000000000']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no organize plan/);
});
