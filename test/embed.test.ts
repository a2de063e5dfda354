import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { resolveConfig } from '../src/config/config.js';
import { chooseBackend } from '../src/embed/backend.js';
import { EmbedPool } from '../src/embed/embed-pool.js';
import { DEFAULT_MODEL, loadModel } from '../src/embed/model.js';
import { cosine, decodeHalf, encodeHalf, fromHalf, l2normalize, toHalf } from '../src/embed/vectors.js';
import { tmpDir } from './helpers/tmp.js';

t.test('half floats and normalization', async (t) => {
  for (const x of [0, 1, -1, 0.5, 0.1234, -0.0001, 65504, 1e-6]) {
    const back = fromHalf(toHalf(x));
    t.ok(Math.abs(back - x) <= Math.max(Math.abs(x) * 1e-3, 6e-8), `${x} → ${back}`);
  }
  const v = l2normalize(Float32Array.from({ length: 1280 }, (_, i) => Math.sin(i)));
  t.ok(Math.abs(cosine(v, v) - 1) < 1e-6, 'unit length');
  const stored = encodeHalf(v);
  t.equal(stored.length, 2560, '2 bytes a dimension');
  t.ok(Math.abs(cosine(decodeHalf(stored), v) - 1) < 1e-3, 'float16 keeps the direction');
});

t.test('the backend is chosen at run time, the native ones first', async (t) => {
  const { backend, tried } = await chooseBackend();
  t.ok(['tensorflow-gpu', 'tensorflow', 'wasm'].includes(backend), `chose ${backend}`);
  // Here tfjs-node(-gpu) are not installed (they download libtensorflow): both are tried and skipped.
  if (backend === 'wasm') t.match(tried.join('\n'), /tensorflow-gpu: .*\n?tensorflow: /s, `tried first: ${tried.join('; ')}`);
  const forced = await chooseBackend('cpu');
  t.equal(forced.backend, 'cpu');
});

t.test('the default model is the MobileNetV2 nsfwjs ships, cut at flatten_1; batches embed on threads', async (t) => {
  const pool = new EmbedPool({ threads: 2 });
  t.teardown(() => pool.close());
  const size = 224 * 224 * 3;
  const a = new Uint8Array(size * 2);
  for (let i = 0; i < size; i++) a[i] = (i * 7) & 0xff;
  a.copyWithin(size, 0, size); // the second picture equals the first
  const r = await pool.embed(a, 2);
  t.equal(r.model, DEFAULT_MODEL);
  t.equal(r.dim, 1280);
  const v0 = r.vectors.subarray(0, 1280);
  const v1 = r.vectors.subarray(1280);
  t.ok(Math.abs(cosine(v0, v0) - 1) < 1e-4, 'L2-normalized');
  t.ok(cosine(v0, v1) > 0.999, 'the same picture, the same embedding');
  const other = new Uint8Array(size).map((_, i) => (i * 13 + (i >> 9)) & 0xff);
  const r2 = await pool.embed(other, 1);
  t.ok(cosine(v0, r2.vectors) < 0.99, 'another picture, another embedding');
});

t.test('--model DIR: a TensorFlow.js layers model of the user', async (t) => {
  const { tf } = await chooseBackend('cpu');
  const dir = tmpDir(t);
  const input = tf.input({ shape: [32, 32, 3] });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, name: 'conv' }).apply(input) as never);
  const out = tf.layers.dense({ units: 4, name: 'head' }).apply(pooled as never);
  const model = tf.model({ inputs: input, outputs: out as never });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const whole = await loadModel(tf, dir);
  t.equal(whole.size, 32);
  t.equal(whole.dim, 4, 'the last layer by default');
  const cut = await loadModel(tf, dir, 'pool');
  t.equal(cut.dim, 8, 'or a named layer');
  t.equal(cut.run(new Uint8Array(32 * 32 * 3), 1).length, 8);
  t.equal(resolveConfig({ modelDir: dir, dataDir: dir }, {}).modelDir, dir);
  t.throws(() => resolveConfig({ modelDir: path.join(dir, 'nope'), dataDir: dir }, {}), /has no model.json/);
  t.throws(() => resolveConfig({ dataDir: dir }, { LUMINA_EMBED_BACKEND: 'tpu' }), /LUMINA_EMBED_BACKEND must be one of/);
});
