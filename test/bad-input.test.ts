import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto, writePngBomb } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

/**
 * Everything that goes wrong in real archives, in one tree. Each bad file must end up as an asset
 * with a clear message (or, for entries that are not files, a reported problem); the run completes
 * with exit code 0 and every good file is cataloged.
 */
t.test('bad input is recorded and never stops the run', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = tmpDir(t, 'lumina-bad-');
  fs.chmodSync(root, 0o755);
  const good = [
    await writePhoto(path.join(root, 'with spaces/a photo (1).jpg'), { seed: 1 }),
    await writePhoto(path.join(root, 'ünïcödé/日本の写真 🎉.jpg'), { seed: 2 }),
    await writePhoto(path.join(root, 'odd/new\nline.jpg'), { seed: 3 }),
    await writePhoto(path.join(root, 'odd/-starts-with-dash.jpg'), { seed: 4 }),
    await writePhoto(path.join(root, 'odd/really-a-png.jpg'), { seed: 5, format: 'png' }), // mislabelled but fine
  ];
  const jpeg = fs.readFileSync(good[0]!);
  const bad: Record<string, RegExp> = {};
  const put = (rel: string, data: Buffer | string, why: RegExp) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
    bad[file] = why;
  };
  put('bad/zero.jpg', '', /empty file \(0 bytes\)/);
  put('bad/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), /truncated/);
  put('bad/corrupt.jpg', Buffer.concat([jpeg.subarray(0, 600), Buffer.alloc(4000, 0x5a)]), /truncated|corrupt|cannot decode|not a decodable/);
  put('bad/random.png', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)), /not a decodable image/);
  put('bad/text.heic', 'just some text pretending', /not a decodable image|cannot decode|HEIC/);
  put('bad/notes.mp4', 'plain text, not a video', /not a readable video: the content is text\/plain \(mislabelled\)/);
  put('bad/raw-without-preview.nef', 'II*\0garbage', /no embedded preview|not a decodable/);
  await writePngBomb(path.join(root, 'bad/bomb.png'));
  bad[path.join(root, 'bad/bomb.png')] = /20000×20000 \(400 MP\) is over the pixel limit of 268 MP.*decompression bombs/;
  t.ok(fs.statSync(path.join(root, 'bad/bomb.png')).size < 200_000, 'the bomb is small on disk');

  // Unreadable file and folder (checked as an unprivileged user: root reads everything).
  const locked = await writePhoto(path.join(root, 'locked/secret.jpg'), { seed: 9 });
  const lockedFile = await writePhoto(path.join(root, 'bad/unreadable.jpg'), { seed: 10 });
  fs.chmodSync(lockedFile, 0o000);
  fs.chmodSync(path.dirname(locked), 0o000);
  t.teardown(() => fs.chmodSync(path.dirname(locked), 0o755));
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) bad[lockedFile] = /cannot read file: permission denied/;

  // Links: a loop back to an ancestor, a link to itself, a broken link, a good file link.
  fs.symlinkSync(root, path.join(root, 'odd/loop-to-root'));
  fs.symlinkSync('self.jpg', path.join(root, 'odd/self.jpg'));
  fs.symlinkSync('/nonexistent/target.jpg', path.join(root, 'odd/broken.jpg'));
  fs.symlinkSync(good[0]!, path.join(root, 'odd/link-to-good.jpg'));

  const env = envFor(config);
  // Run unprivileged so permissions mean something; the files must be reachable for that user.
  let prefix: string[] | undefined;
  if (asRoot) {
    for (const dir of [config.dataDir, path.dirname(config.dataDir)]) fs.chmodSync(dir, 0o777);
    bad[lockedFile] = /cannot read file: permission denied/;
    // env -u: the test runner's spawn hook adds NODE_OPTIONS that write where nobody may not.
    prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS'];
    env.HOME = config.dataDir;
  }
  const run = await runCli(['ingest', root, '--catalog', 'Bad', '--json'], { env, prefix });
  t.equal(run.code, 0, 'exit code 0 with per-file errors');
  t.notMatch(run.stderr, /\n\s+at /, `no stack traces: ${run.stderr}`);
  const summary = JSON.parse(run.stdout);
  const list = await runCli(['assets', 'list', '--catalog', 'Bad', '--json', '--limit', '1000'], { env, prefix });
  t.equal(list.code, 0, list.stderr);
  const assets = new Map((JSON.parse(list.stdout) as Record<string, any>[]).map((a) => [a.path, a]));

  for (const file of [...good, path.join(root, 'odd/link-to-good.jpg')]) {
    const a = assets.get(file);
    t.ok(a, `${JSON.stringify(file)} cataloged`);
    t.equal(a?.status, 'ok', `${JSON.stringify(file)} ok`);
    t.ok(a?.thumbnail && fs.existsSync(a.thumbnail), 'thumbnail written');
  }
  for (const [file, why] of Object.entries(bad)) {
    const a = assets.get(file);
    t.ok(a, `${path.basename(file)} recorded`);
    t.equal(a?.status, 'error', `${path.basename(file)} is an error`);
    t.match(a?.error, why, `${path.basename(file)}: ${a?.error}`);
  }
  t.equal(assets.get(path.join(root, 'bad/bomb.png'))?.width, 20000, 'the bomb’s size is known from its header');

  // Entries that are not files are reported as problems on stderr and counted as errors.
  t.match(run.stderr, /locked: cannot read folder: permission denied/);
  t.match(run.stderr, /self\.jpg: symbolic link loop/);
  t.match(run.stderr, /broken\.jpg: no such file/);
  t.notOk([...assets.keys()].some((p) => p.includes('loop-to-root')), 'the loop was not followed');
  t.equal(summary.errors, Object.keys(bad).length + 3);
  t.equal(summary.files_seen, assets.size);
});

t.test('an unreadable root is a clear error, not a crash', async (t) => {
  const config = await configFor(t, 'pglite');
  const file = path.join(tmpDir(t), 'plain.txt');
  fs.writeFileSync(file, 'x');
  const run = await runCli(['ingest', path.join(path.dirname(file), 'missing-dir')], { env: envFor(config) });
  t.equal(run.code, 2);
  t.match(run.stderr, /^lumina: no such directory: /);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});
