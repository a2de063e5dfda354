import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

// Permissions only bind an unprivileged user: as root, the scans run as nobody.
const asRoot = process.getuid?.() === 0;

t.test('a folder that cannot be read keeps its files; it is reported, not emptied', async (t) => {
  const config = await configFor(t, 'pglite');
  const root = tmpDir(t, 'lumina-unreadable-');
  for (let i = 0; i < 6; i++) await writePhoto(path.join(root, 'album', `a${i}.jpg`), { seed: i + 1, width: 160, height: 120 });
  await writePhoto(path.join(root, 'other', 'o.jpg'), { seed: 50, width: 160, height: 120 });
  const env = envFor(config);
  let prefix: string[] | undefined;
  if (asRoot) {
    for (const dir of [config.dataDir, path.dirname(config.dataDir), root, path.dirname(root)]) fs.chmodSync(dir, 0o777);
    prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS'];
    env.HOME = config.dataDir;
  }
  const ingest = () => runCli(['ingest', root, '--catalog', 'Album', '--json'], { env, prefix });
  const statuses = async () => {
    const list = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Album', '--json'], { env, prefix })).stdout) as { path: string; status: string }[];
    return Object.fromEntries(list.map((a) => [path.relative(root, a.path), a.status]));
  };
  const first = await ingest();
  t.equal(first.code, 0, first.stderr);
  t.equal(JSON.parse(first.stdout).assets_added, 7);

  fs.chmodSync(path.join(root, 'album'), 0o000);
  t.teardown(() => fs.chmodSync(path.join(root, 'album'), 0o755));
  const locked = await ingest();
  t.equal(locked.code, 0, locked.stderr);
  t.match(locked.stderr, /album: cannot read folder: permission denied/, 'the folder is reported');
  t.equal(JSON.parse(locked.stdout).assets_missing, 0, 'nothing is marked missing');
  const during = await statuses();
  t.same(Object.values(during).filter((s) => s !== 'ok'), [], `every file keeps its state (${JSON.stringify(during)})`);

  fs.chmodSync(path.join(root, 'album'), 0o755);
  fs.rmSync(path.join(root, 'other', 'o.jpg'));
  const back = JSON.parse((await ingest()).stdout);
  t.equal(back.assets_unchanged, 6, 'when it comes back its files are unchanged, not reprocessed');
  t.equal(back.assets_missing, 1, 'a file really gone is still marked missing');
  t.equal((await statuses())['other/o.jpg'], 'missing');
});
