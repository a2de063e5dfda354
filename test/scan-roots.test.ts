import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { isThumbnailFile } from '../src/pipeline/pixels.js';

// A scan stays inside its catalog's roots: links out are not followed, and a folder swapped for
// such a link after the job was accepted is not scanned.

const small = { width: 160, height: 120 };

async function tree(t: Test) {
  const base = tmpDir(t, 'lumina-roots-');
  const root = path.join(base, 'root1');
  const outside = path.join(base, 'private');
  for (let i = 0; i < 3; i++) await writePhoto(path.join(root, 'sub', `p${i}.jpg`), { seed: i + 1, ...small });
  for (let i = 0; i < 2; i++) await writePhoto(path.join(outside, `secret${i}.jpg`), { seed: 90 + i, ...small });
  fs.symlinkSync(outside, path.join(root, 'out'));
  fs.symlinkSync(path.join(outside, 'secret0.jpg'), path.join(root, 'secret-link.jpg'));
  fs.symlinkSync(path.join(root, 'sub'), path.join(root, 'inside-link'));
  return { root, outside };
}

const paths = async (env: Record<string, string>, catalog: string) =>
  (JSON.parse((await runCli(['assets', 'list', '--catalog', catalog, '--json'], { env })).stdout) as { path: string }[]).map((a) => a.path);

t.test('links that lead outside the roots are reported and not followed, unless the catalog allows them', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const { root, outside } = await tree(t);
  const run = await runCli(['ingest', root, '--catalog', 'Confined', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stderr, /root1\/out: not followed: the link leads outside the catalog's source directories/);
  t.match(run.stderr, /secret-link\.jpg: not followed/);
  const summary = JSON.parse(run.stdout);
  t.equal(summary.errors, 0, 'a skipped link is not an error');
  const seen = await paths(env, 'Confined');
  t.notOk(seen.some((p) => p.includes('secret') || p.startsWith(outside)), 'nothing outside was cataloged');
  t.ok(seen.some((p) => p.includes('inside-link')), 'a link within the roots is followed');
  const thumbs = fs.readdirSync(path.join(config.dataDir, 'thumbnails'), { recursive: true }).filter((f) => isThumbnailFile(String(f)));
  t.equal(thumbs.length, 3, 'no thumbnail of a picture outside');

  t.equal((await runCli(['catalog', 'create', 'Open', root, '--follow-external-links'], { env })).code, 0);
  const open = await runCli(['ingest', root, '--catalog', 'Open', '--json'], { env });
  t.equal(open.code, 0, open.stderr);
  t.ok((await paths(env, 'Open')).some((p) => p.includes(path.join('out', 'secret0.jpg'))), '--follow-external-links follows them');
});

t.test('a folder swapped for a link out between the 202 and the run is not scanned', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = { ...envFor(config), LUMINA_WORKERS: '1', LUMINA_SHARD_SIZE: '5' };
  const { root } = await tree(t);
  const busyRoot = tmpDir(t, 'lumina-busy-');
  for (let i = 0; i < 60; i++) await writePhoto(path.join(busyRoot, `b${i}.jpg`), { seed: 200 + i, width: 800, height: 600 });
  const s = await startServe(t, env);
  const busy = (await api(s.url, 'POST', '/api/catalogs', { body: { name: 'Busy', source_directories: [busyRoot] } })).json.id;
  const cid = (await api(s.url, 'POST', '/api/catalogs', { body: { name: 'Swap', source_directories: [root] } })).json.id;
  const first = await api(s.url, 'POST', '/api/jobs/scan', { body: { catalog_id: busy } });
  const sub = path.join(root, 'sub');
  const accepted = await api(s.url, 'POST', '/api/jobs/scan', { body: { catalog_id: cid, directories: [sub] } });
  t.equal(accepted.status, 202, 'the folder is inside the roots when asked');
  // Jobs run one at a time here: while the busy one runs, the folder becomes a link out.
  fs.renameSync(sub, path.join(root, 'sub-was'));
  fs.symlinkSync(path.join(path.dirname(root), 'private'), sub);
  t.equal((await jobDone(s.url, first.json.id, undefined, 240_000)).status, 'completed');
  const done = await jobDone(s.url, accepted.json.id, undefined, 120_000);
  t.equal(done.status, 'completed');
  t.match(done.result.problems, [{ path: sub, message: /not scanned: it now leads outside the catalog's source directories/ }]);
  t.equal(done.result.files_seen, 0, 'nothing behind the link was read');
  const assets = await api(s.url, 'GET', `/api/catalogs/${cid}/assets`);
  t.same(assets.json.items, [], 'and nothing cataloged');
});
