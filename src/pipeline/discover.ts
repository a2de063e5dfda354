import fs from 'node:fs/promises';
import path from 'node:path';
import { messageOf } from '../util/errors.js';
import { extensionOf, fileTypeOf, type FileType } from './file-types.js';
import { isInsideAny, realLocation } from './real-paths.js';

export interface DiscoveredFile {
  path: string;
  size: number;
  /** Whole milliseconds: what the database keeps, so re-runs compare like with like. */
  mtimeMs: number;
  type: FileType;
  ext: string;
}

export interface DiscoveryProblem {
  path: string;
  message: string;
  /** Left out on purpose (a link leading outside the catalog's roots), not an error. */
  skipped?: true;
}

export interface DiscoverOptions {
  /**
   * The catalog's source directories: a symbolic link whose target lies outside all of them is
   * not followed (a skipped problem), so a scan never reaches what the catalog does not cover.
   */
  within?: string[];
  /** Follow such links all the same (the catalog's `follow_external_links` setting). */
  followExternal?: boolean;
}

export interface Discovery {
  files: DiscoveredFile[];
  problems: DiscoveryProblem[];
  /** Directories skipped on purpose (hidden, NAS metadata, a symlink back into the walk). */
  skipped: number;
  /**
   * Folders and files that are there but could not be read (permissions, I/O errors): what was
   * cataloged under them keeps its state, since the walk cannot vouch that it has gone.
   */
  unread: string[];
}

/** Whether an error says the entry is gone (it is then missing), rather than unreadable. */
const isGone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR';

// Folders that NAS systems and operating systems fill with their own thumbnails and trash.
const SKIPPED_FOLDERS = new Set(['@eadir', '.@__thumb', '#recycle', '#snapshot', '$recycle.bin', 'system volume information', 'lost+found']);

export function isSkippedName(name: string): boolean {
  return name.startsWith('.') || SKIPPED_FOLDERS.has(name.toLowerCase());
}

/**
 * Walks the roots and returns every cataloged file with its size and mtime. Symbolic links are
 * followed, but a directory is entered once only (by device and inode), so link loops end.
 * Nothing here throws for one bad entry: it becomes a problem and the walk goes on.
 */
export async function discover(roots: string[], onProgress?: (found: number) => void, options: DiscoverOptions = {}): Promise<Discovery> {
  const result: Discovery = { files: [], problems: [], skipped: 0, unread: [] };
  const realRoots = options.within && !options.followExternal ? options.within.map(realLocation) : null;
  /** A link's target outside the roots: reported and not followed. */
  const leadsOutside = async (link: string): Promise<boolean> => {
    if (!realRoots) return false;
    const target = await fs.realpath(link).catch(() => null);
    if (target === null || isInsideAny(target, realRoots)) return false;
    result.problems.push({ path: link, message: `not followed: the link leads outside the catalog's source directories (to ${target})`, skipped: true });
    result.skipped++;
    return true;
  };
  const visited = new Set<string>();
  const stack: string[] = [];

  for (const root of roots) {
    const abs = path.resolve(root);
    try {
      const st = await fs.stat(abs);
      if (st.isDirectory()) stack.push(abs);
      else if (st.isFile()) addFile(result, abs, st);
      else result.problems.push({ path: abs, message: 'not a regular file or directory' });
    } catch (err) {
      result.problems.push({ path: abs, message: describeFsError(err) });
    }
  }

  while (stack.length) {
    const dir = stack.pop()!;
    let dirStat;
    try {
      dirStat = await fs.stat(dir);
    } catch (err) {
      result.problems.push({ path: dir, message: describeFsError(err) });
      if (!isGone(err)) result.unread.push(dir);
      continue;
    }
    const key = `${dirStat.dev}:${dirStat.ino}`;
    if (visited.has(key)) {
      result.skipped++;
      continue;
    }
    visited.add(key);

    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      result.problems.push({ path: dir, message: `cannot read folder: ${describeFsError(err)}` });
      result.unread.push(dir);
      continue;
    }
    const subdirs: string[] = [];
    for (const entry of entries) {
      if (isSkippedName(entry.name)) {
        if (entry.isDirectory()) result.skipped++;
        continue;
      }
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        subdirs.push(full);
      } else if (entry.isFile()) {
        if (!fileTypeOf(entry.name)) continue;
        try {
          addFile(result, full, await fs.stat(full));
        } catch (err) {
          result.problems.push({ path: full, message: describeFsError(err) });
          if (!isGone(err)) result.unread.push(full);
        }
      } else if (entry.isSymbolicLink()) {
        try {
          const target = await fs.stat(full);
          if ((target.isDirectory() || (target.isFile() && fileTypeOf(entry.name))) && (await leadsOutside(full))) continue;
          if (target.isDirectory()) subdirs.push(full);
          else if (target.isFile() && fileTypeOf(entry.name)) addFile(result, full, target);
          else if (!target.isFile()) special(result, full, target);
        } catch (err) {
          if (fileTypeOf(entry.name) || (err as NodeJS.ErrnoException).code === 'ELOOP') {
            result.problems.push({ path: full, message: describeFsError(err) });
          }
        }
      } else {
        special(result, full, entry);
      }
    }
    // Reverse so the stack pops folders in name order: deterministic shards and progress.
    subdirs.sort().reverse();
    stack.push(...subdirs);
    onProgress?.(result.files.length);
  }
  result.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return result;
}

type EntryKind = { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isDirectory(): boolean };

/** What a non-file entry is, in words; null for the kinds the walk handles (files, folders, links). */
export function specialKind(st: EntryKind): string | null {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return null;
}

/** FIFOs, devices and sockets are never read (a FIFO would block, a device never ends): reported and left out. */
function special(result: Discovery, file: string, st: EntryKind): void {
  const what = specialKind(st);
  if (what) result.problems.push({ path: file, message: `not a regular file (${what}): skipped`, skipped: true });
}

function addFile(result: Discovery, file: string, st: { size: number; mtimeMs: number }): void {
  const type = fileTypeOf(file);
  if (!type) return;
  result.files.push({ path: file, size: st.size, mtimeMs: Math.floor(st.mtimeMs), type, ext: extensionOf(file) });
}

export function describeFsError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such file (or a broken symbolic link)';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'EIO':
      return 'input/output error reading the disk';
    default:
      return messageOf(err);
  }
}
