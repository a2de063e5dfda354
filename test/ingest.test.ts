import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import t from 'tap';
import { findFfmpeg } from '../src/pipeline/video-frame.js';
import { runCli } from './helpers/cli.js';
import { writeMinimalMp4, writePhoto } from './helpers/corpus.js';
import { BACKENDS, configFor, envFor } from './helpers/postgres.js';
import { tmpDir } from './helpers/tmp.js';

const ffmpeg = findFfmpeg();

/** A small archive with every kind of file Lumina meets, and things it must skip. */
async function buildArchive(root: string): Promise<string[]> {
  const files = [
    await writePhoto(path.join(root, '2019/Trip/IMG_0001.JPG'), { seed: 1, make: 'Canon', model: 'EOS 5D Mark IV', dateTimeOriginal: '2019:05:23 12:34:56', offset: '+02:00', width: 1200, height: 800 }),
    await writePhoto(path.join(root, 'phone/IMG_20180304_101112.png'), { seed: 2, format: 'png' }),
    await writePhoto(path.join(root, 'phone/rotated.jpg'), { seed: 3, orientation: 6, width: 600, height: 400 }),
    await writePhoto(path.join(root, 'misc/pic.webp'), { seed: 4, format: 'webp' }),
    await writePhoto(path.join(root, 'misc/scan.tiff'), { seed: 5, format: 'tiff' }),
    await writePhoto(path.join(root, 'misc/anim.gif'), { seed: 6, format: 'gif' }),
    await writePhoto(path.join(root, 'misc/new.avif'), { seed: 7, format: 'avif' }),
    await writePhoto(path.join(root, 'misc/iphone.heic'), { seed: 8, format: 'heif' }),
  ];
  // A DNG (TIFF structure) carrying a JPEG preview that differs from its main image.
  const dng = path.join(root, 'raw/DSC_0001.dng');
  const preview = path.join(root, 'preview.tmp.jpg');
  fs.mkdirSync(path.dirname(dng), { recursive: true });
  await sharp({ create: { width: 900, height: 600, channels: 3, background: '#224488' } }).tiff().toFile(dng);
  await writePhoto(preview, { seed: 9, width: 300, height: 300 });
  const et = new ExifTool({ maxProcs: 1 });
  await et.write(dng, { Make: 'Nikon', Model: 'D850', DateTimeOriginal: '2021:07:01 08:00:00' } as never, ['-overwrite_original', `-PreviewImage<=${preview}`]);
  await et.end();
  fs.rmSync(preview);
  files.push(dng);
  const mp4 = path.join(root, 'video/clip.mp4');
  writeMinimalMp4(mp4, new Date(Date.UTC(2017, 1, 3, 4, 5, 6)), 12.5);
  files.push(mp4);
  if (ffmpeg) {
    const real = path.join(root, 'video/real.mov');
    execFileSync(ffmpeg, ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10:duration=2', '-pix_fmt', 'yuv420p', real]);
    files.push(real);
    const bmp = path.join(root, 'misc/old.bmp');
    execFileSync(ffmpeg, ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120', '-frames:v', '1', bmp]);
    files.push(bmp);
  }
  // Skipped: hidden folders and files, NAS metadata folders, files of other kinds.
  await writePhoto(path.join(root, '.hidden/secret.jpg'), { seed: 20 });
  await writePhoto(path.join(root, '2019/@eaDir/IMG_0001.JPG/SYNOPHOTO_THUMB_XL.jpg'), { seed: 21 });
  await writePhoto(path.join(root, '#recycle/old.jpg'), { seed: 22 });
  await writePhoto(path.join(root, 'phone/._IMG_0001.jpg'), { seed: 23 });
  fs.writeFileSync(path.join(root, 'notes.txt'), 'not a photo');
  return files.sort();
}

for (const backend of BACKENDS) {
  t.test(`lumina ingest end to end on ${backend}`, async (t) => {
    const config = await configFor(t, backend);
    const env = envFor(config);
    const root = tmpDir(t, 'lumina-archive-');
    const files = await buildArchive(root);

    const first = await runCli(['ingest', root, '--catalog', 'Archive', '--json', '--workers', '2'], { env });
    t.equal(first.code, 0, first.stderr);
    const summary = JSON.parse(first.stdout);
    t.same(Object.keys(summary).sort(), ['assets_added', 'assets_missing', 'assets_unchanged', 'assets_updated', 'catalog', 'duration_s', 'errors', 'files_per_s', 'files_seen'].sort());
    t.match(summary.catalog, { id: /^[0-9a-f-]{36}$/, name: 'Archive' });
    t.equal(summary.files_seen, files.length, 'every media file, nothing skipped-by-rule');
    t.equal(summary.assets_added, files.length);
    // With ffmpeg, the frameless clip.mp4 is reported: its metadata is fine but it has no picture.
    t.equal(summary.errors, ffmpeg ? 1 : 0, 'no other errors in a clean archive');
    t.ok(summary.files_per_s > 0);

    const list = await runCli(['assets', 'list', '--catalog', 'Archive', '--json', '--limit', '100'], { env });
    t.equal(list.code, 0, list.stderr);
    const assets = JSON.parse(list.stdout) as Record<string, any>[];
    t.same(assets.map((a) => a.path), files, 'absolute paths, one row each');
    const by = (suffix: string) => assets.find((a) => a.path.endsWith(suffix))!;

    for (const a of assets) {
      t.equal(a.sha256, createHash('sha256').update(fs.readFileSync(a.path)).digest('hex'), `sha256 of ${a.path}`);
      if (!(ffmpeg && a.path.endsWith('clip.mp4'))) t.equal(a.error, null, `${a.path} has no error`);
      t.equal(a.size, fs.statSync(a.path).size);
      for (const key of ['path', 'size', 'sha256', 'file_type', 'width', 'height', 'taken_at', 'date_source', 'date_confidence', 'date_suspicious', 'make', 'model', 'dhash', 'phash', 'quality_score', 'thumbnail', 'error']) {
        t.ok(key in a, `${key} present`);
      }
      if (a.thumbnail) {
        t.ok(fs.existsSync(a.thumbnail), 'thumbnail file exists');
        t.ok(a.thumbnail.startsWith(config.dataDir), 'thumbnail under the data directory');
        t.match(a.dhash, /^[0-9a-f]{16}$/);
        t.match(a.phash, /^[0-9a-f]{16}$/);
      }
    }

    const canon = by('IMG_0001.JPG');
    t.match(canon, { file_type: 'image', width: 1200, height: 800, make: 'Canon', model: 'EOS 5D Mark IV', taken_at: '2019-05-23T12:34:56+02:00', date_source: 'exif', date_confidence: 95, date_suspicious: false });
    t.ok(canon.quality_score > 0 && canon.quality_score <= 100);
    const thumb = await sharp(canon.thumbnail).metadata();
    t.match(thumb, { format: 'jpeg', width: 256 });

    t.match(by('IMG_20180304_101112.png'), { date_source: 'filename', date_confidence: 70, taken_at: '2018-03-04T10:11:12' });
    t.match(by('rotated.jpg'), { width: 400, height: 600, orientation: 6 });
    for (const s of ['pic.webp', 'scan.tiff', 'anim.gif', 'new.avif', 'iphone.heic']) t.ok(by(s).thumbnail, `${s} decoded`);

    const dng = by('DSC_0001.dng');
    t.match(dng, { file_type: 'raw', make: 'Nikon', model: 'D850', date_source: 'exif', taken_at: /^2021-07-01T08:00:00/ });
    t.ok(dng.thumbnail, 'RAW decoded from its embedded preview');
    const dngThumb = await sharp(dng.thumbnail).metadata();
    t.equal(dngThumb.width, dngThumb.height, 'square preview, not the 3:2 main image');

    const clip = by('clip.mp4');
    t.match(clip, { file_type: 'video', duration_s: 12.5, date_source: 'exif', taken_at: '2017-02-03T04:05:06+00:00' });
    t.match(clip.error, ffmpeg ? /ffmpeg could not extract a frame/ : null);
    if (ffmpeg) {
      t.ok(by('real.mov').thumbnail, 'a video frame through ffmpeg');
      t.ok(by('old.bmp').thumbnail, 'BMP through ffmpeg');
    }

    // Re-run with nothing changed: everything is skipped.
    const second = JSON.parse((await runCli(['ingest', root, '--catalog', 'Archive', '--json'], { env })).stdout);
    t.match(second, { files_seen: files.length, assets_added: 0, assets_updated: 0, assets_unchanged: files.length, assets_missing: 0 });

    // Change one, remove one, add one.
    await writePhoto(path.join(root, 'misc/pic.webp'), { seed: 40, format: 'webp' });
    fs.utimesSync(path.join(root, 'misc/pic.webp'), new Date(), new Date(Date.now() + 5000));
    fs.rmSync(path.join(root, 'misc/scan.tiff'));
    await writePhoto(path.join(root, 'misc/added.jpg'), { seed: 41 });
    const third = JSON.parse((await runCli(['ingest', root, '--catalog', 'Archive', '--json'], { env })).stdout);
    t.match(third, { files_seen: files.length, assets_added: 1, assets_updated: 1, assets_unchanged: files.length - 2, assets_missing: 1 });
    const after = JSON.parse((await runCli(['assets', 'list', '--catalog', 'Archive', '--json'], { env })).stdout) as Record<string, any>[];
    t.equal(after.find((a) => a.path.endsWith('scan.tiff'))!.status, 'missing', 'vanished file kept, marked missing');
    t.not(after.find((a) => a.path.endsWith('pic.webp'))!.sha256, by('pic.webp').sha256, 'changed file re-processed');

    // A missing root (an unmounted disk) is an error, and marks nothing missing.
    const gone = await runCli(['ingest', path.join(root, 'nope'), '--catalog', 'Archive', '--json'], { env });
    t.equal(gone.code, 2);
    t.match(gone.stderr, /no such directory/);

    const show = JSON.parse((await runCli(['catalog', 'show', 'Archive', '--json'], { env })).stdout);
    t.same(show.assets, ffmpeg ? { ok: files.length - 1, error: 1, missing: 1 } : { ok: files.length, missing: 1 });
  });
}
