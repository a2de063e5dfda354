import t from 'tap';
import { resolveConfig } from '../src/config/config.js';
import { UserError } from '../src/util/errors.js';

t.test('defaults: embedded database, data under XDG_DATA_HOME', async (t) => {
  const c = resolveConfig({}, { HOME: '/home/ann' });
  t.same(c.database, { kind: 'embedded' });
  t.equal(c.dataDir, '/home/ann/.local/share/lumina');
  t.equal(c.redisUrl, null);
  t.ok(c.workers >= 1);
  t.equal(resolveConfig({}, { HOME: '/h', XDG_DATA_HOME: '/xdg' }).dataDir, '/xdg/lumina');
});

t.test('flags win over environment, environment over defaults', async (t) => {
  const env = { LUMINA_DATA_DIR: '/env/data', DATABASE_URL: 'postgres://env/db', LUMINA_WORKERS: '3' };
  t.equal(resolveConfig({}, env).dataDir, '/env/data');
  t.equal(resolveConfig({}, env).workers, 3);
  const c = resolveConfig({ dataDir: '/flag/data', databaseUrl: 'postgresql://flag/db', workers: '5' }, env);
  t.equal(c.dataDir, '/flag/data');
  t.same(c.database, { kind: 'postgres', url: 'postgresql://flag/db' });
  t.equal(c.workers, 5);
});

t.test('the POSTGRES_* and REDIS_* sets build URLs', async (t) => {
  const c = resolveConfig({}, {
    POSTGRES_HOST: 'db.local', POSTGRES_PORT: '6543', POSTGRES_USER: 'u', POSTGRES_PASSWORD: 'p@ss', POSTGRES_DB: 'photos',
    REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_DB: '2', REDIS_PASSWORD: 'sec',
  });
  t.equal(c.database.kind, 'postgres');
  const db = new URL((c.database as { url: string }).url);
  t.equal(db.hostname, 'db.local');
  t.equal(db.port, '6543');
  t.equal(decodeURIComponent(db.password), 'p@ss');
  t.equal(db.pathname, '/photos');
  const r = new URL(c.redisUrl!);
  t.equal(r.hostname, 'cache');
  t.equal(r.port, '6380');
  t.equal(r.pathname, '/2');
});

t.test('the Redis key prefix: default, environment, flag', async (t) => {
  t.equal(resolveConfig({}, {}).queuePrefix, 'lumina');
  t.equal(resolveConfig({}, { LUMINA_QUEUE_PREFIX: 'site-a' }).queuePrefix, 'site-a');
  t.equal(resolveConfig({ queuePrefix: 'flag.b' }, { LUMINA_QUEUE_PREFIX: 'site-a' }).queuePrefix, 'flag.b');
});

t.test('bad configuration is a one-line user error', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ DATABASE_URL: 'mysql://x/y' }, /DATABASE_URL must start with postgres/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL must start with redis/],
    [{ LUMINA_WORKERS: '0' }, /--workers.*positive whole number/],
    [{ LUMINA_WORKERS: 'two' }, /positive whole number, got "two"/],
    [{ POSTGRES_HOST: 'h', POSTGRES_PORT: 'abc' }, /POSTGRES_PORT must be a port number/],
    [{ LUMINA_DATA_DIR: ' ' }, /data directory may not be empty/],
    [{ LUMINA_QUEUE_PREFIX: 'a:b*' }, /LUMINA_QUEUE_PREFIX may hold only/],
  ];
  for (const [env, re] of bad) {
    t.throws(() => resolveConfig({}, env), UserError);
    t.throws(() => resolveConfig({}, env), re);
    try {
      resolveConfig({}, env);
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
});
