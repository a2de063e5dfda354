import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { actionsOf, crashCatalog, expectLibrary, killAndResume, makePlan, MOVE_POINTS, organize, ROLLBACK_POINTS, treeDigest } from './helpers/organize.js';
import { tmpDir } from './helpers/tmp.js';

// SIGKILL at every step of the journal, then the same command again: the plan finishes with every
// action done exactly once, no partial file left, no _1 copy made by the restart; a rollback
// killed the same way finishes too, and the archive comes back byte for byte.

t.test('move: killed at every step, finished; rollback killed at every step, finished; the archive comes back', async (t) => {
  const { root, env, original } = await crashCatalog(t);
  const points = [...MOVE_POINTS.map((p) => ['apply', p] as const), ...ROLLBACK_POINTS.slice(0, 2).map((p) => ['rollback', p] as const)];
  for (const [command, point] of points) {
    const dest = path.join(tmpDir(t), `lib-${command}-${point}`);
    const { id } = await makePlan(env, ['--catalog', 'Crash', '--dest', dest, '--mode', 'move']);
    if (command === 'apply') {
      await killAndResume(t, env, 'apply', id, point);
      t.ok((await actionsOf(env, id)).actions.every((a) => a.state === 'done'), `${point}: every action done`);
      expectLibrary(t, dest, original, point);
      t.same(treeDigest(root), [], `${point}: every source moved`);
      const back = await organize(env, ['rollback', id, '--json']);
      t.equal(back.code, 0, back.stderr);
    } else {
      const applied = await organize(env, ['apply', id, '--json']);
      t.equal(JSON.parse(applied.stdout).failed, 0);
      const out = await killAndResume(t, env, 'rollback', id, point);
      t.equal(out.conflicts, 0, `${point}: no conflicts`);
      t.ok((await actionsOf(env, id)).actions.every((a) => a.rollback_state === 'returned'), `${point}: every action returned`);
    }
    t.same(treeDigest(root), original, `${command} ${point}: after rollback the archive is byte-identical`);
    t.notOk(fs.existsSync(dest), `${command} ${point}: the library folders are gone`);
  }
});

