import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { WS_TOKEN_REVOKED } from '../src/api/server.js';
import { runCli } from './helpers/cli.js';
import { BACKENDS, configFor, envFor } from './helpers/postgres.js';
import { api, startServe, waitFor } from './helpers/server.js';

// Tokens change while the server runs: with the embedded database (whose data directory the
// server holds) through the server's admin socket, with PostgreSQL directly; either way a token
// made works at once, and a revoked one stops working, open WebSockets included, within 5 s.

function openSocket(url: string, token: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; at: number }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const closed = new Promise<{ code: number; at: number }>((r) => ws.once('close', (code) => r({ code, at: Date.now() })));
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

for (const backend of BACKENDS) {
  t.test(`token create and revoke while serve runs (${backend})`, async (t) => {
    const config = await configFor(t, backend);
    const env = envFor(config);
    const first = JSON.parse((await runCli(['token', 'create', '--name', 'first', '--json'], { env })).stdout) as { token: string };
    const s = await startServe(t, env, ['--require-auth']);

    const made = await runCli(['token', 'create', '--name', 'later', '--json'], { env });
    t.equal(made.code, 0, `created while the server runs: ${made.stderr}`);
    const later = JSON.parse(made.stdout) as { name: string; token: string };
    t.equal((await api(s.url, 'GET', '/api/catalogs', { token: later.token })).status, 200, 'the new token works at once');
    const listed = await runCli(['token', 'list', '--json'], { env });
    t.equal(listed.code, 0, listed.stderr);
    t.same((JSON.parse(listed.stdout) as { name: string }[]).map((r) => r.name), ['first', 'later']);

    const { ws, closed } = await openSocket(`ws://127.0.0.1:${s.port}/ws`, later.token);
    const other = await openSocket(`ws://127.0.0.1:${s.port}/ws`, first.token);
    const revoked = await runCli(['token', 'revoke', 'later'], { env });
    t.equal(revoked.code, 0, revoked.stderr);
    const revokedAt = Date.now();
    await waitFor('the revoked token refused', async () => (await api(s.url, 'GET', '/api/catalogs', { token: later.token })).status === 401, 5000, 100);
    const end = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 5000 - (Date.now() - revokedAt)))]);
    t.ok(end, 'the WebSocket opened with it was closed within 5 s');
    t.equal(end?.code, WS_TOKEN_REVOKED, 'with the token-revoked close code');
    t.equal(other.ws.readyState, WebSocket.OPEN, 'a socket of another token stays open');
    other.ws.close();
    ws.terminate();

    const again = await runCli(['token', 'revoke', 'later'], { env });
    t.equal(again.code, 2, 'revoking twice is a clear error');
    t.match(again.stderr, /no active token named "later"/);
    const dup = await runCli(['token', 'create', '--name', 'first'], { env });
    t.match(dup.stderr, /already exists/, 'errors come back through the socket as they are');

    t.equal((await s.stop()).code, 0);
    if (backend === 'pglite') {
      t.notOk(fs.existsSync(path.join(config.dataDir, 'admin.socket')), 'the admin socket is removed at exit');
      t.equal((await runCli(['token', 'list'], { env })).code, 0, 'with no server, the token commands open the data directory themselves');
    }
  });
}
