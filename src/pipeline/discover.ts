import type { Dirent } from 'node:fs';
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

/** What a walk found besides its files: filled in as it goes, complete once it has ended. */
export type WalkReport = Omit<Discovery, 'files'> & {
  /** Files found so far. */
  found: number;
  /** Problems found in all; `problems` keeps the first MAX_PROBLEMS of them. */
  problemCount: number;
};

/** Problems kept in memory: a tree of a million unreadable files reports the first ones and a count. */
export const MAX_PROBLEMS = 1000;

/** Entries stat'ed at once within a folder: enough to keep libuv's threads busy on a slow disk. */
const STAT_BATCH = 64;

export function emptyWalkReport(): WalkReport {
  return { problems: [], problemCount: 0, skipped: 0, unread: [], found: 0 };
}

function problem(report: WalkReport, p: DiscoveryProblem): void {
  report.problemCount++;
  if (report.problems.length < MAX_PROBLEMS) report.problems.push(p);
}

/**
 * Walks the roots and yields every cataloged file with its size and mtime, a folder's files at a
 * time (in name order; folders depth first in name order), so a walk of any size holds one folder
 * in memory, not the tree. Symbolic links are followed, but a directory is entered once only (by
 * device and inode), so link loops end. Nothing here throws for one bad entry: it becomes a
 * problem in `report` and the walk goes on.
 */
export async function* walk(roots: string[], options: DiscoverOptions = {}, report: WalkReport = emptyWalkReport()): AsyncGenerator<DiscoveredFile[]> {
  const realRoots = options.within && !options.followExternal ? options.within.map(realLocation) : null;
  /** A link's target outside the roots: reported and not followed. */
  const leadsOutside = async (link: string): Promise<boolean> => {
    if (!realRoots) return false;
    const target = await fs.realpath(link).catch(() => null);
    if (target === null || isInsideAny(target, realRoots)) return false;
    problem(report, { path: link, message: `not followed: the link leads outside the catalog's source directories (to ${target})`, skipped: true });
    report.skipped++;
    return true;
  };
  const visited = new Set<string>();
  const stack: string[] = [];
  const emit = (files: DiscoveredFile[]) => {
    report.found += files.length;
    return files;
  };

  const loose: DiscoveredFile[] = [];
  for (const root of roots) {
    const abs = path.resolve(root);
    try {
      const st = await fs.stat(abs);
      if (st.isDirectory()) stack.push(abs);
      else if (st.isFile()) addFile(loose, abs, st);
      else problem(report, { path: abs, message: 'not a regular file or directory' });
    } catch (err) {
      problem(report, { path: abs, message: describeFsError(err) });
    }
  }
  if (loose.length) yield emit(loose);
  // Roots are walked in the order given; the stack pops the first root first.
  stack.reverse();

  while (stack.length) {
    const dir = stack.pop()!;
    let dirStat;
    try {
      dirStat = await fs.stat(dir);
    } catch (err) {
      problem(report, { path: dir, message: describeFsError(err) });
      if (!isGone(err)) report.unread.push(dir);
      continue;
    }
    const key = `${dirStat.dev}:${dirStat.ino}`;
    if (visited.has(key)) {
      report.skipped++;
      continue;
    }
    visited.add(key);

    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      problem(report, { path: dir, message: `cannot read folder: ${describeFsError(err)}` });
      report.unread.push(dir);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files: DiscoveredFile[] = [];
    const subdirs: string[] = [];
    const visit = async (entry: Dirent) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        subdirs.push(full);
      } else if (entry.isFile()) {
        if (!fileTypeOf(entry.name)) return;
        try {
          addFile(files, full, await fs.stat(full));
        } catch (err) {
          problem(report, { path: full, message: describeFsError(err) });
          if (!isGone(err)) report.unread.push(full);
        }
      } else if (entry.isSymbolicLink()) {
        try {
          const target = await fs.stat(full);
          if ((target.isDirectory() || (target.isFile() && fileTypeOf(entry.name))) && (await leadsOutside(full))) return;
          if (target.isDirectory()) subdirs.push(full);
          else if (target.isFile() && fileTypeOf(entry.name)) addFile(files, full, target);
          else if (!target.isFile()) special(report, full, target);
        } catch (err) {
          if (fileTypeOf(entry.name) || (err as NodeJS.ErrnoException).code === 'ELOOP') {
            problem(report, { path: full, message: describeFsError(err) });
          }
        }
      } else {
        special(report, full, entry);
      }
    };
    const kept = entries.filter((entry) => {
      if (!isSkippedName(entry.name)) return true;
      if (entry.isDirectory()) report.skipped++;
      return false;
    });
    for (let i = 0; i < kept.length; i += STAT_BATCH) await Promise.all(kept.slice(i, i + STAT_BATCH).map(visit));
    if (files.length) {
      // Stats finish in any order: name order makes shards deterministic, so a walk run again cuts the same ones.
      files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      yield emit(files);
    }
    // Reverse so the stack pops folders in name order: deterministic shards and progress.
    subdirs.sort().reverse();
    stack.push(...subdirs);
  }
}

/** The whole walk at once, its files in path order: for small trees and tests. */
export async function discover(roots: string[], onProgress?: (found: number) => void, options: DiscoverOptions = {}): Promise<Discovery> {
  const report = emptyWalkReport();
  const files: DiscoveredFile[] = [];
  for await (const batch of walk(roots, options, report)) {
    files.push(...batch);
    onProgress?.(report.found);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, problems: report.problems, skipped: report.skipped, unread: report.unread };
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
function special(report: WalkReport, file: string, st: EntryKind): void {
  const what = specialKind(st);
  if (what) problem(report, { path: file, message: `not a regular file (${what}): skipped`, skipped: true });
}

function addFile(files: DiscoveredFile[], file: string, st: { size: number; mtimeMs: number }): void {
  const type = fileTypeOf(file);
  if (!type) return;
  files.push({ path: file, size: st.size, mtimeMs: Math.floor(st.mtimeMs), type, ext: extensionOf(file) });
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
