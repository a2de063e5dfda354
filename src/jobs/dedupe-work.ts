import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { JoinPool } from '../dedupe/join-pool.js';
import { EmbedService } from '../embed/embed-service.js';

/** What a process needs to run duplicates work, each part started on first use (threads, models). */
export interface DedupeWork {
  joins(): JoinPool;
  embedder(): EmbedService;
  close(): Promise<void>;
}

export function openDedupeWork(sql: Sql, config: LuminaConfig): DedupeWork {
  let joins: JoinPool | null = null;
  let embedder: EmbedService | null = null;
  return {
    joins: () => (joins ??= new JoinPool(config.workers)),
    embedder: () => (embedder ??= new EmbedService(sql, config)),
    async close() {
      await Promise.all([joins?.close(), embedder?.close()]);
      joins = null;
      embedder = null;
    },
  };
}
