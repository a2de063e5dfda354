import t from 'tap';
import { duplicateLosers, formUnits, planActions, type PlanAsset, type Sidecar } from '../src/organize/plan.js';
import { parseTemplate } from '../src/organize/template.js';

// The plan's pure rules, case by case: what travels together, what counts as a duplicate, and
// that the order files arrive in changes nothing.

let nextId = 1;
function asset(path: string, o: Partial<PlanAsset> = {}): PlanAsset {
  return {
    id: nextId++, path, size: 100, mtime: new Date(0), sha256: Buffer.alloc(32, nextId), fileType: path.match(/\.(mov|mp4)$/i) ? 'video' : path.match(/\.(nef|cr2|dng)$/i) ? 'raw' : 'image',
    local: '2021-06-01T10:00:00', confidence: 95, make: null, model: null, contentId: null, ...o,
  };
}
const sidecar = (path: string): Sidecar => ({ path, size: 10, mtime: new Date(0), sha256: Buffer.alloc(32, 1) });

t.test('units: a Live Photo found by ContentIdentifier across names; two stills of one name stay apart', async (t) => {
  const still = asset('/a/IMG_5.HEIC', { contentId: 'CID-1' });
  const motion = asset('/a/IMG_5_live.MOV', { contentId: 'CID-1' });
  const png = asset('/a/shot.png');
  const jpg = asset('/a/shot.jpg');
  const units = formUnits([motion, png, still, jpg], new Map([['/a', [sidecar('/a/IMG_5.HEIC.xmp'), sidecar('/a/IMG_5.AAE'), sidecar('/a/other.xmp')]]]));
  const live = units.find((u) => u.primary.id === still.id)!;
  t.same(live.members.map((m) => [m.path, m.role]), [['/a/IMG_5.HEIC', 'primary'], ['/a/IMG_5_live.MOV', 'live'], ['/a/IMG_5.HEIC.xmp', 'sidecar'], ['/a/IMG_5.AAE', 'sidecar']]);
  t.equal(units.filter((u) => u.members.some((m) => m.path.includes('shot'))).length, 2, 'shot.png and shot.jpg are two pictures');
  const { actions } = planActions({
    units, roots: ['/a'], losers: new Set(), existing: () => new Set(),
    options: { dest: '/lib', mode: 'copy', template: '{year}/{name}_{sha8}.{ext}', duplicates: 'quarantine', minConfidence: 50 },
    template: parseTemplate('{year}/{name}_{sha8}.{ext}'),
  });
  const target = (p: string) => actions.find((a) => a.source === p)?.target;
  const stem = target('/a/IMG_5.HEIC')!.replace(/\.heic$/, '');
  t.equal(target('/a/IMG_5_live.MOV'), `${stem}.MOV`, 'the video takes the still’s name');
  t.equal(target('/a/IMG_5.AAE'), `${stem}.AAE`);
  t.equal(target('/a/IMG_5.HEIC.xmp'), `${stem}.HEIC.xmp`);
});

t.test('duplicates: exact non-keepers and resolved removals; open, dismissed, bursts and pairs keep everyone', async (t) => {
  const losers = duplicateLosers([
    { kind: 'exact', keeperId: 1, reviewStatus: 'open', members: [{ assetId: 1, decision: null }, { assetId: 2, decision: null }, { assetId: 3, decision: 'keep' }] },
    { kind: 'near', keeperId: 4, reviewStatus: 'resolved', members: [{ assetId: 4, decision: 'keep' }, { assetId: 5, decision: 'remove' }] },
    { kind: 'near', keeperId: 6, reviewStatus: 'dismissed', members: [{ assetId: 6, decision: null }, { assetId: 7, decision: 'remove' }] },
    { kind: 'near', keeperId: 8, reviewStatus: 'open', members: [{ assetId: 8, decision: null }, { assetId: 9, decision: null }] },
    { kind: 'burst', keeperId: 10, reviewStatus: 'open', members: [{ assetId: 10, decision: null }, { assetId: 11, decision: null }] },
    { kind: 'format_pair', keeperId: 12, reviewStatus: 'resolved', members: [{ assetId: 12, decision: 'keep' }, { assetId: 13, decision: 'remove' }] },
  ]);
  t.same([...losers].sort((a, b) => a - b), [2, 5]);
});

t.test('the same actions whatever order the catalog lists its files in', async (t) => {
  const files = Array.from({ length: 40 }, (_, i) => asset(`/r/${String.fromCharCode(97 + (i % 5))}/IMG_${i % 7}.JPG`, { local: `2021-06-0${1 + (i % 3)}T1${i % 10}:00:00` }));
  const run = (list: PlanAsset[]) =>
    planActions({
      units: formUnits(list, new Map()), roots: ['/r'], losers: new Set(), existing: () => new Set(),
      options: { dest: '/lib', mode: 'copy', template: '{year}/{month}-{day}/{filename}', duplicates: 'quarantine', minConfidence: 50 },
      template: parseTemplate('{year}/{month}-{day}/{filename}'),
    }).actions.map((a) => [a.source, a.target]);
  const forward = run(files);
  t.same(run([...files].reverse()), forward);
  t.same(run([...files].sort(() => 0.5 - Math.random())), forward);
  t.equal(new Set(forward.map(([, target]) => target!.toLowerCase())).size, files.length, 'no two targets share a name');
});
