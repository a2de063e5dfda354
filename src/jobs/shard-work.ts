import type { LuminaConfig } from '../config/config.js';
import type { Sql } from '../db/database.js';
import { exiftoolProcsFor, MetadataReader } from '../pipeline/metadata.js';
import { findExternalDecoders } from '../pipeline/external-decode.js';
import { findFfmpeg } from '../pipeline/video-frame.js';
import { FilePool } from '../workers/pool.js';
import type { ShardWork } from './scan.js';

/** What a process needs to run shards: its thread pool and ExifTool pool, sized by --workers. */
export function openShardWork(sql: Sql, config: Pick<LuminaConfig, 'workers' | 'maxPixels' | 'ffmpeg' | 'heifConvert' | 'djxl'> & Partial<Pick<LuminaConfig, 'exiftoolProcs'>>): { work: ShardWork; close(): Promise<void> } {
  const pool = new FilePool(config.workers);
  const metadata = new MetadataReader(config.exiftoolProcs ?? exiftoolProcsFor(config.workers));
  return {
    work: {
      sql,
      metadata,
      runTask: pool.run.bind(pool),
      ffmpeg: findFfmpeg(config.ffmpeg),
      decoders: findExternalDecoders(config),
      maxPixels: config.maxPixels,
      // A little above the pool size hides ExifTool's latency.
      concurrency: config.workers * 2 + 2,
    },
    close: async () => {
      await Promise.all([pool.close(), metadata.close()]);
    },
  };
}
