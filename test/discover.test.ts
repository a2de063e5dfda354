import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { discover, isSkippedName } from '../src/pipeline/discover.js';
import { fileTypeOf } from '../src/pipeline/file-types.js';
import { tmpDir } from './helpers/tmp.js';

t.test('file types by extension, case-insensitive', async (t) => {
  t.equal(fileTypeOf('/a/IMG_1.JPG'), 'image');
  t.equal(fileTypeOf('/a/x.HeIc'), 'image');
  t.equal(fileTypeOf('/a/DSC.NEF'), 'raw');
  t.equal(fileTypeOf('/a/clip.M2TS'), 'video');
  t.equal(fileTypeOf('/a/notes.txt'), null);
  t.equal(fileTypeOf('/a/jpg'), null, 'a name without extension');
});

t.test('skip rules', async (t) => {
  for (const n of ['.git', '.DS_Store', '@eaDir', '@EADIR', '.@__thumb', '#recycle', '#snapshot', '$RECYCLE.BIN', 'System Volume Information']) t.ok(isSkippedName(n), n);
  for (const n of ['Photos', 'eaDir', 'recycle', '2019']) t.notOk(isSkippedName(n), n);
});

t.test('walks in a stable order, follows links once, records sizes and mtimes', async (t) => {
  const root = tmpDir(t);
  const put = (rel: string, bytes = 3) => {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, Buffer.alloc(bytes));
    return f;
  };
  const b = put('b/2.jpg', 10);
  put('a/1.PNG');
  put('a/z/3.mov');
  put('@eaDir/skip.jpg');
  put('a/.hidden.jpg');
  put('a/readme.md');
  const outside = tmpDir(t);
  fs.writeFileSync(path.join(outside, 'linked.jpg'), 'x');
  fs.symlinkSync(outside, path.join(root, 'link-to-outside'));
  fs.symlinkSync(path.join(root, 'a'), path.join(root, 'b/again-a')); // a folder reached twice
  const found = await discover([root]);
  t.same(found.files.map((f) => path.relative(root, f.path)), ['a/1.PNG', 'a/z/3.mov', 'b/2.jpg', 'link-to-outside/linked.jpg']);
  t.same(found.problems, []);
  const two = found.files.find((f) => f.path === b)!;
  t.equal(two.size, 10);
  t.equal(two.mtimeMs, Math.floor(fs.statSync(b).mtimeMs));
  t.match(found.files[0], { type: 'image', ext: 'png' });
  t.ok(found.skipped >= 2, 'the NAS folder and the second visit were skipped');
});

t.test('a root that is a file, and one that does not exist', async (t) => {
  const root = tmpDir(t);
  const file = path.join(root, 'one.jpg');
  fs.writeFileSync(file, 'x');
  const found = await discover([file, path.join(root, 'missing')]);
  t.same(found.files.map((f) => f.path), [file]);
  t.match(found.problems, [{ path: path.join(root, 'missing'), message: /no such file/ }]);
});
