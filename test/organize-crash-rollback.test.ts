import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { actionsOf, crashCatalog, killAndResume, makePlan, organize, ROLLBACK_POINTS, treeDigest } from './helpers/organize.js';
import { tmpDir } from './helpers/tmp.js';

// SIGKILL at every step of the journal, then the same command again: the plan finishes with every
// action done exactly once, no partial file left, no _1 copy made by the restart; a rollback
// killed the same way finishes too, and the archive comes back byte for byte.

t.test('rollback killed at its last steps, finished by the next run', async (t) => {
  const { root, env, original } = await crashCatalog(t);
  for (const point of ROLLBACK_POINTS.slice(2)) {
    const dest = path.join(tmpDir(t), `lib-rollback-${point}`);
    const { id } = await makePlan(env, ['--catalog', 'Crash', '--dest', dest, '--mode', 'move']);
    t.equal(JSON.parse((await organize(env, ['apply', id, '--json'])).stdout).failed, 0);
    const out = await killAndResume(t, env, 'rollback', id, point);
    t.equal(out.conflicts, 0, `${point}: no conflicts`);
    t.ok((await actionsOf(env, id)).actions.every((a) => a.rollback_state === 'returned'), `${point}: every action returned`);
    t.same(treeDigest(root), original, `rollback ${point}: the archive is byte-identical`);
    t.notOk(fs.existsSync(dest), `rollback ${point}: the library folders are gone`);
  }
});

t.test('rollback straight after a crashed apply: what was half done is undone, the rest was never touched', async (t) => {
  const { root, env, original } = await crashCatalog(t);
  for (const [mode, point] of [['move', 'linked'], ['move', 'source_unlinked'], ['copy', 'partial_synced'], ['copy', 'after_verified']] as const) {
    const dest = path.join(tmpDir(t), `lib-${mode}-${point}`);
    const { id } = await makePlan(env, ['--catalog', 'Crash', '--dest', dest, '--mode', mode]);
    const killed = await organize(env, ['apply', id], { LUMINA_ORGANIZE_KILL_AT: `${point}:2` });
    t.equal(killed.signal, 'SIGKILL', `${mode} apply killed at ${point}`);
    const back = await organize(env, ['rollback', id, '--json']);
    t.equal(back.code, 0, back.stderr);
    t.equal(JSON.parse(back.stdout).conflicts, 0, `${mode} ${point}: no conflicts`);
    t.same(treeDigest(root), original, `${mode} ${point}: the archive is byte-identical`);
    t.notOk(fs.existsSync(dest), `${mode} ${point}: nothing is left in the library, partial files included`);
    const paths = (JSON.parse((await runCli(['assets', 'list', '--catalog', 'Crash', '--json'], { env })).stdout) as { path: string }[]).map((a) => a.path);
    t.ok(paths.every((p) => p.startsWith(root + '/')), `${mode} ${point}: the catalog points at the archive`);
  }
});
