import http from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import { configFor, envFor } from './helpers/postgres.js';
import { startServe } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// DNS rebinding and cross-site requests against the loopback default, where no token is needed.

/** One request with any headers (fetch will not forge Host). */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* empty */
        }
        resolve({ status: res.statusCode!, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function upgrade(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.on('error', () => resolve(0));
  });
}

t.test('the loopback server answers only to its own names and its own pages', async (t) => {
  const config = await configFor(t, 'pglite');
  const s = await startServe(t, envFor(config), ['--allowed-host', 'photos.lan', '--cors-origin', 'https://photos.example']);
  const root = tmpDir(t);
  const json = { 'content-type': 'application/json' };
  const create = (name: string, headers: Record<string, string>) => raw(s.port, 'POST', '/api/catalogs', { ...json, ...headers }, JSON.stringify({ name, source_directories: [root] }));

  const rebound = await create('Rebound', { host: `attacker.example:${s.port}` });
  t.equal(rebound.status, 403, 'a rebound name is refused');
  t.equal(rebound.json.error.code, 'host_not_allowed');
  t.equal((await raw(s.port, 'GET', '/api/catalogs', { host: `attacker.example:${s.port}` })).status, 403, 'reads too');
  t.equal(await upgrade(s.port, { host: `attacker.example:${s.port}` }), 403, 'and the WebSocket');
  for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`, `photos.lan:${s.port}`]) {
    t.equal((await raw(s.port, 'GET', '/api/catalogs', { host })).status, 200, `Host ${host} is served`);
  }

  const crossSite = await create('CrossSite', { host: `127.0.0.1:${s.port}`, origin: 'https://evil.example' });
  t.equal(crossSite.status, 403, 'a change sent by another site’s page is refused');
  t.equal(crossSite.json.error.code, 'origin_not_allowed');
  t.equal(await upgrade(s.port, { origin: 'https://evil.example' }), 403, 'and so is its WebSocket');
  t.equal(await upgrade(s.port, { origin: 'null' }), 403, 'and a sandboxed page’s');
  t.equal((await create('SameOrigin', { host: `127.0.0.1:${s.port}`, origin: `http://127.0.0.1:${s.port}` })).status, 201, 'the server’s own page may');
  t.equal((await create('Allowed', { host: `127.0.0.1:${s.port}`, origin: 'https://photos.example' })).status, 201, 'and a --cors-origin');
  t.equal(await upgrade(s.port, { origin: 'https://photos.example' }), 101);
  t.equal(await upgrade(s.port, {}), 101, 'a program sends no Origin');

  const listed = await raw(s.port, 'GET', '/api/catalogs', {});
  const id = listed.json.find((c: { name: string }) => c.name === 'SameOrigin').id;
  const bare = await raw(s.port, 'DELETE', `/api/catalogs/${id}`, {});
  t.equal(bare.status, 415, 'a bodiless change without a JSON content type or a token is refused (no preflight would stop it)');
  t.equal(bare.json.error.code, 'unsupported_media_type');
  t.equal((await raw(s.port, 'POST', '/api/jobs/00000000-0000-4000-8000-000000000000/cancel', { 'content-type': 'text/plain' })).status, 415, 'nor a text/plain one');
  t.equal((await raw(s.port, 'DELETE', `/api/catalogs/${id}`, json)).status, 204, 'with one it goes through');
  t.equal((await raw(s.port, 'POST', '/api/jobs/00000000-0000-4000-8000-000000000000/cancel', json)).status, 404);
});
