import t from 'tap';
import { runCli } from './helpers/cli.js';
import { configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';
import { VARIANTS, writeVariantCorpus } from './helpers/variants.js';

/**
 * Detection quality with default settings, at the level of pairs: the truth is every pair of
 * files that derive from one original (the original and its 12 edited copies); a prediction is
 * every pair of files that share a group (exact or near). Bursts and format pairs are other kinds.
 */
t.test('near-duplicate precision and recall on a generated variant corpus', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const dir = tmpDir(t);
  const files = await writeVariantCorpus(dir, 8, 40, 7);
  // Two byte-identical copies: exact duplicates, every path listed.
  const fs = await import('node:fs');
  fs.copyFileSync(files[0]!.path, `${dir}/unrelated/copy-of-original.jpg`);
  files.push({ path: `${dir}/unrelated/copy-of-original.jpg`, family: files[0]!.family, variant: 'original' });

  const ingest = await runCli(['ingest', dir, '--catalog', 'variants', '--json'], { env });
  t.equal(ingest.code, 0, ingest.stderr);
  t.equal(JSON.parse(ingest.stdout).errors, 0);

  const run = await runCli(['dupes', '--catalog', 'variants', '--json'], { env });
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as {
    groups: { id: number; kind: string; keeper: string; reason: string; members: { path: string; distance: number | null; similarity: number | null; verified: boolean }[] }[];
    summary: { embeddings_used: number };
  };
  t.ok(out.summary.embeddings_used > 0, `CNN embeddings confirmed candidates (${out.summary.embeddings_used})`);

  const family = new Map(files.map((f) => [f.path, f.family]));
  const key = (a: string, b: string) => (a < b ? `${a}\n${b}` : `${b}\n${a}`);
  const truth = new Set<string>();
  for (const a of files) for (const b of files) if (a.path < b.path && a.family !== null && a.family === b.family) truth.add(key(a.path, b.path));
  const predicted = new Set<string>();
  for (const g of out.groups.filter((g) => g.kind === 'exact' || g.kind === 'near')) {
    t.ok(g.members.some((m) => m.path === g.keeper), 'the keeper is a member');
    t.ok(g.reason.length > 10, 'a reason is given');
    for (const m of g.members) {
      t.ok(m.path.startsWith('/'), 'absolute paths');
      // Within the threshold of the keeper, or proposed by a near-identical embedding a few bits beyond, or
      // aligned with the keeper itself by local features (no chaining).
      if (g.kind === 'near') t.ok(m.distance !== null && (m.distance <= 10 || (m.similarity! >= 0.95 && m.distance <= 16) || m.verified === true), 'every member within reach of the keeper (no chaining)');
    }
    for (const a of g.members) for (const b of g.members) if (a.path < b.path) predicted.add(key(a.path, b.path));
  }
  // A file both in an exact and a near group pairs with the near group's members through its copy.
  const exact = out.groups.find((g) => g.kind === 'exact');
  t.ok(exact, 'the byte-identical copy makes an exact group');
  t.same(exact!.members.map((m) => m.path).sort(), [files[0]!.path, `${dir}/unrelated/copy-of-original.jpg`].sort(), 'every path of the exact copies');
  const near = out.groups.find((g) => g.members.some((m) => m.path === files[0]!.path) && g.kind === 'near');
  if (near) for (const m of near.members) predicted.add(key(m.path, `${dir}/unrelated/copy-of-original.jpg`));

  const hits = [...predicted].filter((p) => truth.has(p)).length;
  const precision = hits / Math.max(1, predicted.size);
  const recall = hits / truth.size;
  const missed = new Map<string, number>();
  for (const p of truth) {
    if (predicted.has(p)) continue;
    for (const f of p.split('\n')) {
      const v = files.find((x) => x.path === f)!.variant;
      missed.set(v, (missed.get(v) ?? 0) + 1);
    }
  }
  t.comment(`pairs: ${truth.size} true, ${predicted.size} predicted, ${hits} right; precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)}`);
  t.comment(`missed pairs by variant: ${JSON.stringify(Object.fromEntries(missed))}`);
  t.ok(precision >= 0.98, `precision ${precision.toFixed(3)} ≥ 0.98`);
  t.ok(recall >= 0.9, `recall ${recall.toFixed(3)} ≥ 0.9`);
  // Every kind of edit is found in most families (none is simply out of reach).
  for (const v of VARIANTS) {
    const found = out.groups.filter((g) => g.kind === 'near' && g.members.some((m) => m.path.endsWith(`/${v}.${m.path.split('.').pop()}`))).length;
    t.ok(found >= 5, `${v}: found in ${found} of 8 families`);
  }
});
