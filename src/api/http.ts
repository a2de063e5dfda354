import type { FileHandle } from 'node:fs/promises';
import type { HttpResponse } from 'uWebSockets.js';
import { isServiceUnavailable } from '../services/errors.js';
import { messageOf, UserError, type ErrorKind } from '../util/errors.js';

/** An error with its HTTP status and a stable code for clients. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const KIND_STATUS: Record<ErrorKind, [number, string]> = {
  invalid: [400, 'invalid_request'],
  forbidden: [403, 'forbidden'],
  not_found: [404, 'not_found'],
  conflict: [409, 'conflict'],
  unavailable: [503, 'unavailable'],
};

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof UserError) {
    const [status, code] = KIND_STATUS[err.kind];
    return new HttpError(status, err.code ?? code, err.message);
  }
  // A database or Redis that went away is the service's trouble, said as such.
  if (isServiceUnavailable(err)) {
    return new HttpError(503, 'unavailable', `a backing service is unavailable: ${messageOf(err)}`);
  }
  process.stderr.write(`lumina: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return new HttpError(500, 'internal', 'internal error');
}

export const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  206: '206 Partial Content',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  416: '416 Range Not Satisfiable',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export interface Reply {
  status?: number;
  /** JSON-serialized unless `raw` is given. */
  body?: unknown;
  raw?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** A body streamed from an open file (closed once sent or abandoned); `raw` and `body` are then ignored. */
  file?: FileBody;
}

/** `length` bytes of an open file from `start`. */
export interface FileBody {
  handle: FileHandle;
  start: number;
  length: number;
}

export function errorReply(err: HttpError): Reply {
  return { status: err.status, body: { error: { code: err.code, message: err.message } } };
}

/** Writes a whole response in one corked batch (one syscall). */
/** Sends a reply; for HEAD, the same status and headers (and length) without the body. */
export function send(res: HttpResponse, reply: Reply, extraHeaders: [string, string][], head = false): void {
  const status = reply.status ?? 200;
  const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
  res.cork(() => {
    res.writeStatus(STATUS_TEXT[status] ?? String(status));
    if (reply.raw === undefined && reply.body !== undefined) res.writeHeader('content-type', 'application/json');
    else if (reply.contentType) res.writeHeader('content-type', reply.contentType);
    for (const [k, v] of extraHeaders) res.writeHeader(k, v);
    if (reply.headers) for (const k in reply.headers) res.writeHeader(k, reply.headers[k]!);
    if (head) res.endWithoutBody(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength);
    else res.end(payload);
  });
}

/** How deep a request body may nest: far beyond any real settings, far below a stack overflow. */
export const MAX_BODY_DEPTH = 64;

/** The top-level field of a JSON value that nests deeper than `max`, or null; iterative, so any depth is safe to check. */
export function tooDeep(value: unknown, max = MAX_BODY_DEPTH): string | null {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, field] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return field || '(the body)';
    for (const [k, child] of Object.entries(v)) stack.push([child, depth + 1, field || k]);
  }
  return null;
}

/** Reads a request body up to `limit` bytes; larger bodies are refused before they are buffered. */
export function readBody(res: HttpResponse, limit: number, declared: number | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (declared !== null && declared > limit) {
      reject(new HttpError(413, 'payload_too_large', `the request body is larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    res.onData((chunk, isLast) => {
      if (over) return;
      size += chunk.byteLength;
      if (size > limit) {
        over = true;
        reject(new HttpError(413, 'payload_too_large', `the request body is larger than ${limit} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this call: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) resolve(Buffer.concat(chunks, size));
    });
  });
}

/**
 * Keyset paging by id, as the API's cursor pages do it: the cursor is the last id of a full page.
 * `afterId` reads one; `nextCursor` makes the next (null once a page comes back short).
 */
export const keyset = {
  afterId: (cursor: string | undefined): number | undefined => (cursor !== undefined ? Number(cursor) : undefined),
  nextCursor: (rows: { id: number | bigint }[], limit: number): string | null => (rows.length === limit ? String(rows.at(-1)!.id) : null),
};
