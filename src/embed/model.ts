import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Tf } from './backend.js';

const require = createRequire(import.meta.url);

/** The default model: the MobileNetV2 that the nsfwjs package ships, cut at its 1 280-wide pooling layer. */
export const DEFAULT_MODEL = 'nsfwjs-mobilenet_v2/flatten_1';
const DEFAULT_LAYER = 'flatten_1';

export interface EmbeddingModel {
  id: string;
  size: number;
  dim: number;
  /** Batch of N×size×size×3 RGB bytes → N×dim floats (not yet normalized). */
  run(input: Uint8Array, count: number): Float32Array;
}

/**
 * Loads the embedding model: the package-shipped MobileNetV2 (nothing is downloaded), or a
 * TensorFlow.js layers model from a directory (model.json and its weight files). A model's output
 * is its `layer` (default: the last), so a classifier can serve as an embedder.
 */
export async function loadModel(tf: Tf, dir?: string | null, layer?: string | null): Promise<EmbeddingModel> {
  let model: import('@tensorflow/tfjs').LayersModel;
  let id: string;
  let outputLayer = layer ?? null;
  let scale = 255;
  if (!dir) {
    const nsfw = require('nsfwjs') as { load(name: string): Promise<{ model: import('@tensorflow/tfjs').LayersModel }> };
    const quiet = console.info;
    console.info = () => {}; // nsfwjs greets on stdout, which belongs to --json output
    try {
      model = (await nsfw.load('MobileNetV2')).model;
    } finally {
      console.info = quiet;
    }
    outputLayer ??= DEFAULT_LAYER;
    id = DEFAULT_MODEL;
  } else {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
      modelTopology: object;
      weightsManifest: { paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }[];
      lumina?: { scale?: number };
    };
    const specs = json.weightsManifest.flatMap((g) => g.weights);
    const data = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: new Uint8Array(data).buffer }));
    scale = json.lumina?.scale ?? 255;
    id = `dir:${path.resolve(dir)}${outputLayer ? '/' + outputLayer : ''}`;
  }
  const embedder = outputLayer ? tf.model({ inputs: model.inputs, outputs: model.getLayer(outputLayer).output }) : model;
  const shape = model.inputs[0]!.shape;
  const size = shape[1] ?? 224;
  const outShape = (embedder.outputs[0]!.shape as (number | null)[]).slice(1);
  const dim = outShape.reduce<number>((a, b) => a * (b ?? 1), 1);
  const divisor = tf.scalar(scale);
  return {
    id,
    size,
    dim,
    run(input, count) {
      return tf.tidy(() => {
        const x = tf.tensor4d(input, [count, size, size, 3], 'int32').toFloat().div(divisor);
        const y = embedder.predict(x) as import('@tensorflow/tfjs').Tensor;
        return y.reshape([count, dim]).dataSync() as Float32Array;
      });
    },
  };
}
