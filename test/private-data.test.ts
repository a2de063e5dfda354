import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';
import { isThumbnailFile } from '../src/pipeline/pixels.js';

function walk(dir: string): string[] {
  return [dir, ...fs.readdirSync(dir, { recursive: true }).map((p) => path.join(dir, String(p)))];
}

t.test('the data directory is private to its owner whatever the umask', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  // An older or hand-made data directory, open to everyone, is closed as well.
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(config.dataDir, 0o755);
  const root = tmpDir(t);
  for (let i = 0; i < 3; i++) await writePhoto(path.join(root, `p${i}.jpg`), { seed: i + 1, width: 160, height: 120 });
  const r = await runCli(['ingest', root, '--catalog', 'Private'], { env, prefix: ['sh', '-c', 'umask 022; exec "$@"', 'sh'] });
  t.equal(r.code, 0, r.stderr);
  const entries = walk(config.dataDir);
  t.ok(entries.some((p) => isThumbnailFile(p)) && entries.some((p) => p.includes('pgdata')), 'thumbnails and the database were written');
  const open = entries.filter((p) => fs.lstatSync(p).mode & 0o077).map((p) => `${path.relative(config.dataDir, p) || '.'} ${(fs.lstatSync(p).mode & 0o777).toString(8)}`);
  t.same(open, [], 'no file or folder readable by group or others');
  t.equal(fs.statSync(config.dataDir).mode & 0o777, 0o700, 'the data directory is 0700');
});
