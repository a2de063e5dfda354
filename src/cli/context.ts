import type { Command } from 'commander';
import type { App, AppOptions } from '../app.js';
import { OPTIONS, optionHelp, resolveConfig, type ConfigFlags, type LuminaConfig, type OptionKey } from '../config/config.js';

/** The options every command accepts (set on the root program), as commander names them. */
export interface GlobalOptions {
  json?: boolean;
  [flag: string]: unknown;
}

/** The attribute commander gives a flag: `--data-dir <dir>` → dataDir. */
const attributeOf = (flag: string) => flag.split(' ')[0]!.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Registers every configuration option that has a flag as a global option, with its help from the schema. */
export function addConfigOptions(program: Command): void {
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const flag = (OPTIONS[key] as { flag?: string }).flag;
    if (flag) program.option(flag, optionHelp(key));
  }
}

/** The configuration a command runs with: its flags, then the environment, then the defaults. */
export function configOf(cmd: Command): LuminaConfig {
  const given = cmd.optsWithGlobals<GlobalOptions>();
  const flags: ConfigFlags = {};
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const flag = (OPTIONS[key] as { flag?: string }).flag;
    const value = flag ? given[attributeOf(flag)] : undefined;
    if (value !== undefined) flags[key] = value as string;
  }
  return resolveConfig(flags);
}

/** Opens the app (database, executor, services) for the length of `fn`, and always closes it. */
export async function withApp<T>(cmd: Command, fn: (app: App) => Promise<T>, options: AppOptions = { jobs: 'here' }): Promise<T> {
  const config = configOf(cmd);
  // Loaded here, not with the command: `--help` and a bad flag need none of it.
  const { openApp } = await import('../app.js');
  const app = await openApp(config, options);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

export function wantsJson(cmd: Command): boolean {
  return Boolean(cmd.optsWithGlobals<GlobalOptions>().json);
}

const jsonValue = (_k: string, v: unknown) => (typeof v === 'bigint' ? Number(v) : v);

/** --json output: one JSON document on stdout, nothing else there. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, jsonValue, 2) + '\n');
}

/**
 * `{ [key]: [...items], ...rest }` as printJson prints it, the list written as its pages arrive:
 * a catalog's million groups never sit in memory at once.
 */
export async function printJsonList(key: string, pages: AsyncIterable<unknown[]>, rest: () => Record<string, unknown>): Promise<void> {
  const indent = (text: string, by: string) => text.replace(/\n/g, `\n${by}`);
  let count = 0;
  process.stdout.write(`{\n  ${JSON.stringify(key)}: [`);
  for await (const page of pages) {
    for (const item of page) process.stdout.write(`${count++ ? ',' : ''}\n    ${indent(JSON.stringify(item, jsonValue, 2), '    ')}`);
  }
  process.stdout.write(count ? '\n  ]' : ']');
  for (const [k, v] of Object.entries(rest())) process.stdout.write(`,\n  ${JSON.stringify(k)}: ${indent(JSON.stringify(v, jsonValue, 2), '  ')}`);
  process.stdout.write('\n}\n');
}
