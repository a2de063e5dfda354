import fs from 'node:fs';
import path from 'node:path';

/** Where paths really lead, for the checks that keep a scan inside its catalog's roots. */

/**
 * Where a path really leads: symlinks resolved as far as the path exists, the rest appended.
 * A source directory may be offline (an unmounted share), so a missing tail is allowed.
 */
export function realLocation(p: string): string {
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

export function isInside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function isInsideAny(dir: string, roots: string[]): boolean {
  return roots.some((r) => isInside(dir, r));
}
