import { chooseBackend, type BackendName } from './backend.js';
import { loadModel, type EmbeddingModel } from './model.js';
import { l2normalize } from './vectors.js';

export interface EmbedTask {
  /** count × size × size × 3 RGB bytes. */
  input: Uint8Array;
  count: number;
  modelDir: string | null;
  layer: string | null;
  backend: BackendName | null;
}

export interface EmbedResult {
  /** count × dim, each row L2-normalized. */
  vectors: Float32Array;
  dim: number;
  model: string;
  backend: string;
}

let loaded: Promise<{ model: EmbeddingModel; backend: string }> | null = null;

/** A pool thread: its own TensorFlow.js backend and model, loaded on the first batch. */
export default async function embedBatch(task: EmbedTask): Promise<EmbedResult> {
  loaded ??= (async () => {
    const { tf, backend } = await chooseBackend(task.backend ?? undefined);
    return { model: await loadModel(tf, task.modelDir, task.layer), backend };
  })();
  const { model, backend } = await loaded;
  const raw = model.run(task.input, task.count);
  const vectors = new Float32Array(task.count * model.dim);
  for (let i = 0; i < task.count; i++) vectors.set(l2normalize(raw.subarray(i * model.dim, (i + 1) * model.dim)), i * model.dim);
  return { vectors, dim: model.dim, model: model.id, backend };
}
