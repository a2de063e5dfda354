import t from 'tap';
import { runCli } from './helpers/cli.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, startServe } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// Input that used to reach the database or the stack and come back as a 500 (or exit 1).

t.test('hostile requests are 400s that name the field', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const s = await startServe(t, env);
  const root = tmpDir(t);
  const created = await api(s.url, 'POST', '/api/catalogs', { body: { name: 'Bad', source_directories: [root] } });
  t.equal(created.status, 201);
  const id = created.json.id as string;

  const nul = await api(s.url, 'GET', `/api/catalogs/${id}/assets?camera=a%00b`);
  t.equal(nul.status, 400, 'a NUL byte in a filter');
  t.match(nul.json.error, { code: 'validation_failed', message: /query\.camera: may not contain NUL/ });

  for (const from of ['-200000-01-01', '+275760-09-13', '0000-01-01']) {
    const far = await api(s.url, 'GET', `/api/catalogs/${id}/assets?from=${encodeURIComponent(from)}`);
    t.equal(far.status, 400, `a date outside the range: ${from}`);
    t.match(far.json.error.message, /query\.from/);
  }

  let deep: unknown = 1;
  for (let i = 0; i < 4110; i++) deep = { a: deep };
  const nested = await api(s.url, 'PATCH', `/api/catalogs/${id}`, { raw: JSON.stringify({ settings: deep }), headers: { 'content-type': 'application/json' } });
  t.equal(nested.status, 400, 'settings nested 4110 levels deep');
  t.match(nested.json.error, { code: 'validation_failed', message: /body\.settings: nested deeper than 64 levels/ });
  const fine = await api(s.url, 'PATCH', `/api/catalogs/${id}`, { body: { settings: { a: { b: { c: 1 } } } } });
  t.equal(fine.status, 200, 'ordinary nesting is fine');

  const get = await fetch(`${s.url}/api/catalogs/${id}`);
  const getBody = await get.text();
  const head = await fetch(`${s.url}/api/catalogs/${id}`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD answers like GET');
  t.equal(head.headers.get('content-type'), 'application/json');
  t.equal(Number(head.headers.get('content-length')), Buffer.byteLength(getBody), 'with the length GET would send');
  t.equal(await head.text(), '', 'and no body');
  t.equal((await fetch(`${s.url}/api/catalogs/00000000-0000-4000-8000-000000000000`, { method: 'HEAD' })).status, 404, 'a missing one is a 404');
  t.notMatch(s.output(), /internal error/, 'none of it was a 500');
});

t.test('an offset beyond any number is a usage error naming the option', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  t.equal((await runCli(['catalog', 'create', 'Off'], { env })).code, 0);
  const r = await runCli(['assets', 'list', '--catalog', 'Off', '--offset', '99999999999999999999'], { env });
  t.equal(r.code, 2);
  t.match(r.stderr, /--offset must be a whole number up to/);
  t.notMatch(r.stderr, /unexpected error/);
});
