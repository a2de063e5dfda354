import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ApiToken } from '../db/tokens.js';
import { messageOf, UserError, type ErrorKind } from '../util/errors.js';
import { privateSocketPath } from '../util/private-socket.js';

/**
 * A running server's administration channel: HTTP on a Unix socket that only the data
 * directory's owner can reach (the socket 0600 in the 0700 data directory), so that `lumina token
 * create|list|revoke` work while `lumina serve` holds an embedded data directory, and take effect
 * at once. Nothing here is reachable over the network, so it needs no token of its own.
 */

/** What the token commands need, whether the database is opened here or a running server is asked. */
export interface TokenAdmin {
  create(name: string, readOnly: boolean): Promise<{ token: string; row: ApiToken }>;
  list(): Promise<ApiToken[]>;
  revoke(name: string): Promise<void>;
}

/** A file in the data directory naming the socket (it may live in the temporary directory when the data directory's path is long). */
const POINTER = 'admin.socket';

const ROUTES = {
  create: { method: 'POST', path: '/tokens' },
  list: { method: 'GET', path: '/tokens' },
  revoke: { method: 'POST', path: '/tokens/revoke' },
} as const;

export class AdminSocket {
  private constructor(
    private readonly server: http.Server,
    private readonly cleanup: () => void,
  ) {}

  /** Serves `tokens` on the data directory's admin socket; `changed` runs after every change. */
  static async open(dataDir: string, tokens: TokenAdmin, changed: () => Promise<void>): Promise<AdminSocket> {
    const place = privateSocketPath(dataDir, '.s.lumina-admin');
    const server = http.createServer((req, res) => void handle(req, res, tokens, changed));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(place.socketPath, () => resolve());
    });
    fs.chmodSync(place.socketPath, 0o600);
    const pointer = path.join(dataDir, POINTER);
    fs.writeFileSync(pointer, place.socketPath, { mode: 0o600 });
    return new AdminSocket(server, () => {
      place.cleanup();
      fs.rmSync(pointer, { force: true });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.cleanup();
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, tokens: TokenAdmin, changed: () => Promise<void>): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    let raw = '';
    for await (const chunk of req) {
      raw += chunk;
      if (raw.length > 64 * 1024) throw new UserError('request too large');
    }
    const body = (raw ? JSON.parse(raw) : {}) as { name?: unknown; read_only?: unknown };
    const is = (r: { method: string; path: string }) => req.method === r.method && req.url === r.path;
    const name = () => {
      if (typeof body.name !== 'string') throw new UserError('name must be a string');
      return body.name;
    };
    if (is(ROUTES.list)) return reply(200, await tokens.list());
    if (is(ROUTES.create)) {
      const made = await tokens.create(name(), body.read_only === true);
      await changed();
      return reply(200, made);
    }
    if (is(ROUTES.revoke)) {
      await tokens.revoke(name());
      await changed();
      return reply(200, {});
    }
    reply(404, { error: { kind: 'not_found', message: `no ${req.method} ${req.url}` } });
  } catch (err) {
    if (err instanceof UserError) reply(400, { error: { kind: err.kind, code: err.code, message: err.message } });
    else reply(500, { error: { kind: 'unavailable', message: messageOf(err) } });
  }
}

/** The token commands of a running server reached through its admin socket; null when none is running. */
export function runningServerTokens(dataDir: string): TokenAdmin | null {
  let socketPath: string;
  try {
    socketPath = fs.readFileSync(path.join(dataDir, POINTER), 'utf8');
  } catch {
    return null;
  }
  const call = (route: { method: string; path: string }, body?: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const req = http.request({ socketPath, method: route.method, path: route.path, headers: { 'content-type': 'application/json' }, timeout: 30_000 }, async (res) => {
        let raw = '';
        for await (const chunk of res) raw += chunk;
        try {
          const parsed = JSON.parse(raw) as { error?: { kind: ErrorKind; code?: string; message: string } };
          if (parsed.error) reject(new UserError(parsed.error.message, parsed.error.kind, parsed.error.code));
          else resolve(parsed);
        } catch (err) {
          reject(err);
        }
      });
      req.on('timeout', () => req.destroy(new Error('the running server did not answer')));
      req.on('error', (err) => reject(new UserError(`cannot reach the running server through ${socketPath}: ${messageOf(err)}`, 'unavailable')));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const revive = (t: ApiToken): ApiToken => ({
    ...t,
    created_at: new Date(t.created_at),
    last_used_at: t.last_used_at ? new Date(t.last_used_at) : null,
    revoked_at: t.revoked_at ? new Date(t.revoked_at) : null,
  });
  return {
    async create(name, readOnly) {
      const made = (await call(ROUTES.create, { name, read_only: readOnly })) as { token: string; row: ApiToken };
      return { token: made.token, row: revive(made.row) };
    },
    async list() {
      return ((await call(ROUTES.list)) as ApiToken[]).map(revive);
    },
    async revoke(name) {
      await call(ROUTES.revoke, { name });
    },
  };
}
