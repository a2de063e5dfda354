import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from './http.js';

/**
 * The browser app's built files (dist/web: index.html, hashed assets/, a few top-level files),
 * served to any GET that no API route takes: hashed assets cached for good, everything else
 * revalidated, and any other path (a deep link into the app) answered with index.html.
 */

/** dist/web of this package, seen from dist/src/api/. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/** Paths that belong to the API and are never the app's. */
const RESERVED = /^\/(api|ws|health|metrics)(\/|$)/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'no-cache';

const notFound = (text: string): Reply => ({ status: 404, raw: text, contentType: 'text/plain; charset=utf-8', headers: { 'cache-control': NO_CACHE } });
const refused = (): Reply => ({ status: 400, raw: 'bad path\n', contentType: 'text/plain; charset=utf-8' });

interface Cached {
  mtimeMs: number;
  size: number;
  bytes: Buffer;
}

/**
 * Serves one folder's files from memory: each is read once, and read again only when its size or
 * modification time changes (a rebuild while the server runs).
 */
export class WebFiles {
  readonly #cache = new Map<string, Cached>();
  #root: string | null = null;

  constructor(readonly root: string) {}

  /** Whether this path is the app's to answer (GET and HEAD outside the API's own prefixes). */
  static claims(method: string, url: string): boolean {
    return (method === 'GET' || method === 'HEAD') && !RESERVED.test(url);
  }

  /** Whether the app has been built into the root. */
  async built(): Promise<boolean> {
    return (await this.#read('index.html')) !== null;
  }

  /** The reply for a raw request path (as sent: still percent-encoded). */
  async reply(rawUrl: string): Promise<Reply> {
    const segments = this.#segments(rawUrl);
    if (!segments) return refused();
    if (segments[0] === 'assets') {
      const file = segments.length > 1 ? await this.#read(segments.join('/')) : null;
      return file ? this.#file(segments.at(-1)!, file, IMMUTABLE) : notFound('no such file\n');
    }
    if (segments.length === 1 && segments[0] !== 'index.html') {
      const file = await this.#read(segments[0]!);
      if (file) return this.#file(segments[0]!, file, NO_CACHE);
    }
    const index = await this.#read('index.html');
    if (!index) return notFound('the web UI is not built: run npm run build\n');
    return this.#file('index.html', index, NO_CACHE);
  }

  async #realRoot(): Promise<string> {
    this.#root ??= await fs.realpath(this.root).catch(() => null);
    return this.#root ?? this.root;
  }

  /** The path's segments, decoded; null for anything that could reach outside the root. */
  #segments(rawUrl: string): string[] | null {
    // Encoded slashes, backslashes and NULs name no file of ours and could name someone else's.
    if (/%2f|%5c|%00|\\|\0/i.test(rawUrl)) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawUrl);
    } catch {
      return null;
    }
    if (decoded.includes('\0')) return null;
    const segments = decoded.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '..' || s === '.')) return null;
    return segments;
  }

  #file(name: string, bytes: Buffer, cacheControl: string): Reply {
    return {
      raw: bytes,
      contentType: TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
      headers: { 'cache-control': cacheControl, 'x-content-type-options': 'nosniff' },
    };
  }

  /** A regular, non-hidden file under the root, or null. */
  async #read(relative: string): Promise<Buffer | null> {
    if (relative.split('/').some((s) => s.startsWith('.'))) return null;
    const full = path.join(this.root, relative);
    if (!full.startsWith(path.join(this.root, path.sep))) return null;
    // A link inside the folder that leads out of it is not followed.
    const real = await fs.realpath(full).catch(() => null);
    const st = real && real.startsWith(path.join(await this.#realRoot(), path.sep)) ? await fs.stat(real).catch(() => null) : null;
    if (!st?.isFile()) {
      this.#cache.delete(relative);
      return null;
    }
    const hit = this.#cache.get(relative);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.bytes;
    const bytes = await fs.readFile(real!).catch(() => null);
    if (bytes) this.#cache.set(relative, { mtimeMs: st.mtimeMs, size: st.size, bytes });
    return bytes;
  }
}
