import path from 'node:path';
import { isInsideAny, realLocation } from '../pipeline/real-paths.js';
import { UserError } from '../util/errors.js';

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
    if (!isInsideAny(real, realRoots)) {
      throw new UserError(`"${d}" is not inside the catalog's source directories (${roots.join(', ')})`, 'forbidden');
    }
    return dir;
  });
}
