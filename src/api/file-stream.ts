import type { HttpResponse } from 'uWebSockets.js';
import { STATUS_TEXT, type FileBody, type Reply } from './http.js';

/** Files sent in pieces, with backpressure, and the byte ranges a client may ask for. */

/** An inclusive byte range of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

const digits = /^\d{1,15}$/;

/**
 * The one range a Range header asks for (RFC 9110 §14.1.2): null when there is none to honour
 * (no header, another unit, several ranges, a malformed one: the whole file is sent);
 * 'unsatisfiable' when it starts beyond the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*([^,]*?)\s*$/i.exec(header);
  if (!m) return null;
  const [first = '', last = ''] = m[1]!.split('-').map((p) => p.trim());
  if (m[1]!.split('-').length !== 2) return null;
  if (first === '') {
    // A suffix: the last n bytes.
    if (!digits.test(last)) return null;
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  if (!digits.test(first) || (last !== '' && !digits.test(last))) return null;
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** What a stream needs to know of its request's connection. */
export interface Connection {
  readonly aborted: boolean;
  /** Called once the client goes away. */
  onAbort(listener: () => void): void;
}

/** Bytes read and offered to the socket at a time. */
const CHUNK = 256 * 1024;

/**
 * Sends a reply whose body is part of an open file, one piece at a time: a piece the socket does
 * not take whole is finished from onWritable before the next is read, so a slow client holds one
 * piece of memory however large the file. The file is closed however it ends.
 */
export function sendFile(res: HttpResponse, reply: Reply & { file: FileBody }, extraHeaders: [string, string][], head: boolean, conn: Connection): void {
  const { handle, start, length } = reply.file;
  const status = reply.status ?? 200;
  const close = () => void handle.close().catch(() => {});
  const writeHead = () => {
    res.writeStatus(STATUS_TEXT[status] ?? String(status));
    if (reply.contentType) res.writeHeader('content-type', reply.contentType);
    for (const [k, v] of extraHeaders) res.writeHeader(k, v);
    if (reply.headers) for (const k in reply.headers) res.writeHeader(k, reply.headers[k]!);
  };
  if (conn.aborted) return close();
  if (head || length === 0) {
    res.cork(() => {
      writeHead();
      if (head) res.endWithoutBody(length);
      else res.end();
    });
    return close();
  }
  let finished = false;
  let wake: (() => void) | null = null;
  conn.onAbort(() => wake?.());
  const pump = async () => {
    let pos = start;
    let headSent = false;
    while (pos < start + length) {
      const want = Math.min(CHUNK, start + length - pos);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buf, 0, want, pos);
      if (conn.aborted) return;
      // The file shrank since its size was sent: the promised length cannot be kept.
      if (bytesRead === 0) return res.close();
      pos += bytesRead;
      const piece = buf.subarray(0, bytesRead);
      let ok = false;
      let sentFrom = 0;
      res.cork(() => {
        if (!headSent) writeHead();
        headSent = true;
        sentFrom = res.getWriteOffset();
        [ok, finished] = res.tryEnd(piece, length);
      });
      if (finished) return;
      if (ok) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        res.onWritable((offset) => {
          const [written, done] = res.tryEnd(piece.subarray(offset - sentFrom), length);
          if (done) finished = true;
          if (written || done) resolve();
          return written;
        });
      });
      wake = null;
      if (conn.aborted || finished) return;
    }
  };
  pump()
    .catch(() => {
      // A read that failed half way: the response cannot be completed, only cut.
      if (!conn.aborted && !finished) res.close();
    })
    .finally(close);
}
