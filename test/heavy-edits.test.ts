import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { photoSourceDir, sourcePhotos } from './helpers/photo-corpus.js';
import { runQuality } from './helpers/quality-run.js';

/**
 * Issue 13's goals on real photographs (three Debian packages' photos, fetched by
 * fetch-real-photos.sh into a cache): near duplicates that survive heavy edits, at default
 * settings, while look-alikes stay apart. The same measurement as `npm run bench -- quality`.
 */
const FETCH = fileURLToPath(new URL('../../test/helpers/fetch-real-photos.sh', import.meta.url));

t.test('crops, small rotations, borders, overlays and portrait cuts are found; look-alikes are not joined', async (t) => {
  const dir = photoSourceDir();
  execFileSync('bash', [FETCH, dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 240_000 });
  const sources = sourcePhotos(dir);
  t.ok(sources.length >= 30, `${sources.length} photographs`);
  const run = await runQuality(sources);
  const q = run.figures;
  const recall = (...edits: string[]) => {
    const found = edits.reduce((n, e) => n + (q.perEdit[e]?.found ?? 0), 0);
    const of = edits.reduce((n, e) => n + (q.perEdit[e]?.of ?? 0), 0);
    return of ? found / of : 0;
  };
  const table = Object.entries(q.perEdit).map(([e, r]) => `${e} ${r.found}/${r.of}`).join(', ');
  t.comment(`precision ${q.precision.toFixed(3)} recall ${q.recall.toFixed(3)} F1 ${q.f1.toFixed(3)}; ${table}; dupes ${run.dupes_s.toFixed(1)} s`);
  t.ok(q.precision >= 0.98, `pair precision ${q.precision.toFixed(3)} ≥ 0.98`);
  t.ok(q.f1 >= 0.92, `pair F1 ${q.f1.toFixed(3)} ≥ 0.92`);
  const goals: [string[], number][] = [
    [['resize50', 'jpeg_q40'], 0.98],
    [['crop90'], 0.95],
    [['crop75_centre', 'crop75_offset'], 0.85],
    [['rotate_few'], 0.85],
    [['border_white'], 0.95],
    [['border_black'], 0.95],
    [['caption', 'logo'], 0.9],
    [['portrait_cut'], 0.7],
  ];
  for (const [edits, goal] of goals) t.ok(recall(...edits) >= goal, `${edits.join(' + ')}: recall ${recall(...edits).toFixed(3)} ≥ ${goal}`);
  t.equal(q.lookalikesJoined, 0, 'no look-alike pair (halves of one photograph, a stereo pair) in one group');
  t.equal(q.splitFamilies, 0, 'no photograph spread over several groups');
  const verification = run.summary.geometric_verification as { checked: number; same: number } | null;
  t.ok(verification && verification.same > 0, 'local features confirmed pairs');
  t.ok((run.summary.proposed_by_embeddings as number) > 0, 'the CNN proposed pairs the hash missed');
});
