import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { knownFiles, listAssets, markMissing, writeShard, type AssetWrite } from '../src/db/assets.js';
import { listCatalogs } from '../src/db/catalogs.js';
import { thumbnailDir } from '../src/model/catalog.js';
import { CatalogService } from '../src/services/catalog-service.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { BACKENDS, configFor } from './helpers/postgres.js';

const JOB_A = '00000000-0000-4000-8000-00000000000a';
const JOB_B = '00000000-0000-4000-8000-00000000000b';

function asset(p: string, over: Partial<AssetWrite> = {}): AssetWrite {
  return {
    path: p, size: 10, mtime: new Date(1_600_000_000_000), sha256: Buffer.alloc(32, 7), file_type: 'image', ext: 'jpg', mime: 'image/jpeg',
    width: 4, height: 3, orientation: 1, taken_at: new Date(0), taken_at_local: '1970-01-01T00:00:00', tz_offset_min: null,
    date_source: 'filesystem', date_confidence: 30, date_suspicious: true, date_flags: ['unix_epoch'], make: null, model: null, lens: null,
    gps_lat: null, gps_lon: null, gps_alt: null, duration_s: null, dhash: -1n, phash: -0x7fffffffffffffffn - 1n, phash_sign: 5n, fingerprint_version: 2,
    quality_score: 50, quality: { score: 50, format: 1, resolution: 0, file_size: 0, metadata: 0 }, sharpness: 1, exif: { Make: 'x\u0000y' },
    thumbnail_key: null, status: 'ok', error: null, error_code: null, metadata_error: null, timings: { read_hash: 1 }, seen_job: JOB_A, ...over,
  };
}

for (const backend of BACKENDS) {
  t.test(`database on ${backend}`, async (t) => {
    const config = await configFor(t, backend);
    const db = await openDatabase(config);
    t.teardown(() => db.close());
    const { sql } = db;
    const catalogs = new CatalogService(sql, config.dataDir, async () => {});

    t.test('migrations are versioned and a second run applies nothing', async (t) => {
      const versions = await sql`select version from public.schema_migrations order by version`;
      t.ok(versions.length >= 1);
      t.same((await migrate(sql)).applied, []);
    });

    t.test('concurrent migrators do not race', async (t) => {
      if (backend === 'pglite') {
        // One process owns a PGlite directory; a second opener is refused with a clear message.
        await t.rejects(openDatabase(config), { name: 'UserError', message: /in use by another lumina process/ });
        return;
      }
      const others = await Promise.all([openDatabase(config, { migrate: false }), openDatabase(config, { migrate: false }), openDatabase(config, { migrate: false })]);
      const results = await Promise.all(others.map((o) => migrate(o.sql)));
      t.same(results.map((r) => r.applied), [[], [], []]);
      await Promise.all(others.map((o) => o.close()));
    });

    t.test('a catalog owns a schema, created and dropped with it', async (t) => {
      const c = await catalogs.create({ name: 'Family', sourceDirectories: ['/photos/a', '/photos/a', 'rel'] }, 'resolve');
      t.same(c.source_directories, ['/photos/a', path.resolve('rel')]);
      const schemas = async () => (await sql`select schema_name from information_schema.schemata where schema_name = ${c.schema_name}`).length;
      t.equal(await schemas(), 1);
      const tables = await sql`select table_name from information_schema.tables where table_schema = ${c.schema_name} order by 1`;
      t.same(tables.map((r) => r.table_name), ['asset_tags', 'assets', 'audit_log', 'duplicate_candidates', 'duplicate_groups', 'duplicate_members', 'embeddings', 'organize_actions', 'organize_dirs', 'organize_plans', 'tags']);
      await t.rejects(catalogs.create({ name: 'Family', sourceDirectories: [] }), /already exists/);
      await t.rejects(catalogs.create({ name: '  ', sourceDirectories: [] }), /may not be empty/);
      t.equal((await catalogs.get(c.id)).name, 'Family', 'found by id');

      const thumbs = thumbnailDir(config.dataDir, c.id);
      fs.mkdirSync(thumbs, { recursive: true });
      fs.writeFileSync(path.join(thumbs, 'x.webp'), 'x');
      await catalogs.delete(c.id);
      t.equal(await schemas(), 0);
      t.notOk(fs.existsSync(thumbs), 'thumbnails removed');
      t.same((await listCatalogs(sql)).map((x) => x.name), []);
      await t.rejects(catalogs.get('Family'), /no catalog named/);
    });

    t.test('shard writes are idempotent upserts by path', async (t) => {
      const c = await catalogs.create({ name: 'Idem', sourceDirectories: ['/r'] });
      const rows = [asset('/r/a.jpg'), asset('/r/b.jpg'), asset('/r/sub/c.jpg')];
      await writeShard(sql, c.schema_name, JOB_A, rows, []);
      await writeShard(sql, c.schema_name, JOB_A, rows, []); // delivered twice
      const listed = await listAssets(sql, c.schema_name);
      t.equal(listed.length, 3);
      t.equal(listed[0]!.dhash, -1n, 'int8 hashes round-trip as bigint');
      t.equal(listed[0]!.phash, -0x8000000000000000n);
      t.same(listed[0]!.exif, { Make: 'xy' }, 'NUL characters do not reach jsonb');
      t.same(listed[0]!.date_flags, ['unix_epoch']);

      await writeShard(sql, c.schema_name, JOB_A, [asset('/r/a.jpg', { size: 99 })], []);
      const known = await knownFiles(sql, c.schema_name, ['/r/a.jpg', '/r/zzz.jpg']);
      t.equal(Number(known.get('/r/a.jpg')!.size), 99, 'changed file updated in place');
      t.notOk(known.has('/r/zzz.jpg'));

      // A second scan sees a and c (c unchanged), not b.
      await writeShard(sql, c.schema_name, JOB_B, [asset('/r/a.jpg', { seen_job: JOB_B })], ['/r/sub/c.jpg']);
      t.equal(await markMissing(sql, c.schema_name, JOB_B, ['/r']), 1);
      t.equal(await markMissing(sql, c.schema_name, JOB_B, ['/r']), 0, 'marking missing is idempotent');
      const status = Object.fromEntries((await listAssets(sql, c.schema_name)).map((r) => [r.path, r.status]));
      t.same(status, { '/r/a.jpg': 'ok', '/r/b.jpg': 'missing', '/r/sub/c.jpg': 'ok' });
      t.equal(await markMissing(sql, c.schema_name, 'ffffffff-0000-4000-8000-000000000000', ['/r/su']), 0, 'a root is a folder, not a text prefix');
    });
  });
}
