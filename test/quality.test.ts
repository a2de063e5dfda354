import t from 'tap';
import { qualityOf, type QualityInput } from '../src/pipeline/quality.js';

const base: QualityInput = { ext: 'jpg', type: 'image', width: 4000, height: 3000, size: 5_000_000, hasCaptureDate: true, hasCamera: true, hasGps: true, hasLens: true };

t.test('weights: format 40, resolution 35, file size 15, metadata 10', async (t) => {
  const q = qualityOf({ ...base, ext: 'dng', type: 'raw', width: 6000, height: 4000, size: 30_000_000 });
  t.same(q, { score: 100, format: 1, resolution: 1, file_size: 1, metadata: 1 });
  const none = qualityOf({ ...base, width: null, height: null, hasCaptureDate: false, hasCamera: false, hasGps: false, hasLens: false });
  t.equal(none.score, 40 * 0.75, 'only the format counts when nothing else is known');
});

t.test('the better copy of one picture scores higher', async (t) => {
  const original = qualityOf(base);
  const recompressed = qualityOf({ ...base, size: 900_000 });
  const downsized = qualityOf({ ...base, width: 1600, height: 1200, size: 400_000 });
  const stripped = qualityOf({ ...base, hasCaptureDate: false, hasCamera: false, hasGps: false, hasLens: false });
  const png = qualityOf({ ...base, ext: 'png', size: 20_000_000 });
  t.ok(original.score > recompressed.score, 'more bytes per pixel');
  t.ok(original.score > downsized.score, 'more pixels');
  t.ok(original.score > stripped.score, 'metadata kept');
  t.ok(png.score > original.score, 'lossless format');
  for (const q of [original, recompressed, downsized, stripped, png]) t.ok(q.score >= 0 && q.score <= 100);
});
