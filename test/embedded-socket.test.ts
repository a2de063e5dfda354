import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configFor, envFor } from './helpers/postgres.js';
import { startServe } from './helpers/server.js';

// PGlite has no passwords: the embedded database must be reachable by this user only.

t.test('the embedded database listens on a private Unix socket, not on a TCP port', async (t) => {
  const config = await configFor(t, 'pglite');
  const s = await startServe(t, envFor(config));
  const pid = s.proc.pid!;
  const tcp = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${pid},`));
  t.equal(tcp.length, 1, `one TCP port: the API's (${tcp.join(' | ')})`);
  t.match(tcp[0], new RegExp(`127\\.0\\.0\\.1:${s.port}\\b`));

  const socket = path.join(config.dataDir, '.s.PGSQL.5432');
  const st = fs.statSync(socket);
  t.ok(st.isSocket(), 'the socket is in the data directory');
  t.equal(st.mode & 0o777, 0o600, 'owner only');
  t.equal(fs.statSync(config.dataDir).mode & 0o777, 0o700, 'inside a private folder');

  if (process.getuid?.() === 0) {
    // Another local user (nobody) cannot reach it.
    const probe = `require('net').connect(process.argv[1]).on('error', (e) => { console.log(e.code); process.exit(0); }).on('connect', () => { console.log('CONNECTED'); process.exit(0); });`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', probe, socket], { encoding: 'utf8' });
    t.equal(r.stdout.trim(), 'EACCES', 'another user is refused');
  }

  await s.stop();
  t.notOk(fs.existsSync(socket), 'the socket goes with the server');
});
