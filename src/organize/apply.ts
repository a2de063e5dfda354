import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StateChange, StoredAction } from '../db/organize.js';
import type { OrganizeErrorCode, OrganizeMode } from '../model/organize.js';
import { describeFsError } from '../pipeline/discover.js';
import { copyBounded, hashBounded, ReadError } from '../pipeline/safe-read.js';
import { messageOf } from '../util/errors.js';
import { failpoint, injectedError } from './failpoints.js';

/**
 * One action of a plan, carried through its journal (see ACTION_STATES): every step is committed
 * before the next starts, and each state says what a killed run left on disk, so running the same
 * action again from its recorded state finishes it exactly once. Nothing is ever overwritten: a
 * file reaches its target through link(), which fails on an existing name, and a source is removed
 * only after its copy is in place, verified by checksum and committed.
 */

export interface Journal {
  step(action: StoredAction, change: StateChange): Promise<void>;
  /** A folder this plan made (rollback removes it when empty). */
  madeDir(dir: string): Promise<void>;
}

export interface ActionContext {
  mode: OrganizeMode;
  planId: string;
  journal: Journal;
}

export type Outcome = 'done' | 'failed' | 'skipped';

class ActionFailure extends Error {
  constructor(
    readonly code: OrganizeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The partial file of an action, beside its target: one name per action, so a rerun finds it. */
export function partialPath(a: Pick<StoredAction, 'target_path' | 'plan_id' | 'seq'>): string {
  return path.join(path.dirname(a.target_path!), `.lumina-partial-${a.plan_id.slice(0, 8)}-${a.seq}`);
}

const exists = (p: string) => fs.lstat(p).then(() => true, () => false);
const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.stat(a).catch(() => null), fs.stat(b).catch(() => null)]);
  return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The folder and any missing parents, each one made recorded for rollback. */
async function ensureDir(dir: string, journal: Journal): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !(await exists(d)); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    // Recorded first: a folder made by a run killed right after is still this plan's to remove.
    await journal.madeDir(d);
    await fs.mkdir(d, { mode: 0o755 }).catch((err) => {
      if (errno(err) !== 'EEXIST') throw err;
    });
  }
}

/** Whether the source is still what the plan saw: same size and modification time. */
async function sourceChange(a: StoredAction): Promise<ActionFailure | null> {
  const st = await fs.stat(a.source_path).catch((err) => err as NodeJS.ErrnoException);
  if (st instanceof Error) {
    return errno(st) === 'ENOENT'
      ? new ActionFailure('source_missing', `the source is gone since the plan was made: ${a.source_path}`)
      : new ActionFailure('unreadable', `cannot read the source: ${describeFsError(st)}`);
  }
  if (!st.isFile()) return new ActionFailure('source_changed', 'the source is no longer a regular file: not touched');
  if (st.size !== a.size || Math.floor(st.mtimeMs) !== a.mtime.getTime()) {
    return new ActionFailure('source_changed', `the source changed since the plan was made (size ${a.size} → ${st.size}, or its modification time): not touched; plan again`);
  }
  return null;
}

const sameHash = (a: Buffer | null, b: Buffer) => !!a && a.equals(b);

/** Same file system as the target folder (or its nearest existing parent): a move may be a link. */
async function sameDevice(file: string, dir: string): Promise<boolean> {
  let d = dir;
  for (;;) {
    const st = await fs.stat(d).catch(() => null);
    if (st) return st.dev === (await fs.stat(file)).dev;
    if (path.dirname(d) === d) return false;
    d = path.dirname(d);
  }
}

/** Copies times and permissions; a share that refuses them (EPERM) costs a warning, not the file. */
async function keepAttributes(source: string, target: string): Promise<string | null> {
  const st = await fs.stat(source);
  const warnings: string[] = [];
  const refused = injectedError('utimes_eperm');
  await (refused ? Promise.reject(refused) : fs.utimes(target, st.atime, st.mtime)).catch((err) => warnings.push(`times not kept: ${describeFsError(err)}`));
  await (refused ? Promise.reject(refused) : fs.chmod(target, st.mode & 0o777)).catch((err) => warnings.push(`permissions not kept: ${describeFsError(err)}`));
  return warnings.length ? warnings.join('; ') : null;
}

/** Streams the source into the partial file, synced; returns the SHA-256 of the bytes read. */
async function writePartial(source: string, size: number, partial: string): Promise<Buffer> {
  await fs.rm(partial, { force: true });
  const out = await fs.open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const hash = await copyBounded(source, size, async (chunk) => {
      await out.write(chunk);
    });
    failpoint('partial_written');
    await out.sync();
    failpoint('partial_synced');
    return hash;
  } finally {
    await out.close();
  }
}

/** Runs one action from its recorded state to done (or failed); never throws for a bad file. */
export async function applyAction(a: StoredAction, ctx: ActionContext): Promise<Outcome> {
  const step = async (change: StateChange, point: string) => {
    failpoint(`before_${point}`);
    await ctx.journal.step(a, change);
    failpoint(`after_${point}`);
    if (change.state) a.state = change.state;
    if (change.method) a.method = change.method;
  };
  if (a.kind === 'skip') {
    await step({ state: 'done' }, 'done');
    return 'skipped';
  }
  const target = a.target_path!;
  const partial = partialPath(a);
  try {
    for (;;) {
      switch (a.state) {
        case 'planned': {
          const changed = await sourceChange(a);
          if (changed) throw changed;
          await ensureDir(path.dirname(target), ctx.journal);
          if (ctx.mode === 'move' && (await sameDevice(a.source_path, path.dirname(target)))) {
            // A move within one file system is a link and an unlink; the bytes are still checked first.
            const h = await hashBounded(a.source_path, a.size);
            if (!sameHash(a.sha256, h)) throw new ActionFailure('source_changed', 'the source no longer has the checksum the catalog recorded: not touched');
            await step({ state: 'verified', method: 'link' }, 'verified');
          } else {
            await step({ state: 'writing', method: 'copy' }, 'writing');
          }
          break;
        }
        case 'writing': {
          const h = await writePartial(a.source_path, a.size, partial);
          if (!sameHash(a.sha256, h)) {
            await fs.rm(partial, { force: true });
            throw new ActionFailure('source_changed', 'the source no longer has the checksum the catalog recorded: not touched');
          }
          const warning = await keepAttributes(a.source_path, partial);
          await step({ state: 'written', ...(warning ? { warning } : {}) }, 'written');
          break;
        }
        case 'written': {
          if (!(await exists(partial))) {
            await step({ state: 'writing' }, 'writing');
            break;
          }
          const h = await hashBounded(partial, a.size);
          if (!sameHash(a.sha256, h)) {
            await fs.rm(partial, { force: true });
            throw new ActionFailure('verify_failed', 'the copy does not have the checksum of the source (a write went wrong): removed, the source not touched');
          }
          await step({ state: 'verified' }, 'verified');
          break;
        }
        case 'verified': {
          const from = a.method === 'link' ? a.source_path : partial;
          if (a.method === 'copy' && !(await exists(partial))) {
            // Linked and its partial name removed before the run was killed: the target is ours if it holds the bytes.
            if ((await exists(target)) && sameHash(a.sha256, await hashBounded(target, a.size))) {
              await commit(a, ctx, step);
              break;
            }
            await step({ state: 'writing' }, 'writing');
            break;
          }
          try {
            await fs.link(from, target);
          } catch (err) {
            const code = errno(err);
            if (code === 'EEXIST') {
              if (!(await sameFile(from, target))) throw new ActionFailure('target_exists', `something is already at ${target}: never overwritten`);
            } else if (a.method === 'link' && (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK' || code === 'EOPNOTSUPP')) {
              // A file system that will not link (a share, FAT): copied instead, and verified.
              await step({ state: 'writing', method: 'copy' }, 'writing');
              break;
            } else throw err;
          }
          failpoint('linked');
          if (a.method === 'copy') await fs.rm(partial, { force: true });
          await syncDir(path.dirname(target));
          await commit(a, ctx, step);
          break;
        }
        case 'committed': {
          if (ctx.mode === 'copy') {
            await step({ state: 'done' }, 'done');
            break;
          }
          if (await exists(a.source_path)) {
            const changed = a.method === 'link' && (await sameFile(a.source_path, target)) ? null : await sourceChange(a);
            if (changed) {
              // Changed after it was copied: the copy is in the library, the changed source stays.
              await step({ state: 'done', warning: `the source changed after it was copied and was kept: ${changed.message}` }, 'done');
              break;
            }
            await fs.unlink(a.source_path);
            failpoint('source_unlinked');
            await syncDir(path.dirname(a.source_path)).catch(() => {});
          }
          await step({ state: 'source_removed' }, 'source_removed');
          break;
        }
        case 'source_removed':
          await step({ state: 'done' }, 'done');
          break;
        case 'done':
          return 'done';
        case 'failed':
          return 'failed';
      }
    }
  } catch (err) {
    const failure =
      err instanceof ActionFailure
        ? err
        : err instanceof ReadError
          ? new ActionFailure(err.code === 'changed' ? 'source_changed' : 'unreadable', err.message)
          : new ActionFailure('write_failed', `cannot write ${target}: ${describeFsError(err) || messageOf(err)}`);
    await ctx.journal.step(a, { state: 'failed', error: failure.message, errorCode: failure.code });
    a.state = 'failed';
    return 'failed';
  }
}

/** In place: the catalog follows a moved file in the same transaction. */
function commit(a: StoredAction, ctx: ActionContext, step: (c: StateChange, point: string) => Promise<void>): Promise<void> {
  const moved = ctx.mode === 'move' && a.asset_id !== null;
  return step({ state: 'committed', ...(moved ? { assetPath: { assetId: a.asset_id!, path: a.target_path! } } : {}) }, 'committed');
}

export type UndoOutcome = 'returned' | 'conflict';

/**
 * One action undone (actions are undone last first): a moved file goes back to its source path
 * only when the target still holds the recorded checksum and nothing is at the source path now;
 * a copy is removed only when it still holds what was written. Anything else is a conflict: kept
 * as it is, and said.
 */
export async function undoAction(a: StoredAction, ctx: ActionContext): Promise<UndoOutcome> {
  const target = a.target_path!;
  const source = a.source_path;
  const conflict = async (why: string): Promise<UndoOutcome> => {
    await ctx.journal.step(a, { rollbackState: 'conflict', warning: why });
    return 'conflict';
  };
  const back = (a.asset_id !== null && ctx.mode === 'move') ? { assetPath: { assetId: a.asset_id, path: source } } : {};
  const holdsOurs = async (file: string) => (await exists(file)) && sameHash(a.sha256, await hashBounded(file, a.size).catch(() => Buffer.alloc(0)));

  // An apply killed before this action was committed: its partial file, and a link it made, go; the source never moved.
  if (a.rollback_state === null && (a.state === 'writing' || a.state === 'written' || a.state === 'verified')) {
    await fs.rm(partialPath(a), { force: true });
    if ((await exists(target)) && (await exists(source)) && ((await sameFile(source, target)) || (await holdsOurs(target)))) await fs.unlink(target);
    await ctx.journal.step(a, { rollbackState: 'returned' });
    return 'returned';
  }
  // Both there (a copy, or a move killed before its source was removed): only the library's file goes.
  // A move recorded as committed may have lost its source just before the kill: it is looked at, not assumed.
  const sourceKept = ctx.mode === 'copy' || (a.state === 'committed' && (await exists(source)));
  if (a.rollback_state === null && sourceKept) {
    if (await exists(target)) {
      if (!(await sameFile(source, target)) && !(await holdsOurs(target))) return conflict(`${target} was changed since it was written: kept`);
      await fs.unlink(target);
      failpoint('rollback_unlinked');
    }
    await ctx.journal.step(a, { rollbackState: 'returned', ...back });
    return 'returned';
  }
  if (a.rollback_state === null) {
    if (await exists(source)) return conflict(`something is at ${source} now: kept, and the library's copy left at ${target}`);
    if (!(await holdsOurs(target))) return conflict(`${target} no longer holds the file that was moved there: kept`);
    failpoint('before_rollback_returning');
    await ctx.journal.step(a, { rollbackState: 'returning' });
    failpoint('after_rollback_returning');
  }
  // Returning: bring the bytes back to the source path without overwriting, then let go of the target.
  if (!(await exists(source))) {
    await fs.mkdir(path.dirname(source), { recursive: true });
    try {
      await fs.link(target, source);
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST') return conflict(`something appeared at ${source}: kept`);
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
      const partial = path.join(path.dirname(source), `.lumina-partial-${a.plan_id.slice(0, 8)}-${a.seq}`);
      const h = await writePartial(target, a.size, partial);
      if (!sameHash(a.sha256, h) || !(await holdsOurs(partial))) {
        await fs.rm(partial, { force: true });
        return conflict(`the copy back to ${source} did not verify: the library's file kept`);
      }
      await keepAttributes(target, partial).catch(() => null);
      await fs.link(partial, source);
      await fs.rm(partial, { force: true });
    }
    failpoint('rollback_linked');
    await syncDir(path.dirname(source));
  } else if (!(await sameFile(source, target)) && !(await holdsOurs(source))) {
    return conflict(`something else is at ${source} now: kept`);
  }
  await ctx.journal.step(a, { rollbackState: 'returning', ...back });
  if (await exists(target)) await fs.unlink(target);
  failpoint('rollback_unlinked');
  await ctx.journal.step(a, { rollbackState: 'returned' });
  return 'returned';
}

/** The plan's folders, deepest first, removed where empty (a folder with anything in it stays). */
export async function removeMadeDirs(dirs: string[]): Promise<number> {
  let removed = 0;
  for (const d of dirs) {
    await fs.rmdir(d).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}
