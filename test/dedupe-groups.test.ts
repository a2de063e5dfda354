import t from 'tap';
import { burstGroups, exactGroups, formatPairGroups, nearGroups, type DedupeAsset } from '../src/dedupe/groups.js';
import { mergeWithStored } from '../src/dedupe/review.js';
import { orientBigint } from '../src/dedupe/orientations.js';

let nextId = 1;
function asset(o: Partial<DedupeAsset> & { path: string }): DedupeAsset {
  return {
    id: nextId++, sha256: null, hash: 0n, quality: 50, width: 4000, height: 3000, size: 3_000_000, sharpness: 100,
    make: null, model: null, takenAt: null, dateConfidence: null, ext: o.path.split('.').pop()!.toLowerCase(), video: false, damaged: false, ...o,
  };
}

t.test('near groups never chain: every member is within reach of its keeper', async (t) => {
  const a = asset({ path: '/p/a.jpg', quality: 90 });
  const b = asset({ path: '/p/b.jpg', quality: 80 });
  const c = asset({ path: '/p/c.jpg', quality: 70 });
  const byId = new Map([a, b, c].map((x) => [x.id, x]));
  // a~b and b~c, but not a~c.
  const groups = nearGroups(byId, [
    { a: a.id, b: b.id, distance: 6, orientation: 0, similarity: null },
    { a: b.id, b: c.id, distance: 6, orientation: 0, similarity: null },
  ], []);
  t.equal(groups.length, 1);
  t.equal(groups[0]!.keeperId, a.id, 'the best copy keeps');
  t.same(groups[0]!.members.map((m) => m.assetId).sort(), [a.id, b.id].sort(), 'c is not pulled in through b');
  t.match(groups[0]!.reason, /highest quality score among 2 copies: 90\.0/);
});

t.test('a still and a video sharing a frame are not near duplicates', async (t) => {
  const still = asset({ path: '/v/frame.jpg' });
  const clip = asset({ path: '/v/clip.mp4', video: true });
  const clip2 = asset({ path: '/v/clip-copy.mov', video: true });
  const byId = new Map([still, clip, clip2].map((x) => [x.id, x]));
  const pair = (a: DedupeAsset, b: DedupeAsset) => ({ a: a.id, b: b.id, distance: 0, orientation: 0, similarity: null });
  const groups = nearGroups(byId, [pair(still, clip), pair(clip, clip2)], []);
  t.equal(groups.length, 1);
  t.same(groups[0]!.members.map((m) => m.assetId).sort(), [clip.id, clip2.id].sort(), 'the two videos, not the still');
});

t.test('exact groups list every path; copies are one representative for near search', async (t) => {
  const x1 = asset({ path: '/a/x.jpg', sha256: 'aa' });
  const x2 = asset({ path: '/b/longer/x.jpg', sha256: 'aa' });
  const y = asset({ path: '/a/y.jpg', sha256: 'bb' });
  const groups = exactGroups([x1, x2, y]);
  t.equal(groups.length, 1);
  t.equal(groups[0]!.keeperId, x1.id, 'shorter path kept when the content is the same');
  t.same(groups[0]!.members.map((m) => m.assetId), [x1.id, x2.id]);
});

t.test('bursts: same camera, ≤ 2 s apart, ≥ 3 frames, sharpest kept; format pairs: RAW + JPEG', async (t) => {
  const at = (s: number) => new Date(Date.UTC(2024, 5, 1, 12, 0, s));
  const cam = { make: 'Canon', model: 'R5', dateConfidence: 95 };
  const frames = [0, 1, 2.5, 4].map((s, i) => asset({ path: `/b/IMG_${i}.jpg`, ...cam, takenAt: new Date(at(0).getTime() + s * 1000), sharpness: i === 2 ? 500 : 100, hash: BigInt(i) }));
  const later = asset({ path: '/b/IMG_9.jpg', ...cam, takenAt: at(30) });
  const other = asset({ path: '/b/DSC_1.jpg', make: 'Nikon', model: 'Z6', dateConfidence: 95, takenAt: at(1) });
  const bursts = burstGroups([...frames, later, other]);
  t.equal(bursts.length, 1, 'one burst');
  t.same(bursts[0]!.members.map((m) => m.assetId).sort(), frames.map((f) => f.id).sort(), 'the frames within 2 s of each other, not the later shot or the other camera');
  t.equal(bursts[0]!.keeperId, frames[2]!.id, 'the sharpest frame');
  t.equal(burstGroups(frames.slice(0, 2)).length, 0, 'two frames are not a burst');

  const raw = asset({ path: '/c/DSC_0001.NEF', ext: 'nef' });
  const jpg = asset({ path: '/c/DSC_0001.JPG', ext: 'jpg' });
  const alone = asset({ path: '/c/DSC_0002.JPG', ext: 'jpg' });
  const pairs = formatPairGroups([raw, jpg, alone]);
  t.equal(pairs.length, 1);
  t.equal(pairs[0]!.keeperId, raw.id, 'the RAW is the source');
  const heic = asset({ path: '/d/IMG_1.HEIC', ext: 'heic', takenAt: at(5), dateConfidence: 95 });
  const jpeg = asset({ path: '/d/IMG_1.JPG', ext: 'jpg', takenAt: new Date(at(5).getTime() + 300), dateConfidence: 95 });
  const moved = asset({ path: '/d/IMG_2.HEIC', ext: 'heic', takenAt: at(5), dateConfidence: 95 });
  const moved2 = asset({ path: '/d/IMG_2.JPG', ext: 'jpg', takenAt: at(9), dateConfidence: 95 });
  t.equal(formatPairGroups([heic, jpeg]).length, 1, 'same base name and capture second');
  t.equal(formatPairGroups([moved, moved2]).length, 0, 'same base name, other second: not one shot');

  // Near pairs inside a burst or a format pair are not duplicates.
  const byId = new Map([...frames, raw, jpg].map((x) => [x.id, x]));
  const near = nearGroups(byId, [{ a: frames[0]!.id, b: frames[1]!.id, distance: 2, orientation: 0, similarity: null }, { a: raw.id, b: jpg.id, distance: 0, orientation: 0, similarity: null }], [...bursts, ...pairs]);
  t.equal(near.length, 0);
});

t.test('review decisions persist; only new members reopen a group', async (t) => {
  const g = (ids: number[]) => ({ kind: 'near' as const, keeperId: ids[0]!, reason: 'r', members: ids.map((assetId) => ({ assetId, distance: 1, similarity: null, orientation: 0 })) });
  const stored = [
    { id: 1, kind: 'near' as const, reviewStatus: 'dismissed' as const, members: [10, 11] },
    { id: 2, kind: 'near' as const, reviewStatus: 'resolved' as const, members: [20, 21, 22] },
    { id: 3, kind: 'near' as const, reviewStatus: 'open' as const, members: [30, 31] },
    { id: 4, kind: 'near' as const, reviewStatus: 'open' as const, members: [40, 41] },
    { id: 5, kind: 'near' as const, reviewStatus: 'dismissed' as const, members: [50, 51] },
  ];
  const actions = mergeWithStored(stored, [g([10, 11]), g([20, 21, 22, 23]), g([30, 31, 32]), g([60, 61]), g([21, 22])]);
  t.same(actions.find((a) => 'id' in a && a.id === 1), { type: 'keep', id: 1 }, 'a dismissed pair found again stays dismissed');
  t.match(actions.find((a) => 'id' in a && a.id === 2), { type: 'add_members', added: [23] }, 'a new copy reopens a resolved group');
  t.match(actions.find((a) => 'id' in a && a.id === 3), { type: 'update' }, 'open groups follow detection');
  t.same(actions.find((a) => 'id' in a && a.id === 4), { type: 'delete', id: 4 }, 'an open group no longer found goes');
  t.notOk(actions.find((a) => 'id' in a && a.id === 5), 'a reviewed group no longer found stays as history');
  t.equal(actions.filter((a) => a.type === 'insert').length, 2, 'new groups are inserted');
});

t.test('turned hashes: the 8 orientations form a group of bit operations', async (t) => {
  const h = 0x0123456789abcdefn;
  for (let o = 0; o < 8; o++) {
    t.not(orientBigint(h, o), o === 0 ? -1n : h, `orientation ${o}`);
  }
  t.equal(orientBigint(orientBigint(h, 1), 1), h, 'mirroring twice is the identity');
  t.equal(orientBigint(orientBigint(h, 4), 4), h, 'transposing twice is the identity');
  t.equal(orientBigint(orientBigint(h, 5), 6), h, 'a quarter turn one way undoes the other');
});
