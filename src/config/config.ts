import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/** What the command line may set; anything left undefined falls back to the environment, then defaults. */
export interface ConfigFlags {
  dataDir?: string;
  databaseUrl?: string;
  redisUrl?: string;
  workers?: string | number;
  maxPixels?: string | number;
  shardSize?: string | number;
  queuePrefix?: string;
  model?: string;
  embedBatch?: string | number;
}

export type DatabaseTarget = { kind: 'embedded' } | { kind: 'postgres'; url: string };

export interface LuminaConfig {
  dataDir: string;
  database: DatabaseTarget;
  /** Cluster mode: queues, events and worker heartbeats in Redis; null runs everything in-process. */
  redisUrl: string | null;
  workers: number;
  /** Images with more pixels than this are refused before decoding (decompression bombs). */
  maxPixels: number;
  /** Files per shard: the unit of work both the embedded runner and a queue worker execute. */
  shardSize: number;
  /** Prefix of every Redis key Lumina writes (queues, events, worker heartbeats). */
  queuePrefix: string;
  /** A TensorFlow.js layers model directory for embeddings; null: the MobileNetV2 nsfwjs ships. */
  modelDir: string | null;
  /** Pictures per CNN batch. */
  embedBatch: number;
  /** Force one TensorFlow.js backend (tensorflow-gpu, tensorflow, wasm, cpu); null: the best that starts. */
  embedBackend: 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' | null;
}

type Env = Record<string, string | undefined>;

export const DEFAULT_MAX_PIXELS = 268_402_689; // libvips' own default (16383²): covers 200 MP phone sensors
export const DEFAULT_SHARD_SIZE = 500;

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env): LuminaConfig {
  return {
    dataDir: resolveDataDir(flags.dataDir ?? env.LUMINA_DATA_DIR, env),
    database: resolveDatabase(flags.databaseUrl, env),
    redisUrl: resolveRedis(flags.redisUrl, env),
    workers: positiveInt('--workers / LUMINA_WORKERS', flags.workers ?? env.LUMINA_WORKERS, os.availableParallelism()),
    maxPixels: positiveInt('--max-pixels / LUMINA_MAX_PIXELS', flags.maxPixels ?? env.LUMINA_MAX_PIXELS, DEFAULT_MAX_PIXELS),
    shardSize: positiveInt('--shard-size / LUMINA_SHARD_SIZE', flags.shardSize ?? env.LUMINA_SHARD_SIZE, DEFAULT_SHARD_SIZE),
    queuePrefix: resolvePrefix(flags.queuePrefix ?? env.LUMINA_QUEUE_PREFIX),
    modelDir: resolveModelDir(flags.model ?? env.LUMINA_MODEL_DIR),
    embedBatch: positiveInt('--embed-batch / LUMINA_EMBED_BATCH', flags.embedBatch ?? env.LUMINA_EMBED_BATCH, 16),
    embedBackend: resolveBackend(env.LUMINA_EMBED_BACKEND),
  };
}

function resolveModelDir(dir: string | undefined): string | null {
  if (!dir) return null;
  const full = path.resolve(dir);
  if (!fs.existsSync(path.join(full, 'model.json'))) throw new UserError(`--model / LUMINA_MODEL_DIR: ${full} has no model.json (a TensorFlow.js layers model is expected)`);
  return full;
}

const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
function resolveBackend(name: string | undefined): LuminaConfig['embedBackend'] {
  if (!name) return null;
  if (!(BACKENDS as readonly string[]).includes(name)) throw new UserError(`LUMINA_EMBED_BACKEND must be one of ${BACKENDS.join(', ')}`);
  return name as LuminaConfig['embedBackend'];
}

function resolveDataDir(given: string | undefined, env: Env): string {
  if (given !== undefined && given.trim() === '') throw new UserError('the data directory may not be empty (--data-dir / LUMINA_DATA_DIR)');
  if (given) return path.resolve(given);
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(xdg, 'lumina');
}

function resolveDatabase(flagUrl: string | undefined, env: Env): DatabaseTarget {
  const url = flagUrl ?? env.DATABASE_URL;
  if (url) return { kind: 'postgres', url: checkUrl('DATABASE_URL', url, ['postgres:', 'postgresql:']) };
  if (env.POSTGRES_HOST || env.POSTGRES_DB) {
    const port = env.POSTGRES_PORT ?? '5432';
    if (!/^\d{1,5}$/.test(port)) throw new UserError(`POSTGRES_PORT must be a port number, got "${port}"`);
    const u = new URL('postgres://localhost');
    u.hostname = env.POSTGRES_HOST || 'localhost';
    u.port = port;
    u.username = env.POSTGRES_USER || 'postgres';
    if (env.POSTGRES_PASSWORD) u.password = env.POSTGRES_PASSWORD;
    u.pathname = '/' + encodeURIComponent(env.POSTGRES_DB || 'lumina');
    return { kind: 'postgres', url: u.toString() };
  }
  return { kind: 'embedded' };
}

function resolveRedis(flagUrl: string | undefined, env: Env): string | null {
  const url = flagUrl ?? env.REDIS_URL;
  if (url) return checkUrl('REDIS_URL', url, ['redis:', 'rediss:']);
  if (!env.REDIS_HOST) return null;
  const port = env.REDIS_PORT ?? '6379';
  if (!/^\d{1,5}$/.test(port)) throw new UserError(`REDIS_PORT must be a port number, got "${port}"`);
  const db = env.REDIS_DB ?? '0';
  if (!/^\d+$/.test(db)) throw new UserError(`REDIS_DB must be a database number, got "${db}"`);
  const u = new URL('redis://localhost');
  u.hostname = env.REDIS_HOST;
  u.port = port;
  if (env.REDIS_PASSWORD) u.password = env.REDIS_PASSWORD;
  u.pathname = '/' + db;
  return u.toString();
}

function checkUrl(name: string, value: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new UserError(`${name} is not a valid URL: "${value}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new UserError(`${name} must start with ${protocols.map((p) => p + '//').join(' or ')}, got "${parsed.protocol}//"`);
  }
  return value;
}

function positiveInt(name: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UserError(`${name} must be a positive whole number, got "${value}"`);
  return n;
}

function resolvePrefix(value: string | undefined): string {
  if (value === undefined || value === '') return 'lumina';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new UserError(`--queue-prefix / LUMINA_QUEUE_PREFIX may hold only letters, digits, "_", "." and "-" (1 to 64), got "${value}"`);
  }
  return value;
}
