import { EDITS, photoSourceDir, sourcePhotos } from '../test/helpers/photo-corpus.js';
import { runQuality } from '../test/helpers/quality-run.js';

/**
 * `npm run bench -- quality [--photos DIR] [--embeddings auto|on|off] [--threshold N] [--keep]`
 *
 * Near-duplicate quality on real photographs: every source photo (test/helpers/fetch-real-photos.sh
 * puts them in ~/.cache/lumina/photos) with its edited copies and unrelated look-alikes is ingested
 * into a fresh embedded catalog and run through `lumina dupes` at default settings (or those
 * given); prints pair precision, recall and F1 and the recall of each edit.
 */
const log = (s: string) => process.stderr.write(s + '\n');

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function benchQuality(argv: string[]): Promise<void> {
  const sources = sourcePhotos(arg(argv, 'photos') ?? photoSourceDir());
  const dupesArgs: string[] = [];
  for (const name of ['embeddings', 'threshold', 'similarity']) {
    const v = arg(argv, name);
    if (v) dupesArgs.push(`--${name}`, v);
  }
  const run = await runQuality(sources, { dupesArgs, keep: argv.includes('--keep'), log });
  const q = run.figures;
  const f3 = (x: number) => x.toFixed(3);
  log('');
  log(`pairs: ${q.truePairs} true, ${q.predictedPairs} predicted, ${q.correctPairs} correct`);
  log(`precision ${f3(q.precision)}  recall ${f3(q.recall)}  F1 ${f3(q.f1)}`);
  log(`look-alike pairs joined: ${q.lookalikesJoined} of ${run.corpus.lookalikes.length}; families split over several groups: ${q.splitFamilies}`);
  log('');
  log('| edit | recall | found |');
  log('|---|---|---|');
  for (const e of EDITS) if (q.perEdit[e]) log(`| ${e} | ${f3(q.perEdit[e].recall)} | ${q.perEdit[e].found}/${q.perEdit[e].of} |`);
  log('');
  log(`ingest ${run.ingest_s.toFixed(1)} s, dupes ${run.dupes_s.toFixed(1)} s (${JSON.stringify(run.summary).slice(0, 400)})`);
  console.log(JSON.stringify({ ...q, ingest_s: run.ingest_s, dupes_s: run.dupes_s, files: run.corpus.files.length }));
  if (argv.includes('--keep')) log(`kept: ${run.work}`);
}
