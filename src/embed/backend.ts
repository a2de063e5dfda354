import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type Tf = typeof import('@tensorflow/tfjs');
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Backends in the order they are tried; the native ones are optional installs (the deploy images add them). */
export const BACKEND_ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * Picks the fastest TensorFlow.js backend this process can start: tfjs-node-gpu (CUDA), then
 * tfjs-node (native CPU), then WebAssembly, then plain JavaScript. `only` forces one.
 * Returns the tf module all of them register into, and the name of the one chosen.
 */
export async function chooseBackend(only?: BackendName): Promise<{ tf: Tf; backend: BackendName; tried: string[] }> {
  const tried: string[] = [];
  for (const name of only ? [only] : BACKEND_ORDER) {
    try {
      if (name === 'tensorflow-gpu' || name === 'tensorflow') {
        // The native bindings register a 'tensorflow' backend into @tensorflow/tfjs's core.
        const tf = require(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node') as Tf;
        await tf.setBackend('tensorflow');
        await tf.ready();
        return { tf, backend: name, tried };
      }
      const tf = require('@tensorflow/tfjs') as Tf;
      if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend(name))) throw new Error('setBackend refused');
      await tf.ready();
      return { tf, backend: name, tried };
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start (${tried.join('; ')})`);
}
