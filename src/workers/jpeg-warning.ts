import { type ChildProcess, fork } from 'node:child_process';

export interface WarningRequest {
  id: number;
  bytes: Uint8Array;
  maxPixels: number;
}

export interface WarningReply {
  id: number;
  warning: string | null;
}

/** A decode of a small damaged picture takes milliseconds; one stuck this long is abandoned. */
const REPLY_TIMEOUT_MS = 30_000;

/**
 * Asks a helper process for the decoder's warning on a JPEG that failed the strict decode in a pool
 * thread, where other threads' decodes may have wiped or mixed libvips's error text. Started on the
 * first such file (most runs meet none); one per thread, so the threads never wait on each other.
 */
export class JpegWarningHelper {
  #child: ChildProcess | null = null;
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (w: string | null) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  readonly warningOf = async (source: Buffer, maxPixels: number): Promise<string | null> => {
    const child = this.#start();
    const id = ++this.#nextId;
    if (this.#pending.size === 0) child.channel?.ref();
    try {
      return await new Promise<string | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error('the JPEG check did not answer'));
          this.#stop();
        }, REPLY_TIMEOUT_MS);
        this.#pending.set(id, { resolve, reject, timer });
        child.send({ id, bytes: source, maxPixels } satisfies WarningRequest);
      });
    } catch {
      // No helper to ask: the message that came with the failure is the best word left.
      return null;
    } finally {
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#child?.channel?.unref();
    }
  };

  #start(): ChildProcess {
    if (this.#child) return this.#child;
    const child = fork(new URL('./jpeg-warning-process.js', import.meta.url), [], {
      serialization: 'advanced',
      execArgv: [],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.on('message', (reply: WarningReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      clearTimeout(p.timer);
      p.resolve(reply.warning);
    });
    const fail = () => {
      if (this.#child === child) this.#child = null;
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('the JPEG check exited'));
      }
    };
    child.on('exit', fail);
    child.on('error', fail);
    // An idle helper keeps neither this thread nor the process alive.
    child.unref();
    child.channel?.unref();
    this.#child = child;
    return child;
  }

  #stop(): void {
    this.#child?.kill('SIGKILL');
    this.#child = null;
  }
}
