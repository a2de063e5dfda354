import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { runCli } from './helpers/cli.js';
import { redisPrefix, REDIS_URL } from './helpers/server.js';

// No container engine runs here: what can be checked offline is checked.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const deploy = (p: string) => path.join(ROOT, 'deploy', p);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const docs = (p: string): any[] => parseAllDocuments(fs.readFileSync(deploy(p), 'utf8'), { merge: true }).map((d) => {
  t.same(d.errors, [], `${p} parses`);
  return d.toJS();
});

/** Every --flag in a command line is one the CLI knows. */
async function checkArgs(args: string[], what: string) {
  const help = (await runCli([args[0]!, '--help'], { env: { ...process.env, NODE_OPTIONS: '' } })).stdout;
  for (const a of args.filter((x) => x.startsWith('--'))) t.ok(help.includes(a), `${what}: lumina ${args[0]} knows ${a}`);
}

t.test('Dockerfiles copy what exists and run real commands', async (t) => {
  for (const f of ['api.Dockerfile', 'worker.Dockerfile', 'worker-gpu.Dockerfile']) {
    const text = fs.readFileSync(deploy(`docker/${f}`), 'utf8');
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) t.ok(fs.existsSync(path.join(ROOT, src)), `${f}: ${src} exists`);
    }
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
    await checkArgs(cmd, f);
    t.match(text, /ENTRYPOINT \["node", "dist\/src\/cli\/main.js"\]/);
    t.ok(fs.existsSync(path.join(ROOT, 'dist/src/cli/main.js')), 'the entry point is what the build makes');
  }
});

t.test('compose: the services, shared volumes and real commands', async (t) => {
  const [compose] = docs('compose.yaml');
  t.same(Object.keys(compose.services).sort(), ['api', 'postgres', 'redis', 'worker', 'worker-gpu']);
  for (const s of ['api', 'worker', 'worker-gpu']) {
    const svc = compose.services[s];
    t.ok(fs.existsSync(path.join(ROOT, svc.build.dockerfile)), `${s}: dockerfile exists`);
    t.ok(svc.volumes.some((v: string) => v.startsWith('data:/data')), `${s}: shares the data volume`);
    t.match(svc.environment.DATABASE_URL, /^postgres:\/\//);
    t.match(svc.environment.REDIS_URL, /^redis:\/\//);
  }
  t.match(compose.services.redis.command.join(' '), /--appendonly yes/, 'Redis persists the queues');
});

t.test('kubernetes: well-formed objects, real flags, and the queue key KEDA watches', async (t) => {
  const all = ['config.yaml', 'api.yaml', 'worker.yaml', 'worker-gpu.yaml'].flatMap((f) => docs(`k8s/${f}`));
  for (const o of all) {
    t.ok(o.apiVersion && o.kind && o.metadata?.name, `${o.kind} ${o.metadata?.name} has apiVersion, kind and name`);
  }
  const kinds = all.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  t.ok(kinds.includes('Deployment/lumina-api') && kinds.includes('Service/lumina-api') && kinds.includes('Deployment/lumina-worker'));
  t.ok(kinds.includes('ScaledObject/lumina-worker') && kinds.includes('HorizontalPodAutoscaler/lumina-worker-hpa'), 'autoscaling on queue depth');
  for (const d of all.filter((o) => o.kind === 'Deployment')) {
    const c = d.spec.template.spec.containers[0];
    t.same(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': d.spec.template.metadata.labels['app.kubernetes.io/name'] }, `${d.metadata.name}: selector matches`);
    await checkArgs(c.args, d.metadata.name);
  }
  const svc = all.find((o) => o.kind === 'Service');
  const api = all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'lumina-api');
  t.equal(svc.spec.ports[0].targetPort, api.spec.template.spec.containers[0].ports[0].name);

  // The list KEDA counts is where BullMQ really keeps waiting shards.
  const prefix = redisPrefix(t);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('ingest', { connection: redis, prefix });
  await queue.add('shard', { probe: true });
  const scaled = all.find((o) => o.kind === 'ScaledObject');
  const listName: string = scaled.spec.triggers[0].metadata.listName;
  t.equal(await redis.llen(listName.replace(/^lumina:/, `${prefix}:`)), 1, `${listName} holds the waiting shard`);
  const config = all.find((o) => o.kind === 'ConfigMap');
  t.equal(listName.split(':')[0], config.data.LUMINA_QUEUE_PREFIX, 'same prefix as the workers use');
  await queue.close();
  redis.disconnect();
});
