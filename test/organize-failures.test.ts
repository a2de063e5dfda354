import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { actionsOf, makePlan, organize, organizeArchive, partialFiles, treeDigest } from './helpers/organize.js';
import { tmpDir } from './helpers/tmp.js';

// What goes wrong while applying: another file system, a source changed since the plan, a name
// taken since, a copy that does not verify, a share that refuses times. Each is clear and loses nothing.


t.test('across file systems (EXDEV): a move is a verified copy, and comes back the same way', { skip: !fs.existsSync('/dev/shm') && 'no /dev/shm' }, async (t) => {
  const { root, env } = await organizeArchive(t, 'pglite', 3);
  if (fs.statSync('/dev/shm').dev === fs.statSync(root).dev) {
    t.fail('/dev/shm is on the same file system here: no second file system to move across');
    return;
  }
  const original = treeDigest(root);
  const dest = fs.mkdtempSync('/dev/shm/lumina-organize-');
  t.teardown(() => fs.rmSync(dest, { recursive: true, force: true }));
  const { id, summary } = await makePlan(env, ['--catalog', 'Lib', '--dest', path.join(dest, 'lib'), '--mode', 'move']);
  t.equal(summary.bytes_to_write, summary.bytes, 'every byte crosses over');
  t.match(JSON.parse((await organize(env, ['apply', id, '--json'])).stdout), { done: 4, failed: 0 });
  t.same(treeDigest(root), []);
  t.same(partialFiles(dest), []);
  t.match(JSON.parse((await organize(env, ['rollback', id, '--json'])).stdout), { done: 4, conflicts: 0 });
  t.same(treeDigest(root), original, 'back byte for byte');
});

t.test('a source changed since the plan, and a name taken since, fail alone and clearly; nothing is overwritten', async (t) => {
  const { root, env } = await organizeArchive(t, 'pglite', 4);
  const dest = path.join(tmpDir(t), 'library');
  const { id } = await makePlan(env, ['--catalog', 'Lib', '--dest', dest, '--mode', 'move']);
  const { actions } = await actionsOf(env, id);
  const changed = actions.find((a) => a.source.endsWith('IMG_1.jpg'))!;
  fs.appendFileSync(changed.source, 'more bytes');
  const blocked = actions.find((a) => a.source.endsWith('IMG_2.jpg'))!;
  fs.mkdirSync(path.dirname(blocked.target!), { recursive: true });
  fs.writeFileSync(blocked.target!, 'someone else’s file');
  const out = JSON.parse((await organize(env, ['apply', id, '--json'])).stdout);
  t.match(out, { done: 3, failed: 2 });
  const after = (await actionsOf(env, id)).actions;
  t.match(after.find((a) => a.seq === changed.seq), { state: 'failed', error_code: 'source_changed', error: /changed since the plan was made/ });
  t.match(after.find((a) => a.seq === blocked.seq), { state: 'failed', error_code: 'target_exists', error: /never overwritten/ });
  t.ok(fs.existsSync(changed.source) && fs.existsSync(blocked.source), 'both sources are where they were');
  t.equal(fs.readFileSync(blocked.target!, 'utf8'), 'someone else’s file', 'the file in the way is untouched');
  t.same(partialFiles(dest), []);
});

t.test('a byte flipped in a partial copy fails verification; the source is untouched', async (t) => {
  const { env } = await organizeArchive(t, 'pglite', 1);
  const dest = path.join(tmpDir(t), 'library');
  const { id } = await makePlan(env, ['--catalog', 'Lib', '--dest', dest]);
  const killed = await organize(env, ['apply', id], { LUMINA_ORGANIZE_KILL_AT: 'after_written' });
  t.equal(killed.signal, 'SIGKILL', 'killed once a partial copy was whole and recorded');
  const written = (await actionsOf(env, id)).actions.find((a) => a.state === 'written')!;
  t.ok(written, 'an action stopped at written');
  const sourceBytes = fs.readFileSync(written.source);
  const file = path.join(path.dirname(written.target!), `.lumina-partial-${id.slice(0, 8)}-${written.seq}`);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length >> 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
  const resumed = JSON.parse((await organize(env, ['apply', id, '--json'])).stdout);
  t.equal(resumed.failed, 1, 'the flipped copy fails');
  t.match((await actionsOf(env, id)).actions.find((a) => a.seq === written.seq), { state: 'failed', error_code: 'verify_failed' });
  t.same(fs.readFileSync(written.source), sourceBytes, 'the source is untouched');
  t.same(partialFiles(dest), [], 'the bad copy is removed');
  t.notOk(fs.existsSync(written.target!), 'and never linked into place');
});

t.test('a share that refuses times and permissions (EPERM) costs a warning, not the file', async (t) => {
  const { root, env } = await organizeArchive(t, 'pglite', 2);
  const original = treeDigest(root);
  const dest = path.join(tmpDir(t), 'library');
  const { id } = await makePlan(env, ['--catalog', 'Lib', '--dest', dest]);
  const out = JSON.parse((await organize(env, ['apply', id, '--json'], { LUMINA_ORGANIZE_INJECT: 'utimes_eperm' })).stdout);
  t.match(out, { done: 3, failed: 0 }, 'every file copied');
  const { actions } = await actionsOf(env, id);
  t.ok(actions.every((a) => /times not kept: permission denied/.test(a.warning ?? '')), 'each action says what was not kept');
  t.same(treeDigest(dest).map(([, h]) => h).sort(), original.map(([, h]) => h).sort(), 'with every byte');
});
