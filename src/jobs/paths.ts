import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * Where a path really leads: symlinks resolved as far as the path exists, the rest appended.
 * A source directory may be offline (an unmounted share), so a missing tail is allowed.
 */
function realLocation(p: string): string {
  let head = p;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return p;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

function isInside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** An absolute, normalized path with no `..` segment, or a clear refusal. */
export function checkAbsolute(p: string, what: string): string {
  if (!p || typeof p !== 'string') throw new UserError(`${what} must be a non-empty path`);
  if (p.includes('\0')) throw new UserError(`${what} may not contain NUL characters`);
  if (!path.isAbsolute(p)) throw new UserError(`${what} must be an absolute path, got "${p}"`);
  if (p.split(/[\\/]+/).includes('..')) throw new UserError(`${what} may not contain ".." segments, got "${p}"`);
  return path.normalize(p).replace(/(.)\/+$/, '$1');
}

/**
 * The directories of a scan request, each required to lie inside one of the catalog's roots,
 * both compared where they really lead, so neither `..` nor a symlink can step outside.
 */
export function resolveInsideRoots(roots: string[], dirs: string[]): string[] {
  const realRoots = roots.map(realLocation);
  return dirs.map((d) => {
    const dir = checkAbsolute(d, 'a directory');
    const real = realLocation(dir);
    if (!realRoots.some((r) => isInside(real, r))) {
      throw new UserError(`"${d}" is not inside the catalog's source directories (${roots.join(', ')})`, 'forbidden');
    }
    return dir;
  });
}
