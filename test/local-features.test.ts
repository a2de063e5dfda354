import sharp, { type Sharp } from 'sharp';
import t from 'tap';
import { fitSimilarity, localFeatures, type ImageFeatures } from '../src/dedupe/local-features.js';

/** A synthetic scene: many shapes of many sizes and greys, the same for the same seed. */
function scene(seed: number, width = 1200, height = 800): Sharp {
  let s = seed;
  const r = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n);
  const shapes: string[] = [];
  for (let i = 0; i < 220; i++) {
    const fill = `rgb(${r(256)},${r(256)},${r(256)})`;
    const [x, y, size] = [r(width), r(height), 8 + r(90)];
    shapes.push(i % 3 ? `<rect x="${x}" y="${y}" width="${size}" height="${Math.round(size * (0.4 + r(10) / 10))}" fill="${fill}" transform="rotate(${r(90)} ${x} ${y})"/>` : `<circle cx="${x}" cy="${y}" r="${size / 2}" fill="${fill}"/>`);
  }
  return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="rgb(${r(256)},${r(256)},${r(256)})"/>${shapes.join('')}</svg>`));
}

/** What duplicates verification reads: the 256-px thumbnail, in gray. */
async function thumbnail(img: Sharp): Promise<{ gray: Uint8Array; width: number; height: number }> {
  const png = await img.png().toBuffer();
  const { data, info } = await sharp(png).resize(256, 256, { fit: 'inside' }).grayscale().raw().toBuffer({ resolveWithObject: true });
  return { gray: new Uint8Array(data), width: info.width, height: info.height };
}

t.test('an edited copy is the same picture; another picture, an overlapping neighbour or a plain one is not', async (t) => {
  const local = await localFeatures();
  const features = async (img: Sharp): Promise<ImageFeatures> => {
    const th = await thumbnail(img);
    return local.features(th.gray, th.width, th.height);
  };
  const base = await scene(1).png().toBuffer();
  const original = await features(sharp(base));
  const cases: [string, Sharp][] = [
    ['a 75 % crop off-centre', sharp(base).extract({ left: 30, top: 170, width: 900, height: 600 })],
    ['a 4° rotation with black corners', sharp(base).rotate(4, { background: '#000' })],
    ['a portrait cut', sharp(base).extract({ left: 375, top: 0, width: 450, height: 800 })],
    ['a copy at half size, recompressed', sharp(await sharp(base).resize(600).jpeg({ quality: 40 }).toBuffer())],
  ];
  for (const [what, img] of cases) {
    const v = local.verify(original, await features(img));
    t.equal(v.verdict, 'same', `${what}: ${JSON.stringify(v)}`);
  }
  const rotated = local.verify(original, await features(sharp(base).rotate(-4, { background: '#000' })));
  t.ok(Math.abs(Math.abs(rotated.rotation) - 4) < 1, `the fitted rotation is the edit's (${rotated.rotation}°)`);

  const other = local.verify(original, await features(scene(2)));
  t.equal(other.verdict, 'different', `another scene: ${JSON.stringify(other)}`);
  // Two views of one wide scene that overlap by a fifth: neither lies inside the other.
  const left = await features(sharp(base).extract({ left: 0, top: 0, width: 720, height: 800 }));
  const right = await features(sharp(base).extract({ left: 480, top: 0, width: 720, height: 800 }));
  const halves = local.verify(left, right);
  t.equal(halves.verdict, 'different', `overlapping halves: ${JSON.stringify(halves)}`);
  t.ok(halves.inliers >= 20, 'their shared part matches, so containment is what tells them apart');
  const plain = await features(sharp({ create: { width: 900, height: 600, channels: 3, background: '#7a8a9a' } }));
  t.equal(local.verify(original, plain).verdict, 'unknown', 'a plain picture has no features to say anything with');
  for (const f of [original, left, right, plain]) f.dispose();
});

t.test('the similarity fit recovers a transform through outliers, the same each time', async (t) => {
  const [a, b, tx, ty] = [Math.cos(0.07) * 1.3, Math.sin(0.07) * 1.3, 12, -7];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < 60; i++) {
    const [x, y] = [(i * 37) % 200, (i * 53) % 150];
    from.push(x, y);
    // A third of the matches are wrong.
    to.push(...(i % 3 === 0 ? [(i * 91) % 250, (i * 17) % 180] : [a * x - b * y + tx, b * x + a * y + ty]));
  }
  const fit = fitSimilarity(from, to)!;
  t.equal(fit.inliers, 40, 'every true match, no false one');
  fit.transform.forEach((v, k) => t.ok(Math.abs(v - [a, b, tx, ty][k]!) < 1e-6, `parameter ${k}`));
  t.same(fitSimilarity(from, to), fit, 'deterministic');
  t.equal(fitSimilarity([1, 2], [3, 4]), null, 'one match fixes no transform');
});
