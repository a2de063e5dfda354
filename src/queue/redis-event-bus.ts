import type { Redis } from 'ioredis';
import type { EventBus, JobEvent } from '../events/job-events.js';
import { messageOf } from '../util/errors.js';
import { keys } from './names.js';
import { connectRedis } from './redis.js';

/**
 * Job events over Redis pub/sub, so any API instance sees any worker's progress. Subscribing
 * takes a connection of its own (a subscribed connection can do nothing else); ioredis
 * resubscribes by itself after Redis restarts.
 */
export class RedisEventBus implements EventBus {
  readonly #channel: string;
  readonly #listeners = new Set<(event: JobEvent) => void>();
  #subscriber: Redis | null = null;

  constructor(
    private readonly publisher: Redis,
    private readonly url: string,
    prefix: string,
  ) {
    this.#channel = keys.events(prefix);
  }

  publish(event: JobEvent): void {
    this.publisher.publish(this.#channel, JSON.stringify(event)).catch(() => {});
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    if (!this.#subscriber) {
      const sub = connectRedis(this.url, 'events');
      sub.subscribe(this.#channel).catch((err) => process.stderr.write(`lumina: cannot subscribe to job events: ${messageOf(err)}\n`));
      sub.on('message', (_channel: string, text: string) => {
        let event: JobEvent;
        try {
          event = JSON.parse(text) as JobEvent;
        } catch {
          return;
        }
        for (const l of this.#listeners) l(event);
      });
      this.#subscriber = sub;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    if (this.#subscriber) {
      this.#subscriber.disconnect();
      this.#subscriber = null;
    }
  }
}
