import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DATA_DIR_IN_USE, UserError, messageOf } from '../util/errors.js';
import { privateSocketPath } from '../util/private-socket.js';
import { publicMigrations } from './migrations/public.js';
import { fittingTemplate, TEMPLATE_DIR } from './template.js';

/**
 * The embedded default: PGlite on disk under the data directory, served in-process over a Unix
 * socket so that the same postgres.js client and the same SQL work in both modes. The socket
 * lives in the data directory (0700), so no other local user can connect: PGlite has no
 * passwords, and a TCP port on 127.0.0.1 would be open to every user of the machine.
 */
export interface EmbeddedPostgres {
  /** The Unix socket to connect to. */
  socketPath: string;
  /** Where the database came from: already there, copied from the template, or made by initdb. */
  origin: 'existing' | 'template' | 'initdb';
  stop(): Promise<void>;
}

/** How a new data directory gets its database. */
export interface EmbeddedOptions {
  /**
   * The prepared database to copy (template.ts); null: initdb always (the template's own build).
   * @defaultValue TEMPLATE_DIR, which `npm run build` writes
   */
  template?: string | null;
}

// A laptop-sized server: PGlite's default of 128 MB of shared buffers costs its resident memory
// whether or not a catalog needs it; the OS page cache serves reads anyway.
const POSTGRESQL_CONF = 'shared_buffers = 32MB';

/**
 * initdb runs once per data directory in a short-lived child process: PGlite's initdb module keeps
 * about half a gigabyte resident, which the long-running process should not carry.
 */
function initializeInChild(pgdata: string): void {
  const script = `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});
    const db = await PGlite.create(process.argv[1]); await db.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, pgdata], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  if (r.status !== 0) throw new UserError(`could not initialize the embedded database in ${pgdata}: ${r.stderr?.toString().trim().split('\n').at(-1) ?? r.error?.message}`);
}

/**
 * PGlite's file system layer writes its files 0666, whatever the umask: they are made the
 * owner's alone (0600, folders 0700) once initialized and at every close, not on the start-up
 * path. In between (and after a crash), the data directory's own 0700 keeps other users out.
 */
function closeUp(pgdata: string): void {
  for (const entry of fs.readdirSync(pgdata, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const want = entry.isDirectory() ? 0o700 : 0o600;
    try {
      if ((fs.lstatSync(full).mode & 0o777) !== want && !entry.isSymbolicLink()) fs.chmodSync(full, want);
    } catch {
      /* a file PGlite removed meanwhile */
    }
  }
  fs.chmodSync(pgdata, 0o700);
}

/**
 * Copies the template into a new pgdata (false when it cannot be used): into a folder beside it
 * first, renamed into place once complete, so a start killed midway leaves no half database.
 */
function copyTemplate(templateDir: string, pgdata: string): boolean {
  const source = fittingTemplate(templateDir, publicMigrations);
  // A pgdata without PG_VERSION (an initdb cut short by an older version) is left to initdb.
  if (!source || fs.existsSync(pgdata)) return false;
  const partial = `${pgdata}.partial`;
  // Held under the lock: a partial copy left here was cut short.
  fs.rmSync(partial, { recursive: true, force: true });
  try {
    // A clone where the file system can (copy on write); a plain copy elsewhere.
    fs.cpSync(source, partial, { recursive: true, mode: fs.constants.COPYFILE_FICLONE });
    closeUp(partial);
    fs.renameSync(partial, pgdata);
    return true;
  } catch (err) {
    fs.rmSync(partial, { recursive: true, force: true });
    // The template went away (rebuilt meanwhile) or is not ours to read: initdb instead.
    if (['ENOENT', 'EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw new UserError(`could not create the embedded database in ${pgdata}: ${messageOf(err)}`);
  }
}

export async function startEmbeddedPostgres(dataDir: string, options: EmbeddedOptions = {}): Promise<EmbeddedPostgres> {
  fs.mkdirSync(dataDir, { recursive: true });
  const releaseLock = takeLock(path.join(dataDir, 'pglite.lock'));
  try {
    const pgdata = path.join(dataDir, 'pgdata');
    let origin: EmbeddedPostgres['origin'] = 'existing';
    if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
      const template = options.template === undefined ? TEMPLATE_DIR : options.template;
      if (template !== null && copyTemplate(template, pgdata)) {
        origin = 'template';
      } else {
        initializeInChild(pgdata);
        closeUp(pgdata);
        origin = 'initdb';
      }
    }
    const db = await PGlite.create(pgdata, { postgresqlconf: POSTGRESQL_CONF });
    const place = privateSocketPath(dataDir, '.s.PGSQL.5432');
    const server = new PGLiteSocketServer({ db, path: place.socketPath, maxConnections: 8 });
    await server.start();
    // Owner only, whatever the umask; the folder around it is private too.
    fs.chmodSync(place.socketPath, 0o600);
    return {
      socketPath: place.socketPath,
      origin,
      async stop() {
        await server.stop();
        await db.close();
        place.cleanup();
        closeUp(pgdata);
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * PGlite is a single-process database: two processes opening one data directory would corrupt it.
 * A lock file naming the owner's pid keeps a second process out; a lock left by a killed process
 * (its pid no longer alive) is taken over, so a crash never wedges the data directory.
 */
const heldHere = new Set<string>();


function takeLock(lockPath: string): () => void {
  if (heldHere.has(lockPath)) {
    throw new UserError(`the data directory ${path.dirname(lockPath)} is in use by another lumina process (this one, pid ${process.pid})`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      heldHere.add(lockPath);
      return () => {
        heldHere.delete(lockPath);
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(lockPath, 'utf8'));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new UserError(
          `the data directory ${path.dirname(lockPath)} is in use by another lumina process (pid ${owner}); ` +
            'wait for it to finish, use another --data-dir, or set DATABASE_URL to share a PostgreSQL server',
          'conflict',
          DATA_DIR_IN_USE,
        );
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new UserError(`could not lock the data directory (${lockPath})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
