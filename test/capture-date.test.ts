import t from 'tap';
import { captureDate, formatCaptureDate, parseDateValue } from '../src/pipeline/capture-date.js';

const MTIME = Date.UTC(2021, 6, 4, 10, 0, 0);
const NOW = Date.UTC(2026, 0, 1);

t.test('EXIF DateTimeOriginal is the top of the ladder, with its offset', async (t) => {
  const d = captureDate({ DateTimeOriginal: '2019:05:23 12:34:56', OffsetTimeOriginal: '+02:00', ModifyDate: '2020:01:01 00:00:00' }, '/p/IMG_20180101_000000.jpg', MTIME, NOW);
  t.equal(d.source, 'exif');
  t.equal(d.confidence, 95);
  t.equal(d.local, '2019-05-23T12:34:56');
  t.equal(d.offsetMinutes, 120);
  t.equal(d.takenAt.toISOString(), '2019-05-23T10:34:56.000Z');
  t.equal(formatCaptureDate(d.local, d.offsetMinutes), '2019-05-23T12:34:56+02:00');
  t.equal(d.suspicious, false);
});

t.test('exiftool-vendored ExifDateTime objects carry their zone', async (t) => {
  const value = { year: 2020, month: 2, day: 29, hour: 23, minute: 59, second: 58, millisecond: 120, tzoffsetMinutes: -300, rawValue: 'x' };
  const d = captureDate({ CreateDate: value }, '/p/a.jpg', MTIME, NOW);
  t.equal(d.local, '2020-02-29T23:59:58.120');
  t.equal(formatCaptureDate(d.local, d.offsetMinutes), '2020-02-29T23:59:58.120-05:00');
});

t.test('other embedded dates rank 85, below the primary tags', async (t) => {
  const d = captureDate({ ModifyDate: '2018:03:04 05:06:07' }, '/p/a.jpg', MTIME, NOW);
  t.equal(d.source, 'exif_other');
  t.equal(d.confidence, 85);
  t.equal(d.offsetMinutes, null);
  t.equal(formatCaptureDate(d.local, d.offsetMinutes), '2018-03-04T05:06:07', 'no offset when none is known');
});

t.test('invalid EXIF dates fall through', async (t) => {
  const d = captureDate({ DateTimeOriginal: '0000:00:00 00:00:00', CreateDate: '2019:02:30 10:00:00' }, '/p/x.jpg', MTIME, NOW);
  t.equal(d.source, 'filesystem');
});

t.test('a date in the file name (70)', async (t) => {
  const cases: [string, string][] = [
    ['IMG_20190523_123456.jpg', '2019-05-23T12:34:56'],
    ['PXL_20210101_235959123.jpg', '2021-01-01T00:00:00'],
    ['Screenshot_2020-07-15-08-09-10.png', '2020-07-15T08:09:10'],
    ['IMG-20170304-WA0001.jpg', '2017-03-04T00:00:00'],
    ['2016-12-25 18.30.00.jpg', '2016-12-25T18:30:00'],
  ];
  for (const [name, local] of cases) {
    const d = captureDate({}, `/photos/${name}`, MTIME, NOW);
    t.equal(d.source, 'filename', name);
    t.equal(d.confidence, 70);
    t.equal(d.local, local, name);
  }
  t.equal(captureDate({}, '/photos/IMG_20191340_000000.jpg', MTIME, NOW).source, 'filesystem', 'month 13 is not a date');
  t.equal(captureDate({}, '/photos/DSC012345678.jpg', MTIME, NOW).source, 'filesystem');
});

t.test('a date in the folder path (50)', async (t) => {
  t.equal(captureDate({}, '/photos/2015/07/04/DSC_0001.jpg', MTIME, NOW).local, '2015-07-04T00:00:00');
  t.equal(captureDate({}, '/photos/2015-07-04 Picnic/DSC_0001.jpg', MTIME, NOW).local, '2015-07-04T00:00:00');
  t.equal(captureDate({}, '/photos/2014/08/DSC_0001.jpg', MTIME, NOW).local, '2014-08-01T00:00:00');
  t.equal(captureDate({}, '/photos/2014/08/DSC_0001.jpg', MTIME, NOW).confidence, 50);
});

t.test('filesystem time is the last resort (30)', async (t) => {
  const d = captureDate({}, '/photos/misc/DSC_0001.jpg', MTIME, NOW);
  t.equal(d.source, 'filesystem');
  t.equal(d.confidence, 30);
  t.equal(d.takenAt.getTime(), MTIME);
});

t.test('suspicious dates are flagged', async (t) => {
  const flags = (v: string) => captureDate({ DateTimeOriginal: v }, '/a.jpg', MTIME, NOW).flags;
  t.same(flags('2030:01:01 00:00:00'), ['future']);
  t.same(flags('1985:06:01 12:00:00'), ['before_1990']);
  t.same(flags('1970:01:01 00:00:00'), ['before_1990', 'unix_epoch']);
  t.same(flags('1980:01:01 00:00:00'), ['before_1990', 'dos_epoch']);
  t.same(flags('2000:01:01 00:00:00'), ['camera_default']);
  t.same(flags('2000:01:02 00:00:00'), []);
  t.ok(captureDate({ DateTimeOriginal: '2000:01:01 00:00:00' }, '/a.jpg', MTIME, NOW).suspicious);
});

t.test('parseDateValue reads ISO strings with offsets and Z', async (t) => {
  t.same(parseDateValue('2019-05-23T12:34:56Z')?.offset, 0);
  t.same(parseDateValue('2019:05:23 12:34:56-0730')?.offset, -450);
  t.equal(parseDateValue('garbage'), null);
  t.equal(parseDateValue({ year: 2020, month: 1, day: 1 }), null, 'a date without a time is not a capture time');
});
