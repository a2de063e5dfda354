import type { TokenService } from '../services/token-service.js';
import { messageOf } from '../util/errors.js';
import { HttpError } from './http.js';
import type { Access } from './router.js';

export interface Principal {
  name: string;
  readOnly: boolean;
  /** The SHA-256 of the token presented; null for anonymous access on loopback. */
  tokenHash: string | null;
}

const ANONYMOUS: Principal = { name: 'anonymous', readOnly: false, tokenHash: null };

/** How often the stored tokens are read again: a token revoked anywhere stops working within this. */
export const TOKEN_REFRESH_MS = 2000;

/** Is this bind address reachable only from this machine? */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Bearer tokens checked against an in-memory copy of the stored hashes (refreshed every
 * TOKEN_REFRESH_MS, and at most once a second on an unknown token, so a token made by
 * `lumina token create` in another process works at once without a query per request).
 * Tokens gone from one refresh to the next are announced, so open WebSockets can be closed.
 */
export class Authenticator {
  #hashes = new Map<string, { name: string; read_only: boolean }>();
  #loadedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #pending: Promise<void> | null = null;
  readonly #revokedListeners: ((hashes: Set<string>) => void)[] = [];

  constructor(
    private readonly tokens: TokenService,
    /** Without it (loopback binds), requests without a token are served; a token given is still checked. */
    readonly required: boolean,
  ) {}

  async start(): Promise<void> {
    await this.#refresh();
    this.#timer = setInterval(() => void this.#refresh().catch(() => {}), TOKEN_REFRESH_MS);
    this.#timer.unref();
  }

  /** Calls `listener` with the hashes of tokens revoked (or deleted) since the last refresh. */
  onRevoked(listener: (hashes: Set<string>) => void): void {
    this.#revokedListeners.push(listener);
  }

  /** Reads the stored tokens now (after this process changed them). */
  refresh(): Promise<void> {
    return this.#refresh();
  }

  get tokenCount(): number {
    return this.#hashes.size;
  }

  async #refresh(): Promise<void> {
    this.#loadedAt = Date.now();
    let next;
    try {
      next = await this.tokens.activeHashes();
    } catch (err) {
      process.stderr.write(`lumina: cannot load API tokens: ${messageOf(err)}\n`);
      return;
    }
    const gone = new Set([...this.#hashes.keys()].filter((h) => !next.has(h)));
    this.#hashes = next;
    if (gone.size) for (const listener of this.#revokedListeners) listener(gone);
  }

  /** Synchronous when the answer is known (the common case); async only to look up a new token. */
  authorize(token: string | undefined, access: Access): Principal | Promise<Principal> {
    if (!token) {
      if (this.required) throw new HttpError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer <token>)');
      return ANONYMOUS;
    }
    const hash = this.tokens.hash(token);
    const known = this.#grant(hash, access);
    if (known) return known;
    return this.#refreshSoon().then(() => {
      const again = this.#grant(hash, access);
      if (!again) throw new HttpError(401, 'invalid_token', 'the token is not valid');
      return again;
    });
  }

  /**
   * One read of the tokens shared by every request with an unknown token, at most once a second:
   * a flood of wrong tokens costs one query a second, and a token made a moment ago still works.
   */
  #refreshSoon(): Promise<void> {
    this.#pending ??= new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - this.#loadedAt))))
      .then(() => this.#refresh())
      .finally(() => (this.#pending = null));
    return this.#pending;
  }

  #grant(hash: string, access: Access): Principal | null {
    const t = this.#hashes.get(hash);
    if (!t) return null;
    if (access === 'write' && t.read_only) throw new HttpError(403, 'read_only_token', `token "${t.name}" is read-only`);
    return { name: t.name, readOnly: t.read_only, tokenHash: hash };
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

/** The token of a request: the Authorization header, else a `token` query parameter (browsers' WebSockets cannot set headers). */
export function tokenOf(authorization: string, query: URLSearchParams | null): string | undefined {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"');
    return m[1];
  }
  return query?.get('token') ?? undefined;
}
