import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EDITS, photoSourceDir, scoreGroups, sourcePhotos, writePhotoCorpus } from '../test/helpers/photo-corpus.js';

/**
 * `npm run bench -- quality [--photos DIR] [--embeddings auto|on|off] [--threshold N] [--keep]`
 *
 * Near-duplicate quality on real photographs: every source photo (test/helpers/fetch-real-photos.sh
 * puts them in ~/.cache/lumina/photos) with its edited copies and unrelated look-alikes is ingested
 * into a fresh embedded catalog and run through `lumina dupes` at default settings (or those
 * given); prints pair precision, recall and F1 and the recall of each edit.
 */
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const log = (s: string) => process.stderr.write(s + '\n');

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

function lumina(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env, maxBuffer: 256 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`lumina ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

export async function benchQuality(argv: string[]): Promise<void> {
  const sources = sourcePhotos(arg(argv, 'photos') ?? photoSourceDir());
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-quality-'));
  try {
    const root = path.join(work, 'photos');
    let t = performance.now();
    const corpus = await writePhotoCorpus(root, sources);
    log(`corpus: ${sources.length} photographs, ${corpus.files.length} files, ${corpus.lookalikes.length} look-alike pairs (${((performance.now() - t) / 1000).toFixed(1)} s to make)`);
    // The embedded default, whatever this shell points at.
    const env: NodeJS.ProcessEnv = { ...process.env, LUMINA_DATA_DIR: path.join(work, 'data') };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    t = performance.now();
    await lumina(['ingest', root, '--catalog', 'Quality', '--json'], env);
    const ingestS = (performance.now() - t) / 1000;
    const dupesArgs = ['dupes', '--catalog', 'Quality', '--json'];
    const embeddings = arg(argv, 'embeddings');
    if (embeddings) dupesArgs.push('--embeddings', embeddings);
    const threshold = arg(argv, 'threshold');
    if (threshold) dupesArgs.push('--threshold', threshold);
    t = performance.now();
    const out = JSON.parse(await lumina(dupesArgs, env)) as { groups: { kind: string; members: { path: string }[] }[]; summary: Record<string, unknown> };
    const dupesS = (performance.now() - t) / 1000;
    // Bursts and format pairs are other kinds of relation: only duplicate groups are scored.
    const groups = out.groups.filter((g) => g.kind === 'exact' || g.kind === 'near');
    const q = scoreGroups(corpus, groups);
    const f3 = (x: number) => x.toFixed(3);
    log('');
    log(`pairs: ${q.truePairs} true, ${q.predictedPairs} predicted, ${q.correctPairs} correct`);
    log(`precision ${f3(q.precision)}  recall ${f3(q.recall)}  F1 ${f3(q.f1)}`);
    log(`look-alike pairs joined: ${q.lookalikesJoined} of ${corpus.lookalikes.length}; families split over several groups: ${q.splitFamilies}`);
    log('');
    log('| edit | recall | found |');
    log('|---|---|---|');
    for (const e of EDITS) if (q.perEdit[e]) log(`| ${e} | ${f3(q.perEdit[e].recall)} | ${q.perEdit[e].found}/${q.perEdit[e].of} |`);
    log('');
    log(`ingest ${ingestS.toFixed(1)} s, dupes ${dupesS.toFixed(1)} s (${JSON.stringify(out.summary).slice(0, 300)})`);
    console.log(JSON.stringify({ ...q, ingest_s: ingestS, dupes_s: dupesS, files: corpus.files.length }));
    if (argv.includes('--keep')) log(`kept: ${work}`);
  } finally {
    if (!argv.includes('--keep')) fs.rmSync(work, { recursive: true, force: true });
  }
}
