import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { actionsOf, makePlan, organize, partialFiles, treeDigest } from './helpers/organize.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

// SIGKILL at every step of the journal, then the same command again: the plan finishes with every
// action done exactly once, no partial file left, no _1 copy made by the restart; a rollback
// killed the same way finishes too, and the archive comes back byte for byte.

const COPY_POINTS = ['before_writing', 'after_writing', 'partial_written', 'partial_synced', 'before_written', 'after_written', 'before_verified', 'after_verified', 'linked', 'before_committed', 'after_committed', 'before_done', 'after_done'];
const MOVE_POINTS = ['before_verified', 'after_verified', 'linked', 'before_committed', 'after_committed', 'source_unlinked', 'before_source_removed', 'after_source_removed', 'before_done'];
const ROLLBACK_POINTS = ['before_rollback_returning', 'after_rollback_returning', 'rollback_linked', 'rollback_unlinked'];

async function setUp(t: Test) {
  const root = path.join(tmpDir(t), 'archive');
  for (let i = 0; i < 3; i++) {
    const f = await writePhoto(path.join(root, `IMG_${i}.jpg`), { seed: i + 1, dateTimeOriginal: `2017:07:0${i + 1} 08:00:00` });
    if (i === 1) fs.writeFileSync(f + '.xmp', '<x:xmpmeta/>');
  }
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  t.equal((await runCli(['ingest', root, '--catalog', 'Crash'], { env })).code, 0);
  return { root, env, original: treeDigest(root) };
}

/** Killed at `point` (the second time it is reached, so one action is already through), then run again. */
async function killAndResume(t: Test, env: Record<string, string>, command: 'apply' | 'rollback', id: string, point: string) {
  const killed = await organize(env, [command, id], { LUMINA_ORGANIZE_KILL_AT: `${point}:2` });
  t.equal(killed.signal, 'SIGKILL', `${command} killed at ${point}`);
  const resumed = await organize(env, [command, id, '--json']);
  t.equal(resumed.code, 0, `${command} after a kill at ${point} finishes: ${resumed.stderr}`);
  return JSON.parse(resumed.stdout);
}

function expectLibrary(t: Test, dest: string, original: [string, string][], point: string) {
  t.same(treeDigest(dest).map(([p, h]) => [path.basename(p), h]).sort(), original.map(([p, h]) => [path.basename(p), h]).sort(), `${point}: each file once in the library, whole, no _1 copy`);
  t.same(partialFiles(dest), [], `${point}: no partial file left`);
}

t.test('copy: killed at every step, finished by the next run', async (t) => {
  const { root, env, original } = await setUp(t);
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

t.test('move: killed at every step, finished; rollback killed at every step, finished; the archive comes back', async (t) => {
  const { root, env, original } = await setUp(t);
  const points = [...MOVE_POINTS.map((p) => ['apply', p] as const), ...ROLLBACK_POINTS.map((p) => ['rollback', p] as const)];
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

t.test('rollback straight after a crashed apply: what was half done is undone, the rest was never touched', async (t) => {
  const { root, env, original } = await setUp(t);
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
