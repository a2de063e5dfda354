import { createHash } from 'node:crypto';
import postgres from 'postgres';
import t from 'tap';
import WebSocket from 'ws';
import { runCli } from './helpers/cli.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, startServe, waitFor } from './helpers/server.js';

function wsOpens(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
}

t.test('bearer tokens: required beyond loopback, read-only honoured, stored hashed', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);

  const refused = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], { env });
  t.equal(refused.code, 2, 'no tokens: a non-loopback bind is refused');
  t.match(refused.stderr, /requires API tokens.*lumina token create/);

  const rw = JSON.parse((await runCli(['token', 'create', '--name', 'ci', '--json'], { env })).stdout);
  const ro = JSON.parse((await runCli(['token', 'create', '--name', 'viewer', '--read-only', '--json'], { env })).stdout);
  t.match(rw, { name: 'ci', read_only: false, token: /^lum_[A-Za-z0-9_-]{43}$/ });
  t.equal(ro.read_only, true);
  const dup = await runCli(['token', 'create', '--name', 'ci'], { env });
  t.equal(dup.code, 2);
  t.match(dup.stderr, /already exists/);

  const db = postgres(config.database.kind === 'postgres' ? config.database.url : '', { onnotice: () => {}, max: 1 });
  t.teardown(() => db.end());
  const rows = await db`select * from public.api_tokens order by name`;
  t.same(rows.map((r) => r.token_hash), [rw.token, ro.token].map((x) => createHash('sha256').update(x).digest('hex')), 'only hashes are stored');
  t.notOk(JSON.stringify(rows).includes(rw.token), 'the secret is nowhere in the table');

  const s = await startServe(t, env, ['--host', '0.0.0.0']);
  t.match(s.output(), /tokens required/);
  const noToken = await api(s.url, 'GET', '/health');
  t.equal(noToken.status, 401);
  t.equal(noToken.headers.get('www-authenticate'), 'Bearer');
  t.equal(noToken.json.error.code, 'unauthorized');
  t.equal((await api(s.url, 'GET', '/api/catalogs', { token: 'lum_wrong' })).json.error.code, 'invalid_token');
  t.equal((await api(s.url, 'GET', '/api/catalogs', { headers: { authorization: 'Basic abc' } })).status, 401);
  t.equal((await api(s.url, 'GET', '/api/catalogs', { token: rw.token })).status, 200);
  t.equal((await api(s.url, 'GET', `/api/catalogs?token=${ro.token}`)).status, 200, 'a token query parameter is not taken for a route parameter');
  t.equal((await api(s.url, 'GET', `/health?token=${ro.token}`)).status, 200, 'the token query parameter works');
  const roWrite = await api(s.url, 'POST', '/api/catalogs', { token: ro.token, body: { name: 'A', source_directories: ['/a'] } });
  t.equal(roWrite.status, 403);
  t.equal(roWrite.json.error.code, 'read_only_token');
  t.equal((await api(s.url, 'POST', '/api/catalogs', { token: rw.token, body: { name: 'A', source_directories: ['/a'] } })).status, 201);
  t.equal((await api(s.url, 'GET', '/api/catalogs', { token: ro.token })).status, 200, 'read-only may read');

  const ws = `ws://127.0.0.1:${s.port}/ws`;
  t.equal(await wsOpens(ws), 401, 'WebSocket without a token is refused');
  t.equal(await wsOpens(ws, { authorization: 'Bearer lum_nope' }), 401);
  t.equal(await wsOpens(ws, { authorization: `Bearer ${ro.token}` }), 101, 'WebSocket with a header token');
  t.equal(await wsOpens(`${ws}?token=${ro.token}`), 101, 'WebSocket with a query token');

  // A token made while the server runs works at once; a revoked one stops working within seconds.
  const fresh = JSON.parse((await runCli(['token', 'create', '--name', 'fresh', '--json'], { env })).stdout);
  t.equal((await api(s.url, 'GET', '/api/catalogs', { token: fresh.token })).status, 200, 'new token accepted without a restart');
  t.equal((await runCli(['token', 'revoke', 'fresh'], { env })).code, 0);
  await waitFor('the revocation to take effect', async () => (await api(s.url, 'GET', '/api/catalogs', { token: fresh.token })).status === 401, 15_000, 250);
  t.pass('revoked token refused');
  const list = JSON.parse((await runCli(['token', 'list', '--json'], { env })).stdout);
  t.same(list.map((x: { name: string; revoked_at: string | null }) => [x.name, !!x.revoked_at]), [['ci', false], ['fresh', true], ['viewer', false]]);
});

t.test('loopback: tokens optional but checked when given; --require-auth; CORS', async (t) => {
  const config = await configFor(t, 'postgres');
  const env = envFor(config);
  const s = await startServe(t, env, ['--cors-origin', 'https://photos.example']);
  t.equal((await api(s.url, 'GET', '/api/catalogs')).status, 200);
  t.equal((await api(s.url, 'GET', '/api/catalogs', { token: 'lum_wrong' })).status, 401, 'a wrong token is an error even where none is needed');

  const pre = await api(s.url, 'OPTIONS', '/api/catalogs', { headers: { origin: 'https://photos.example', 'access-control-request-method': 'POST' } });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get('access-control-allow-origin'), 'https://photos.example');
  t.match(pre.headers.get('access-control-allow-methods'), /POST/);
  t.match(pre.headers.get('access-control-allow-headers'), /authorization/);
  const allowed = await api(s.url, 'GET', '/api/catalogs', { headers: { origin: 'https://photos.example' } });
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://photos.example');
  const other = await api(s.url, 'GET', '/api/catalogs', { headers: { origin: 'https://evil.example' } });
  t.equal(other.headers.get('access-control-allow-origin'), null, 'other origins get no CORS grant');

  const refused = await runCli(['serve', '--port', '0', '--require-auth'], { env });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /with --require-auth requires API tokens/);
  await runCli(['token', 'create', '--name', 'local'], { env });
  const strict = await startServe(t, env, ['--require-auth']);
  t.equal((await api(strict.url, 'GET', '/health')).status, 401, '--require-auth applies on loopback too');
});
