import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import postgres from 'postgres';
import t from 'tap';
import { openDatabase } from '../src/db/database.js';
import { LocalEventBus } from '../src/events/job-events.js';
import type { JobExecutor } from '../src/jobs/executor.js';
import { LeaseKeeper } from '../src/jobs/lease.js';
import type { Catalog } from '../src/model/catalog.js';
import type { Job } from '../src/model/job.js';
import { CatalogService } from '../src/services/catalog-service.js';
import { JobService } from '../src/services/job-service.js';
import { UserError } from '../src/util/errors.js';
import { configFor } from './helpers/postgres.js';
import { waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// The services' rules with the real repositories on PGlite; the executor is a fake, since the
// point here is who may start which job, not running it.

class FakeExecutor implements JobExecutor {
  readonly submitted: string[] = [];
  readonly cancelled: string[] = [];
  constructor(
    readonly mode: 'embedded' | 'cluster',
    readonly owner: string | null,
  ) {}
  async submit(job: Job, _catalog: Catalog): Promise<void> {
    this.submitted.push(job.id);
  }
  async cancel(jobId: string): Promise<void> {
    this.cancelled.push(jobId);
  }
  async close(): Promise<void> {}
}

/** The pid of a process that has exited: an owner that is certainly gone. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

t.test('services on PGlite', async (t) => {
  const config = await configFor(t, 'pglite');
  const db = await openDatabase(config);
  t.teardown(() => db.close());
  const { sql } = db;
  const root = tmpDir(t);

  const open = (executor: FakeExecutor, exclusive = false) => {
    let jobs: JobService | null = null;
    const catalogs = new CatalogService(sql, config.dataDir, (id) => jobs!.cancelAllOf(id));
    jobs = new JobService({ sql, executor, bus: new LocalEventBus(), catalogs, exclusive, leaseMs: 30_000 });
    return { catalogs, jobs };
  };
  const me = new FakeExecutor('embedded', `${os.hostname()}/${process.pid}/self`);
  const { catalogs, jobs } = open(me);
  const setOwner = (jobId: string, owner: string | null, leaseS: number | null) =>
    sql`update public.jobs set owner = ${owner}, lease_until = ${leaseS === null ? null : sql`now() + make_interval(secs => ${leaseS})`} where id = ${jobId}`;
  const row = async (id: string) => (await sql<Job[]>`select * from public.jobs where id = ${id}`)[0]!;

  t.test('catalog identity: no name looks like an id, and an id never matches a name', async (t) => {
    const a = await catalogs.create({ name: 'Alpha', sourceDirectories: [root] });
    await t.rejects(catalogs.create({ name: a.id, sourceDirectories: [root] }), { name: 'UserError', message: /may not look like a catalog id/ });
    await t.rejects(catalogs.create({ name: ' 0E9B1C4A-1111-4222-8333-444455556666 ', sourceDirectories: [root] }), /may not look like a catalog id/, 'in any case, trimmed');
    for (const form of ['{0e9b1c4a-1111-4222-8333-444455556666}', '0e9b1c4a111142228333444455556666', 'urn:uuid:0e9b1c4a-1111-4222-8333-444455556666']) {
      await t.rejects(catalogs.create({ name: form, sourceDirectories: [root] }), /may not look like a catalog id/, `nor in PostgreSQL's other forms: ${form}`);
    }
    await t.rejects(catalogs.ensure('0e9b1c4a-1111-4222-8333-444455556666', [root]), { kind: 'not_found', message: /no catalog with id/ }, 'an ingest into an unknown id is told so');
    await t.rejects(catalogs.update('Alpha', { name: '0e9b1c4a-1111-4222-8333-444455556666' }), /may not look like a catalog id/, 'nor renamed to one');
    t.equal((await catalogs.get(a.id)).name, 'Alpha', 'by id');
    t.equal((await catalogs.get(a.id.toUpperCase())).id, a.id, 'an id in capitals is the same id');
    t.equal((await catalogs.get('Alpha')).id, a.id, 'by name');
    await t.rejects(catalogs.get('0e9b1c4a-1111-4222-8333-444455556666'), { kind: 'not_found', message: /no catalog with id/ });
    await t.rejects(catalogs.get('Beta'), { kind: 'not_found', message: /no catalog named "Beta"/ });
    await t.rejects(catalogs.create({ name: 'Alpha', sourceDirectories: [] }), { kind: 'conflict', message: /already exists/ });
    await t.rejects(catalogs.create({ name: 'Rel', sourceDirectories: ['relative/dir'] }), /must be an absolute path/, 'the API’s rule: absolute directories');
  });

  t.test('one scan per catalog: a second is refused while the first one’s owner lives', async (t) => {
    const c = await catalogs.create({ name: 'Locks', sourceDirectories: [root] });
    const first = await jobs.submitScan(c.id);
    t.equal(first.owner, me.owner, 'the job names its owner');
    t.ok(first.lease_until, 'and holds a lease');
    const refused = await jobs.submitScan(c.id).catch((e: unknown) => e);
    t.ok(refused instanceof UserError && refused.kind === 'conflict', 'conflict (HTTP 409, exit 2)');
    t.match((refused as Error).message, /catalog "Locks" is being scanned by this process: job .* is queued/);
    const dupes = await jobs.submitDuplicates(c.id);
    t.ok(dupes.id, 'a duplicates run is another lock: it may run beside the scan');
    await t.rejects(jobs.submitDuplicates('Locks'), /duplicates of catalog "Locks" are being searched/);

    // Another host's live job: refused, whatever this process thinks of it.
    await setOwner(first.id, 'elsewhere.example/4242/0abc', 60);
    await t.rejects(jobs.submitScan(c.id), /being scanned by another lumina process \(pid 4242 on elsewhere.example\)/);
    t.equal((await row(first.id)).status, 'queued', 'the live job is left alone');

    // Its lease lapses: the owner is gone, its job is closed as interrupted and the new one runs.
    await setOwner(first.id, 'elsewhere.example/4242/0abc', -1);
    const second = await jobs.submitScan(c.id);
    const old = await row(first.id);
    t.equal(old.status, 'failed');
    t.equal(old.error_code, 'interrupted', 'with a code to branch on');
    t.equal(old.error, `interrupted before it finished; resumed by job ${second.id}`);

    // A process of this host that has exited is gone at once, lease or not.
    await setOwner(second.id, `${os.hostname()}/${deadPid()}/dead`, 60);
    const third = await jobs.submitScan(c.id);
    t.equal((await row(second.id)).error_code, 'interrupted', 'a dead pid on this host gives its job up at once');

    // A job the queue owns (cluster mode) is recovered by BullMQ, never taken over here.
    await sql`update public.jobs set owner = null, lease_until = null, params = params || '{"runner":"cluster"}' where id = ${third.id}`;
    await t.rejects(jobs.submitScan(c.id), /another lumina process \(on the queue workers\)/);
    // An ownerless local job comes from a version before leases: nobody renews it.
    await sql`update public.jobs set params = params || '{"runner":"local"}' where id = ${third.id}`;
    await jobs.submitScan(c.id);
    t.equal((await row(third.id)).status, 'failed', 'an orphan of an older version is closed');

    const active = await sql`select count(*)::int as n from public.jobs where catalog_id = ${c.id} and type = 'scan' and status in ('queued', 'running')`;
    t.equal(active[0]!.n, 1, 'never two active scans');
  });

  t.test('a killed owner its parent has not reaped (a zombie) is gone too', async (t) => {
    // `sleep 0.2` runs under a shell that then becomes `sleep 30`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.teardown(() => parent.kill('SIGKILL'));
    const pid = Number((await new Promise<Buffer>((r) => parent.stdout!.once('data', r))).toString().trim());
    await waitFor('the zombie', async () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), 5000, 20);
    const c = await catalogs.create({ name: 'Zombie', sourceDirectories: [root] });
    const first = await jobs.submitScan(c.id);
    await setOwner(first.id, `${os.hostname()}/${pid}/zombie`, 60);
    await jobs.submitScan(c.id);
    t.equal((await row(first.id)).error_code, 'interrupted', 'its job is taken over at once');
  });

  t.test('files of catalogs that no longer exist are swept', async (t) => {
    const kept = await catalogs.create({ name: 'Kept', sourceDirectories: [root] });
    const ghost = '0e9b1c4a-1111-4222-8333-444455556666';
    for (const id of [kept.id, ghost]) {
      fs.mkdirSync(path.join(config.dataDir, 'thumbnails', id, 'ab'), { recursive: true });
      fs.writeFileSync(path.join(config.dataDir, 'thumbnails', id, 'ab', 'x.webp'), 'x');
    }
    fs.mkdirSync(path.join(config.dataDir, 'embed-input', ghost), { recursive: true });
    t.same(await catalogs.sweepOrphanedFiles(), [ghost]);
    t.notOk(fs.existsSync(path.join(config.dataDir, 'thumbnails', ghost)), 'the deleted catalog’s thumbnails are gone');
    t.notOk(fs.existsSync(path.join(config.dataDir, 'embed-input', ghost)), 'and its CNN inputs');
    t.ok(fs.existsSync(path.join(config.dataDir, 'thumbnails', kept.id, 'ab', 'x.webp')), 'a live catalog’s are kept');
  });

  t.test('the database is this process’s alone (embedded): every other owner has exited', async (t) => {
    const mine = new FakeExecutor('embedded', 'here/1/mine');
    const solo = open(mine, true);
    const c = await solo.catalogs.create({ name: 'Solo', sourceDirectories: [root] });
    const first = await solo.jobs.submitScan(c.id);
    await setOwner(first.id, 'elsewhere.example/4242/0abc', 3600);
    await solo.jobs.submitScan(c.id);
    t.equal((await row(first.id)).status, 'failed');
  });

  t.test('a starting server takes over the local jobs whose owner is gone, and only those', async (t) => {
    const c = await catalogs.create({ name: 'Orphans', sourceDirectories: [root] });
    const c2 = await catalogs.create({ name: 'Alive', sourceDirectories: [root] });
    const orphan = await jobs.submitScan(c.id);
    const alive = await jobs.submitScan(c2.id);
    await setOwner(orphan.id, `${os.hostname()}/${deadPid()}/dead`, 60);
    await setOwner(alive.id, 'elsewhere.example/4242/0abc', 60);
    const server = new FakeExecutor('embedded', 'server/2/new');
    const resumed = await open(server).jobs.resumeOrphans();
    t.same(resumed.map((j) => j.id), [orphan.id], 'the orphan is resumed');
    t.same(server.submitted, [orphan.id], 'on the new owner’s executor');
    t.equal((await row(orphan.id)).owner, 'server/2/new', 'which now owns it');
    t.equal((await row(alive.id)).owner, 'elsewhere.example/4242/0abc', 'a live job stays with its owner');
  });

  t.test('deleting a catalog cancels its jobs first, whoever asks', async (t) => {
    const c = await catalogs.create({ name: 'Doomed', sourceDirectories: [root] });
    const scan = await jobs.submitScan(c.id);
    await catalogs.delete('Doomed');
    t.ok(me.cancelled.includes(scan.id), 'the executor was told to stop its work');
    await t.rejects(catalogs.get('Doomed'), { kind: 'not_found', message: /no catalog named/ });
  });

  t.test('the lease keeper: a job taken over or closed elsewhere is reported lost', async (t) => {
    const c = await catalogs.create({ name: 'Leases', sourceDirectories: [root] });
    const job = await jobs.submitScan(c.id);
    const lost: [string, string][] = [];
    const keeper = new LeaseKeeper(sql, { owner: me.owner!, leaseMs: 60_000, onLost: (id, why) => lost.push([id, why]) });
    t.teardown(() => keeper.close());
    keeper.hold(job.id);
    const before = (await row(job.id)).lease_until!.getTime();
    await new Promise((r) => setTimeout(r, 20));
    await keeper.renew();
    t.ok((await row(job.id)).lease_until!.getTime() > before, 'a renewal moves the lease on');
    t.same(lost, []);
    await setOwner(job.id, 'thief/9/x', 60);
    await keeper.renew();
    t.same(lost.map((l) => l[0]), [job.id], 'taken over: lost');
    t.match(lost[0]![1], /taken over by another process/);
  });

  t.test('the lease keeper: a database away for a whole lease means the jobs are lost', async (t) => {
    const dead = postgres({ host: '127.0.0.1', port: 1, connect_timeout: 1, max: 1, onnotice: () => {} });
    const lost: string[] = [];
    const keeper = new LeaseKeeper(dead as never, { owner: 'x/1/y', leaseMs: 300, onLost: (_id, why) => lost.push(why) });
    t.teardown(async () => {
      keeper.close();
      await dead.end({ timeout: 0 });
    });
    keeper.hold('11111111-2222-4333-8444-555555555555');
    await keeper.renew();
    t.same(lost, [], 'one failed renewal is retried, not a loss');
    // The keeper's own timer renews three times a lease: past the lease, it reports the job lost.
    await waitFor('the job to be reported lost', async () => lost.length > 0, 5000, 20);
    t.equal(lost.length, 1, 'past the lease: lost, once');
    t.match(lost[0]!, /could not be renewed/);
  });
});
