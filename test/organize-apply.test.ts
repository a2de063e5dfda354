import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { actionsOf, makePlan, organize, organizeArchive, partialFiles, treeDigest } from './helpers/organize.js';
import { tmpDir } from './helpers/tmp.js';

// Applying and rolling back, on real files: copies verified, moves that leave the catalog pointing
// at the files, sources restored byte for byte, across file systems too, and every refusal clear.


const assetPaths = async (env: Record<string, string>) =>
  (JSON.parse((await runCli(['assets', 'list', '--catalog', 'Lib', '--json', '--limit', '1000'], { env })).stdout) as { path: string }[]).map((a) => a.path).sort();

for (const backend of ['pglite', 'postgres'] as const) {
  t.test(`move and roll back (${backend}): the catalog follows the files, and the archive comes back byte for byte`, async (t) => {
    const { root, env } = await organizeArchive(t, backend);
    const original = treeDigest(root);
    const dest = path.join(tmpDir(t), 'library');
    const { id, summary } = await makePlan(env, ['--catalog', 'Lib', '--dest', dest, '--mode', 'move']);
    t.equal(summary.files, 7, 'six pictures and a sidecar');
    const applied = await organize(env, ['apply', id, '--json']);
    t.equal(applied.code, 0, applied.stderr);
    const out = JSON.parse(applied.stdout);
    t.match(out, { done: 7, failed: 0, plan_status: 'applied' });
    t.same(treeDigest(root), [], 'the sources are gone from the archive');
    t.same(treeDigest(dest).map((x) => x[1]).sort(), original.map((x) => x[1]).sort(), 'every file is in the library with its bytes');
    t.same(partialFiles(dest), [], 'no partial files');
    const paths = await assetPaths(env);
    t.ok(paths.every((p) => p.startsWith(dest + '/') && fs.existsSync(p)), 'the catalog points at the moved files');
    const catalog = JSON.parse((await runCli(['catalog', 'show', 'Lib', '--json'], { env })).stdout);
    t.equal(catalog.organized_directory, dest, 'the catalog records DEST');

    const again = await organize(env, ['apply', id, '--json']);
    t.equal(again.code, 0, again.stderr);
    t.equal(JSON.parse(again.stdout).done, 0, 'applying again does nothing');

    const rolled = await organize(env, ['rollback', id, '--json']);
    t.equal(rolled.code, 0, rolled.stderr);
    t.match(JSON.parse(rolled.stdout), { done: 7, conflicts: 0, plan_status: 'rolled_back' });
    t.same(treeDigest(root), original, 'the archive is byte-identical to what it was');
    t.notOk(fs.existsSync(dest), 'the folders the plan made are gone');
    t.same(await assetPaths(env), original.filter(([p]) => !p.endsWith('.xmp')).map(([p]) => path.join(root, p)).sort(), 'the catalog points at the sources again');
    const refused = await organize(env, ['apply', id]);
    t.equal(refused.code, 2);
    t.match(refused.stderr, /rolled back: make a new plan/);
  });
}

t.test('copy: sources untouched, copies verified; rollback removes only what it wrote', async (t) => {
  const { root, env } = await organizeArchive(t, 'pglite');
  const original = treeDigest(root);
  const dest = path.join(tmpDir(t), 'library');
  fs.mkdirSync(dest);
  fs.writeFileSync(path.join(dest, 'mine.txt'), 'the user’s own file');
  const { id } = await makePlan(env, ['--catalog', 'Lib', '--dest', dest]);
  const out = JSON.parse((await organize(env, ['apply', id, '--json'])).stdout);
  t.match(out, { done: 7, failed: 0 });
  t.same(treeDigest(root), original, 'the archive is untouched');
  t.equal(treeDigest(dest).length, 8, 'seven copies beside the user’s file');
  // A copy the user edited afterwards is theirs now: rollback keeps it.
  const edited = (await actionsOf(env, id)).actions.find((a) => a.role === 'primary')!.target!;
  fs.appendFileSync(edited, 'edited');
  const rolled = JSON.parse((await organize(env, ['rollback', id, '--json'])).stdout);
  t.match(rolled, { done: 6, conflicts: 1 });
  t.same(treeDigest(dest).map(([p]) => p).sort(), ['mine.txt', path.relative(dest, edited)].sort(), 'only the edited copy and the user’s file remain');
  t.match((await actionsOf(env, id)).actions.find((a) => a.target === edited)?.warning, /changed since it was written: kept/);
});

