import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Longest path a Unix socket may have on Linux (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Where a Unix socket only the data directory's owner may reach goes: in the data directory
 * (0700), or, when that path is too long for a socket, in a private folder of its own (0700)
 * under the system's temporary directory. The caller holds the data directory's lock, so a
 * socket file left at the path is a killed process's and is removed.
 */
export function privateSocketPath(dataDir: string, name: string): { socketPath: string; cleanup(): void } {
  const inData = path.join(dataDir, name);
  if (Buffer.byteLength(inData) <= MAX_SOCKET_PATH) {
    fs.rmSync(inData, { force: true });
    return { socketPath: inData, cleanup: () => fs.rmSync(inData, { force: true }) };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lumina-sock-'));
  fs.chmodSync(dir, 0o700);
  return { socketPath: path.join(dir, name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
