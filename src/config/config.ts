import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * Every setting Lumina reads, declared once: its command-line flag, its environment variable, its
 * default and a line of help. `resolveConfig` tries the flag, then the variable, then the default;
 * the CLI's global options and their help are derived from OPTIONS. No other module reads
 * process.env.
 */

type Env = Record<string, string | undefined>;

/** One option: where it comes from, what it defaults to, and how its text becomes a value. */
interface OptionSpec<T> {
  /** The command-line flag with its argument, as commander writes it; absent for environment-only settings. */
  flag?: string;
  env?: string;
  /** The other variables it may come from, as the help names them. */
  alsoFrom?: string;
  help: string;
  /** The default as the help shows it. */
  defaultText?: string;
  /** Turns the given text (flag or variable; undefined when neither is set) into the value; `name` names the source for messages. */
  parse(value: string | undefined, name: string, env: Env): T;
}

const spec = <T>(s: OptionSpec<T>) => s;

export const DEFAULT_MAX_PIXELS = 268_402_689; // libvips' own default (16383²): covers 200 MP phone sensors
export const DEFAULT_SHARD_SIZE = 500;
const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

export const OPTIONS = {
  dataDir: spec({
    flag: '--data-dir <dir>',
    env: 'LUMINA_DATA_DIR',
    help: 'where the embedded database and thumbnails live',
    defaultText: '$XDG_DATA_HOME/lumina',
    parse: (v, _n, env) => resolveDataDir(v, env),
  }),
  databaseUrl: spec({
    flag: '--database-url <url>',
    env: 'DATABASE_URL',
    alsoFrom: 'POSTGRES_*',
    help: 'PostgreSQL to use instead of the embedded one',
    parse: (v, _n, env): DatabaseTarget => resolveDatabase(v, env),
  }),
  redisUrl: spec({
    flag: '--redis-url <url>',
    env: 'REDIS_URL',
    alsoFrom: 'REDIS_*',
    help: 'Redis for cluster mode: queues, events, workers',
    parse: (v, _n, env) => resolveRedis(v, env),
  }),
  workers: spec({
    flag: '--workers <n>',
    env: 'LUMINA_WORKERS',
    help: 'threads for file processing',
    defaultText: 'one per core',
    parse: (v, n) => positiveInt(n, v, os.availableParallelism()),
  }),
  maxPixels: spec({
    flag: '--max-pixels <n>',
    env: 'LUMINA_MAX_PIXELS',
    help: 'refuse to decode images larger than this (decompression bombs)',
    defaultText: String(DEFAULT_MAX_PIXELS),
    parse: (v, n) => positiveInt(n, v, DEFAULT_MAX_PIXELS),
  }),
  shardSize: spec({
    flag: '--shard-size <n>',
    env: 'LUMINA_SHARD_SIZE',
    help: 'files per unit of work',
    defaultText: String(DEFAULT_SHARD_SIZE),
    parse: (v, n) => positiveInt(n, v, DEFAULT_SHARD_SIZE),
  }),
  queuePrefix: spec({
    flag: '--queue-prefix <prefix>',
    env: 'LUMINA_QUEUE_PREFIX',
    help: 'prefix of every Redis key',
    defaultText: 'lumina',
    parse: (v, n) => resolvePrefix(v, n),
  }),
  modelDir: spec({
    flag: '--model <dir>',
    env: 'LUMINA_MODEL_DIR',
    help: 'TensorFlow.js layers model for embeddings',
    defaultText: 'the MobileNetV2 nsfwjs ships',
    parse: (v, n) => resolveModelDir(v, n),
  }),
  embedBatch: spec({
    flag: '--embed-batch <n>',
    env: 'LUMINA_EMBED_BATCH',
    help: 'pictures per CNN batch',
    defaultText: '16',
    parse: (v, n) => positiveInt(n, v, 16),
  }),
  jobLeaseMs: spec({
    flag: '--job-lease-s <n>',
    env: 'LUMINA_JOB_LEASE_S',
    help: 'seconds a job runner may go silent before another process may take its job over',
    defaultText: '30',
    parse: (v, n) => positiveInt(n, v, 30) * 1000,
  }),
  embedBackend: spec({
    env: 'LUMINA_EMBED_BACKEND',
    help: `force one TensorFlow.js backend (${BACKENDS.join(', ')})`,
    defaultText: 'the best that starts',
    parse: (v, n) => resolveBackend(v, n),
  }),
  exiftoolProcs: spec({
    env: 'LUMINA_EXIFTOOL_PROCS',
    help: 'ExifTool processes beside the file-processing threads',
    defaultText: 'one per worker',
    parse: (v, n): number | null => (v === undefined || v === '' ? null : positiveInt(n, v, 1)),
  }),
  ffmpeg: spec({
    env: 'LUMINA_FFMPEG',
    help: 'the ffmpeg binary for video frames and BMP',
    defaultText: 'ffmpeg on PATH',
    parse: (v) => v || 'ffmpeg',
  }),
  heifConvert: spec({
    env: 'LUMINA_HEIF_CONVERT',
    help: 'the heif-convert binary for HEVC HEIC/HEIF pixels (heif-info beside it checks their size first)',
    defaultText: 'heif-convert on PATH',
    parse: (v) => v || 'heif-convert',
  }),
  djxl: spec({
    env: 'LUMINA_DJXL',
    help: 'the djxl binary for JPEG XL pixels (jxlinfo beside it checks their size first)',
    defaultText: 'djxl on PATH',
    parse: (v) => v || 'djxl',
  }),
  corsOrigins: spec({
    env: 'LUMINA_CORS_ORIGINS',
    help: 'comma-separated origins allowed by CORS, or * (serve --cors-origin)',
    defaultText: 'none',
    parse: (v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  }),
  allowedHosts: spec({
    env: 'LUMINA_ALLOWED_HOSTS',
    help: 'comma-separated host names the API answers to beyond its address (serve --allowed-host)',
    defaultText: 'none',
    parse: (v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  }),
  webRoot: spec({
    env: 'LUMINA_WEB_ROOT',
    help: 'the built web app that serve offers at / (serve --web-root)',
    defaultText: 'dist/web of the package',
    parse: (v) => (v ? path.resolve(v) : null),
  }),
  debug: spec({
    env: 'LUMINA_DEBUG',
    help: 'print stack traces of unexpected errors',
    parse: (v) => Boolean(v),
  }),
} as const;

type Options = typeof OPTIONS;
export type OptionKey = keyof Options;

export type DatabaseTarget = { kind: 'embedded' } | { kind: 'postgres'; url: string };

/** The resolved settings, one field per option (jobLeaseMs in milliseconds; databaseUrl as `database`). */
export type LuminaConfig = { [K in Exclude<OptionKey, 'databaseUrl'>]: ReturnType<Options[K]['parse']> } & { database: DatabaseTarget };

/** What the command line may set; anything left undefined falls back to the environment, then defaults. */
export type ConfigFlags = { [K in OptionKey]?: string | number | string[] };

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env): LuminaConfig {
  const out: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(OPTIONS) as [OptionKey, OptionSpec<unknown>][]) {
    const given = flags[key];
    const fromFlag = given !== undefined;
    const text = fromFlag ? (Array.isArray(given) ? given.join(',') : String(given)) : o.env ? env[o.env] : undefined;
    const name = [o.flag?.split(' ')[0], o.env].filter(Boolean).join(' / ');
    out[key === 'databaseUrl' ? 'database' : key] = o.parse(text, name, env);
  }
  return out as LuminaConfig;
}

/** The help line of an option: its own text, then where else it comes from and its default. */
export function optionHelp(key: OptionKey): string {
  const o: OptionSpec<unknown> = OPTIONS[key];
  const from = [o.env, o.alsoFrom].filter(Boolean).join(' or ');
  const extra = [from, o.defaultText && `default: ${o.defaultText}`].filter(Boolean).join('; ');
  return extra ? `${o.help} (${extra})` : o.help;
}

/** The settings with no flag, for the environment section of the help. */
export function environmentHelp(): string {
  return (Object.values(OPTIONS) as OptionSpec<unknown>[])
    .filter((o) => !o.flag && o.env)
    .map((o) => `  ${o.env!.padEnd(22)} ${o.help}${o.defaultText ? ` (default: ${o.defaultText})` : ''}`)
    .join('\n');
}

function resolveModelDir(dir: string | undefined, name: string): string | null {
  if (!dir) return null;
  const full = path.resolve(dir);
  if (!fs.existsSync(path.join(full, 'model.json'))) throw new UserError(`${name}: ${full} has no model.json (a TensorFlow.js layers model is expected)`);
  return full;
}

function resolveBackend(value: string | undefined, name: string): (typeof BACKENDS)[number] | null {
  if (!value) return null;
  if (!(BACKENDS as readonly string[]).includes(value)) throw new UserError(`${name} must be one of ${BACKENDS.join(', ')}`);
  return value as (typeof BACKENDS)[number];
}

function resolveDataDir(given: string | undefined, env: Env): string {
  if (given !== undefined && given.trim() === '') throw new UserError('the data directory may not be empty (--data-dir / LUMINA_DATA_DIR)');
  if (given) return path.resolve(given);
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(xdg, 'lumina');
}

function resolveDatabase(url: string | undefined, env: Env): DatabaseTarget {
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

function resolveRedis(url: string | undefined, env: Env): string | null {
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

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UserError(`${name} must be a positive whole number, got "${value}"`);
  return n;
}

function resolvePrefix(value: string | undefined, name: string): string {
  if (value === undefined || value === '') return 'lumina';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new UserError(`${name} may hold only letters, digits, "_", "." and "-" (1 to 64), got "${value}"`);
  }
  return value;
}

/**
 * The environment ExifTool's processes get: what exiftool-vendored gives them (a C locale, and
 * EXIFTOOL_HOME for a config file), plus PATH to find perl.
 */
export function exiftoolEnvironment(env: Env = process.env): Env {
  return { PATH: env.PATH, LANG: 'C', EXIFTOOL_HOME: env.EXIFTOOL_HOME };
}

/** A test hook, not a setting: the organize journal point at which the process kills itself (see organize/failpoints.ts). */
export function organizeKillPoint(env: Env = process.env): string {
  return env.LUMINA_ORGANIZE_KILL_AT ?? '';
}

/** A test hook, not a setting: file-system errors the organize journal pretends to get (see organize/failpoints.ts). */
export function organizeInjectedErrors(env: Env = process.env): string {
  return env.LUMINA_ORGANIZE_INJECT ?? '';
}
