import path from 'node:path';
import t from 'tap';
import { actionsOf, COPY_POINTS, crashCatalog, expectLibrary, killAndResume, makePlan, treeDigest } from './helpers/organize.js';
import { tmpDir } from './helpers/tmp.js';

// SIGKILL at every step of the journal, then the same command again: the plan finishes with every
// action done exactly once, no partial file left, no _1 copy made by the restart; a rollback
// killed the same way finishes too, and the archive comes back byte for byte.

t.test('copy: killed at every step, finished by the next run', async (t) => {
  const { root, env, original } = await crashCatalog(t);
  for (const point of COPY_POINTS) {
    const dest = path.join(tmpDir(t), `lib-${point}`);
    const { id } = await makePlan(env, ['--catalog', 'Crash', '--dest', dest]);
    await killAndResume(t, env, 'apply', id, point);
    const { plan, actions } = await actionsOf(env, id);
    t.equal(plan.status, 'applied');
    t.ok(actions.every((a) => a.state === 'done'), `${point}: every action done`);
    expectLibrary(t, dest, original, point);
    t.same(treeDigest(root), original, `${point}: the archive untouched`);
  }
});

