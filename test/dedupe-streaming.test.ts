import t from 'tap';
import { writeShard, type AssetWrite } from '../src/db/assets.js';
import { insertCatalog } from '../src/db/catalogs.js';
import { openDatabase } from '../src/db/database.js';
import { loadDedupeAssets } from '../src/db/duplicates.js';
import { Components, partition } from '../src/dedupe/components.js';
import { detect, pairsOf, searchInput } from '../src/dedupe/detect.js';
import { PairTable } from '../src/dedupe/pair-table.js';
import type { NearPair } from '../src/dedupe/groups.js';
import { duplicatesParams, finalizeDuplicates, groupableBatches, loadSearchInput } from '../src/jobs/duplicates.js';
import type { Catalog } from '../src/model/catalog.js';
import type { Job } from '../src/model/job.js';
import { BACKENDS, configFor } from './helpers/postgres.js';

// Large catalogs are searched from flat arrays filled straight from the database, and grouped over
// only the assets a group can hold: both must give what the whole catalog in memory gives.

type Row = Partial<AssetWrite> & { path: string };
function row(jobId: string, r: Row, k: number): AssetWrite {
  const hash = BigInt.asIntN(64, BigInt(k) * 0x9e3779b97f4a7c15n);
  return {
    size: 3_000_000 + k, mtime: new Date(0), sha256: Buffer.from(k.toString(16).padStart(64, '0'), 'hex'),
    file_type: 'image', ext: r.path.split('.').pop()!.toLowerCase(), mime: 'image/jpeg', width: 4000, height: 3000, orientation: 1,
    taken_at: null, taken_at_local: null, tz_offset_min: null, date_source: null, date_confidence: null, date_suspicious: false, date_flags: [],
    make: null, model: null, lens: null, gps_lat: null, gps_lon: null, gps_alt: null, duration_s: null, dhash: 0n, phash: hash, phash_sign: hash,
    fingerprint_version: 2, quality_score: 50 + (k % 7), quality: null, sharpness: 100, exif: null, thumbnail_key: null, status: 'ok', error: null,
    error_code: null, metadata_error: null, timings: null, seen_job: jobId, ...r,
  };
}

for (const backend of BACKENDS) {
  t.test(`${backend}: streamed search input and the groupable subset give the whole catalog's groups`, async (t) => {
    const db = await openDatabase(await configFor(t, backend));
    t.teardown(() => db.close());
    const c = await insertCatalog(db.sql, { name: 'stream', sourceDirectories: ['/p'], organizedDirectory: null, settings: {} });
    const [job] = await db.sql<{ id: string }[]>`insert into public.jobs (catalog_id, type, status, params) values (${c.id}, 'scan', 'completed', '{}') returning id`;
    const same = Buffer.alloc(32, 7);
    const t0 = Date.UTC(2020, 5, 1, 12);
    const camera = { make: 'Canon', model: 'EOS', date_confidence: 95 };
    const rows: Row[] = [
      // three copies of one content, the best in the middle of id order, one without pixels
      { path: '/p/copies/a.jpg', sha256: same, quality_score: 40 },
      { path: '/p/copies/b.jpg', sha256: same, quality_score: 90 },
      { path: '/p/copies/c.jpg', sha256: same, quality_score: 60, phash_sign: null },
      // a burst of three frames 1 s apart, and a fourth frame of another hour
      ...[0, 1, 2].map((s) => ({ path: `/p/burst/F${s}.jpg`, taken_at: new Date(t0 + s * 1000), ...camera })),
      { path: '/p/burst/late.jpg', taken_at: new Date(t0 + 3_600_000), ...camera },
      // one shot as RAW and JPEG
      { path: '/p/raw/IMG_1.CR2', ext: 'cr2' },
      { path: '/p/raw/IMG_1.JPG' },
      // and one whose RAW could not be read through (no checksum, no pixels)
      { path: '/p/raw/IMG_2.CR2', ext: 'cr2', sha256: null, phash_sign: null },
      { path: '/p/raw/IMG_2.jpg' },
      // a damaged copy and its intact near twin, and unrelated pictures
      { path: '/p/near/x.jpg', status: 'damaged', quality_score: 99 },
      { path: '/p/near/y.jpg' },
      ...Array.from({ length: 30 }, (_, i) => ({ path: `/p/other/u${i}.jpg` })),
    ];
    await writeShard(db.sql, c.schema_name, job!.id, rows.map((r, k) => row(job!.id, r, k)), []);

    const all = await loadDedupeAssets(db.sql, c.schema_name);
    const id = (p: string) => all.find((a) => a.path === p)!.id;
    const whole = searchInput(all);
    // Batches of 2 put the copies of one content across a batch's edge.
    for (const batch of [2, 3, 10_000]) {
      const streamed = await loadSearchInput(db.sql, c.schema_name, batch);
      t.same([...streamed.ids], [...whole.ids], `batch ${batch}: the same pictures searched, in id order`);
      t.same([...streamed.hashes], [...whole.hashes], `batch ${batch}: the same hashes`);
    }
    t.ok(whole.ids.includes(id('/p/copies/b.jpg')) && !whole.ids.includes(id('/p/copies/a.jpg')), 'a content is searched through its best copy');
    t.equal(whole.ids.length, all.length - 3, 'one picture per content, none without pixels');

    const pairs: NearPair[] = [
      { a: id('/p/copies/b.jpg'), b: id('/p/other/u1.jpg'), distance: 4, orientation: 0, similarity: null },
      { a: id('/p/near/x.jpg'), b: id('/p/near/y.jpg'), distance: 2, orientation: 0, similarity: null },
      { a: id('/p/burst/F0.jpg'), b: id('/p/burst/F1.jpg'), distance: 1, orientation: 0, similarity: null },
      { a: id('/p/raw/IMG_1.CR2'), b: id('/p/other/u7.jpg'), distance: 5, orientation: 0, similarity: null },
    ];
    const params = { threshold: 10, similarity: 0.7, embeddings: 'off' as const };
    const full = detect(all, pairs, new Map(), params).groups;
    const key = (gs: typeof full) => gs.map((g) => JSON.stringify(g)).sort();
    for (const perBatch of [2, 10_000]) {
      const batches = [];
      for await (const b of groupableBatches(db.sql, c.schema_name, PairTable.of(pairs), perBatch, 3)) batches.push(b);
      const loaded = batches.flatMap((b) => b.assets);
      t.ok(loaded.length < all.length, `${perBatch} a batch: the groupable assets (${loaded.length}) are fewer than the catalog's (${all.length})`);
      t.equal(new Set(batches.flatMap((b) => [...b.ids])).size, batches.reduce((n, b) => n + b.ids.length, 0), `${perBatch} a batch: no id in two batches`);
      if (perBatch === 2) t.ok(batches.length > 3, `cut into ${batches.length} batches of whole components`);
      t.same(batches.flatMap((b) => b.pairs).length, pairs.length, `${perBatch} a batch: every pair in the batch of its ends`);
      const batched = batches.flatMap((b) => detect(b.assets, b.pairs, new Map(), params).groups);
      t.same(key(batched), key(full), `${perBatch} a batch: the same groups, keepers, members and reasons`);
    }
    t.same(full.map((g) => g.kind).sort(), ['burst', 'exact', 'format_pair', 'format_pair', 'near', 'near', 'near'], 'every kind of group is in the comparison');
  });
}

t.test('pairs found by several passes are kept once, at their smallest distance, untouched orientation first', async (t) => {
  const ids = new Float64Array([10, 20, 30]);
  const list = { i: new Uint32Array([0, 1, 0, 2, 1]), j: new Uint32Array([1, 0, 1, 1, 2]), distance: new Uint8Array([5, 3, 3, 2, 4]), orientation: new Uint8Array([0, 2, 0, 0, 1]), length: 5 };
  t.same(pairsOf(list, ids).toArray(), [
    { a: 10, b: 20, distance: 3, orientation: 0, similarity: null },
    { a: 20, b: 30, distance: 2, orientation: 0, similarity: null },
  ]);
  const twice = PairTable.of([
    { a: 1, b: 3, distance: 1, orientation: 0 },
    { a: 1, b: 2, distance: 6, orientation: 0 },
    { a: 1, b: 2, distance: 4, orientation: 3 },
    { a: 1, b: 2, distance: 4, orientation: 0 },
  ]).unique();
  t.same(twice.toArray().map((p) => [p.a, p.b, p.distance, p.orientation]), [[1, 2, 4, 0], [1, 3, 1, 0]], 'sorted, the smallest distance, untouched on a tie');
  // A table grows past its first capacity and takes another whole.
  const grown = new PairTable(1);
  for (let k = 0; k < 5; k++) grown.push(k, k + 10, k, 0);
  grown.append(twice);
  t.same([grown.length, [...grown.a.subarray(0, 7)], grown.at(6)], [7, [0, 1, 2, 3, 4, 1, 1], { a: 1, b: 3, distance: 1, orientation: 0, similarity: null }]);
  t.same(grown.endIds().sort((x, y) => x - y), [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
});

for (const backend of BACKENDS) {
  t.test(`${backend}: finalize a batch of components at a time writes what finalize over the whole catalog writes, review state included`, async (t) => {
    const db = await openDatabase(await configFor(t, backend));
    t.teardown(() => db.close());
    const t0 = Date.UTC(2021, 2, 3, 9);
    const camera = { make: 'Nikon', model: 'Z6', date_confidence: 95 };
    const same = Buffer.alloc(32, 9);
    const rows: Row[] = [
      { path: '/p/c/a.jpg', sha256: same, quality_score: 30 },
      { path: '/p/c/b.jpg', sha256: same, quality_score: 80 },
      { path: '/p/c/c.jpg', sha256: same },
      ...[0, 1, 2].map((s) => ({ path: `/p/b/F${s}.jpg`, taken_at: new Date(t0 + s * 1500), ...camera })),
      { path: '/p/r/DSC_1.NEF', ext: 'nef' },
      { path: '/p/r/DSC_1.JPG' },
      { path: '/p/n/x.jpg', status: 'damaged' },
      { path: '/p/n/y.jpg' },
      ...['p', 'q', 'r', 's', 'u1', 'u2'].map((n) => ({ path: `/p/n/${n}.jpg` })),
      ...Array.from({ length: 20 }, (_, i) => ({ path: `/p/o/o${i}.jpg` })),
    ];
    // Two catalogs of the same rows (each schema numbers its assets from 1): one grouped whole, one in batches.
    const catalogs: Catalog[] = [];
    for (const name of ['whole', 'batched']) {
      const c = await insertCatalog(db.sql, { name, sourceDirectories: ['/p'], organizedDirectory: null, settings: {} });
      const [scan] = await db.sql<{ id: string }[]>`insert into public.jobs (catalog_id, type, status, params) values (${c.id}, 'scan', 'completed', '{}') returning id`;
      await writeShard(db.sql, c.schema_name, scan!.id, rows.map((r, k) => row(scan!.id, r, k)), []);
      catalogs.push(c);
    }
    const all = await loadDedupeAssets(db.sql, catalogs[0]!.schema_name);
    const id = (name: string) => all.find((a) => [name, `/p/n/${name}.jpg`, `/p/o/${name}.jpg`].includes(a.path))!.id;
    const pair = (x: string, y: string, distance: number): NearPair => ({ a: Math.min(id(x), id(y)), b: Math.max(id(x), id(y)), distance, orientation: 0, similarity: null });
    const params = duplicatesParams({ embeddings: 'off' }, 'local');
    const run = async (pairs: NearPair[]) => {
      const out = [];
      for (const [k, catalog] of catalogs.entries()) {
        const [job] = await db.sql<Job[]>`
          insert into public.jobs (catalog_id, type, status, params, started_at) values (${catalog.id}, 'duplicates', 'running', ${db.sql.json(params as never)}, now()) returning *`;
        const batching = k === 1 ? { wholeCatalogLimit: 0, componentBatch: 2 } : undefined;
        out.push((await finalizeDuplicates(db.sql, { catalog, job: job!, params, pairs: PairTable.of(pairs), searched: all.length, batching })).summary);
      }
      return out;
    };
    const stored = async (schema: string) =>
      (
        await db.sql<{ g: string }[]>`
          select g.kind || ' ' || g.review_status || ' keeper ' || g.keeper_asset_id || ' v' || g.version || ' [' || string_agg(m.asset_id || ':' || coalesce(m.distance::text, '-'), ',' order by m.asset_id) || '] ' || g.reason as g
          from ${db.sql(schema)}.duplicate_groups g join ${db.sql(schema)}.duplicate_members m on m.group_id = g.id group by g.id order by 1`
      ).map((r) => r.g);

    const first = await run([pair('x', 'y', 2), pair('p', 'q', 3), pair('q', 'r', 4), pair('u1', 'u2', 5), pair('/p/r/DSC_1.JPG', 'o3', 6)]);
    t.same(first[1]!.groups, first[0]!.groups, `the same counts: ${JSON.stringify(first[0]!.groups)}`);
    t.same(first[1]!.confirmed_pairs, first[0]!.confirmed_pairs);
    const once = await stored(catalogs[0]!.schema_name);
    t.ok(once.length >= 5, `${once.length} groups`);
    t.same(await stored(catalogs[1]!.schema_name), once, 'the same groups, keepers, members, distances and reasons');

    // A decision on the exact group and on the near group of q (r its keeper); then a run where s
    // takes p and q (the reviewed group gains members, so it reopens), u1~u2 is no longer found (its open group goes) and the rest stays.
    for (const c of catalogs) {
      await db.sql`update ${db.sql(c.schema_name)}.duplicate_groups set review_status = 'resolved' where kind = 'exact'
        or id in (select group_id from ${db.sql(c.schema_name)}.duplicate_members where asset_id = ${id('q')})`;
    }
    const second = await run([pair('x', 'y', 2), pair('p', 'q', 3), pair('q', 'r', 4), pair('p', 's', 1), pair('q', 's', 2), pair('/p/r/DSC_1.JPG', 'o3', 6)]);
    t.same(second[1]!.groups, second[0]!.groups);
    const again = await stored(catalogs[0]!.schema_name);
    t.ok(again.some((g) => g.startsWith('exact resolved')), 'the decision on the exact group stays');
    t.ok(again.some((g) => g.startsWith(`near open keeper ${id('r')} v2 `) && g.includes(`,${id('s')}:`)), `the reviewed group reopened with its new members, its version up: ${again.filter((g) => g.startsWith('near')).join(' | ')}`);
    t.notOk(again.some((g) => g.includes(`${id('u1')}:`)), 'the group no longer found is gone');
    t.same(await stored(catalogs[1]!.schema_name), again, 'after review and a second run: still the same');
  });
}

t.test('components: whole components per batch, a large one alone, ids past the arrays left out', async (t) => {
  const c = new Components(20);
  c.link([1, 2]);
  c.link([2, 3]);
  c.link([5, 9, 12, 13, 14, 15]);
  c.link([7]);
  c.link([10, 11]);
  c.link([18, 21, 400]);
  const b = c.batches(4);
  const batches = Array.from({ length: b.count }, (_, k) => [...b.ids(k)]);
  t.same(batches, [[1, 2, 3], [5, 9, 12, 13, 14, 15], [7, 10, 11, 18]], 'in order of their first id, cut before a batch would pass 4');
  t.equal(c.find(1), c.find(3), 'linked through a shared id');
  t.not(c.find(1), c.find(7));
  t.equal(b.batchOf(14), 1);
  t.equal(b.batchOf(4), -1, 'an id no link touched is in no batch');
  t.equal(b.batchOf(400), -1, 'nor one past the arrays');
  t.same(partition(5, b.count, (k) => [2, 0, 1, 0, 2][k]!).map((p) => [...p]), [[1, 3], [2], [0, 4]], 'items split by batch, in order');
});
