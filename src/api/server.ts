import uWS, { type HttpResponse, type us_listen_socket, type WebSocket } from 'uWebSockets.js';
import type { EventBus } from '../events/job-events.js';
import { messageOf } from '../util/errors.js';
import type { Authenticator, Principal } from './auth.js';
import { tokenOf } from './auth.js';
import type { ApiDeps } from './deps.js';
import { sendFile, type Connection } from './file-stream.js';
import { errorReply, HttpError, MAX_BODY_DEPTH, readBody, send, tooDeep, toHttpError, type Reply } from './http.js';
import { openApiDocument } from './openapi.js';
import { RequestGuard } from './request-guard.js';
import { assetRoutes } from './routes/assets.js';
import { catalogRoutes } from './routes/catalogs.js';
import { jobRoutes } from './routes/jobs.js';
import { duplicateRoutes } from './routes/duplicates.js';
import { organizeRoutes } from './routes/organize.js';
import { systemRoutes, type ServerStats } from './routes/system.js';
import { Router, validate, type Route } from './router.js';
import { DEFAULT_WEB_ROOT, WebFiles } from './web-files.js';
import { EventFanout, handleClientMessage, type SocketData } from './ws.js';

export interface ServerOptions {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /** Origins allowed by CORS ('*' for any); empty: no CORS headers. */
  corsOrigins: string[];
  /** Host names the server answers to beyond its bound address's own. */
  allowedHosts: string[];
  version: string;
  /** The built web app's folder; default dist/web of this package. */
  webRoot?: string;
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as Promise<T>)?.then === 'function';

/** The close code of a WebSocket whose token was revoked (4000-4999: the application's own). */
export const WS_TOKEN_REVOKED = 4401;

/**
 * The HTTP and WebSocket front end on uWebSockets.js: routing, auth, validation and CORS here;
 * everything else in the route handlers' services.
 */
export class ApiServer {
  readonly router = new Router();
  readonly #app = uWS.App();
  readonly #fanout: EventFanout;
  readonly #guard: RequestGuard;
  readonly #sockets = new Set<WebSocket<SocketData>>();
  readonly #stats: ServerStats = { requests: {}, wsConnections: 0, wsPublished: 0, wsDelivered: 0 };
  #listen: us_listen_socket | null = null;
  #unsubscribe: () => void = () => {};
  #openapi = '';
  readonly web: WebFiles;
  port = 0;

  constructor(
    private readonly deps: ApiDeps,
    private readonly auth: Authenticator,
    private readonly bus: EventBus,
    private readonly opts: ServerOptions,
  ) {
    for (const r of [
      ...systemRoutes(deps, () => this.stats(), () => this.#openapi),
      ...catalogRoutes(deps),
      ...assetRoutes(deps),
      ...jobRoutes(deps),
      ...duplicateRoutes(deps),
      ...organizeRoutes(deps),
    ]) {
      this.router.add(r);
    }
    this.web = new WebFiles(opts.webRoot ?? DEFAULT_WEB_ROOT);
    this.#openapi = JSON.stringify(openApiDocument(this.router.routes, opts.version, auth.required));
    this.#guard = new RequestGuard({ bindHost: opts.host, allowedHosts: opts.allowedHosts, corsOrigins: opts.corsOrigins, checkHost: !auth.required });
    this.#fanout = new EventFanout(this.#app);
    // A revoked token ends the sessions opened with it, not only its next request.
    auth.onRevoked((hashes) => {
      for (const ws of [...this.#sockets]) {
        const hash = ws.getUserData().tokenHash;
        if (hash && hashes.has(hash)) ws.end(WS_TOKEN_REVOKED, 'token revoked');
      }
    });
    this.#app.any('/*', (res, req) => this.#http(res, req));
    this.#app.ws<SocketData>('/ws', {
      maxPayloadLength: 16 * 1024,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      // A slow client is closed rather than allowed to hold the server's memory (it reconnects and re-reads the job).
      maxBackpressure: 1024 * 1024,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => {
        this.#sockets.add(ws);
      },
      message: (ws, message) => {
        // The message buffer is reused once this returns: copy it. Replies keep the order of requests.
        const copy = message.slice(0);
        const data = ws.getUserData();
        data.chain = data.chain.then(() => handleClientMessage(ws, copy, deps.services, () => !data.closed)).catch(() => {});
      },
      close: (ws) => {
        ws.getUserData().closed = true;
        this.#sockets.delete(ws);
      },
    });
  }

  async listen(): Promise<number> {
    this.#unsubscribe = this.bus.subscribe((e) => {
      this.deps.state.apply(e);
      this.#fanout.onEvent(e);
    });
    await new Promise<void>((resolve, reject) => {
      this.#app.listen(this.opts.host, this.opts.port, (token) => {
        if (!token) reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port} (in use, or not an address of this host)`));
        else {
          this.#listen = token;
          this.port = uWS.us_socket_local_port(token);
          resolve();
        }
      });
    });
    return this.port;
  }

  stats(): ServerStats {
    return { ...this.#stats, wsConnections: this.#sockets.size, wsPublished: this.#fanout.published, wsDelivered: this.#fanout.delivered };
  }

  close(): void {
    this.#unsubscribe();
    this.#fanout.close();
    if (this.#listen) uWS.us_listen_socket_close(this.#listen);
    this.#listen = null;
    for (const ws of [...this.#sockets]) ws.end(1001, 'server shutting down');
  }

  #count(status: number): void {
    const k = `${Math.floor(status / 100)}xx`;
    this.#stats.requests[k] = (this.#stats.requests[k] ?? 0) + 1;
  }

  #cors(origin: string): [string, string][] {
    const allowed = this.opts.corsOrigins;
    if (!origin || !allowed.length) return [];
    if (allowed.includes('*')) return [['access-control-allow-origin', '*']];
    return allowed.includes(origin) ? [['access-control-allow-origin', origin], ['vary', 'origin']] : [];
  }

  #http(res: HttpResponse, req: uWS.HttpRequest): void {
    // The request object lives only until this function returns: read all of it now.
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const url = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    const authorization = req.getHeader('authorization');
    const contentType = req.getHeader('content-type');
    const contentLength = req.getHeader('content-length');
    const host = req.getHeader('host');
    const origin = req.getHeader('origin');
    const range = req.getHeader('range');
    const cors = this.#cors(origin);

    if (method === 'OPTIONS') {
      const reply: Reply = {
        status: 204,
        headers: cors.length
          ? { 'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '600' }
          : {},
      };
      this.#count(204);
      return send(res, reply, cors);
    }

    // HEAD is GET without the body.
    const head = method === 'HEAD';
    let aborted = false;
    let watching = false;
    const abortListeners: (() => void)[] = [];
    const watchAbort = () => {
      if (watching) return;
      watching = true;
      res.onAborted(() => {
        aborted = true;
        for (const l of abortListeners) l();
      });
    };
    const conn: Connection = {
      get aborted() {
        return aborted;
      },
      onAbort: (l) => abortListeners.push(l),
    };
    const finish = (reply: Reply) => {
      this.#count(reply.status ?? 200);
      if (reply.file) {
        watchAbort();
        return sendFile(res, reply as Reply & { file: NonNullable<Reply['file']> }, cors, head, conn);
      }
      if (!aborted) send(res, reply, cors, head);
    };
    const fail = (err: unknown) => {
      const e = toHttpError(err);
      const reply = errorReply(e);
      if (e.status === 401) reply.headers = { 'www-authenticate': 'Bearer' };
      finish(reply);
    };

    try {
      this.#guard.checkHost(host);
      let matched;
      try {
        matched = this.router.match(head ? 'GET' : method, url);
      } catch (err) {
        // No API route: the web app's files, or the app itself for a deep link. They need no token.
        if (err instanceof HttpError && err.status === 404 && WebFiles.claims(method, url)) {
          watchAbort();
          this.web.reply(url).then(finish, fail);
          return;
        }
        throw err;
      }
      const { route, params } = matched;
      if (route.access === 'write') {
        this.#guard.checkOrigin(origin, host);
        // A form or a plain fetch() from any page can send a bodiless POST without a preflight;
        // a JSON content type or a token cannot be sent that way.
        if (!route.body && !authorization && !/^application\/json\b/i.test(contentType)) {
          throw new HttpError(415, 'unsupported_media_type', 'send Content-Type: application/json (or a bearer token) with every change');
        }
      }
      const query = new URLSearchParams(rawQuery);
      const principal = this.auth.authorize(tokenOf(authorization, query), route.access);
      const headers: Record<string, string> = range ? { range } : {};
      const needsBody = !!route.body;
      if (!needsBody && !isPromise(principal)) {
        const out = this.#run(route, params, query, undefined, headers);
        if (!isPromise(out)) return finish(out);
        watchAbort();
        out.then(finish, fail);
        return;
      }
      watchAbort();
      const bodyPromise = needsBody ? this.#body(res, contentType, contentLength) : Promise.resolve(undefined);
      Promise.all([principal, bodyPromise] as [Principal | Promise<Principal>, Promise<unknown>])
        .then(([, body]) => this.#run(route, params, query, body, headers))
        .then(finish, fail);
    } catch (err) {
      fail(err);
    }
  }

  async #body(res: HttpResponse, contentType: string, contentLength: string): Promise<unknown> {
    const declared = contentLength ? Number(contentLength) : null;
    const raw = await readBody(res, this.opts.bodyLimit, declared !== null && Number.isFinite(declared) ? declared : null);
    if (!/^application\/json\b/i.test(contentType)) throw new HttpError(415, 'unsupported_media_type', 'send the body as JSON (Content-Type: application/json)');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${messageOf(err)}`);
    }
    const deep = tooDeep(body);
    if (deep) throw new HttpError(400, 'validation_failed', `body.${deep}: nested deeper than ${MAX_BODY_DEPTH} levels`);
    return body;
  }

  #run(route: Route, rawParams: Record<string, string>, query: URLSearchParams, rawBody: unknown, headers: Record<string, string>): Reply | Promise<Reply> {
    query.delete('token');
    // PostgreSQL text cannot hold NUL: refused here, named, rather than failing in a query.
    for (const [k, v] of query) if (v.includes('\0')) throw new HttpError(400, 'validation_failed', `query.${k}: may not contain NUL characters`);
    const params = validate(route.check.params, rawParams, 'params', false);
    const q = route.query ? validate(route.check.query, Object.fromEntries(query), 'query', true) : undefined;
    if (!route.query && query.size) throw new HttpError(400, 'validation_failed', `query: ${route.path} takes no query parameters (got "${[...query.keys()][0]}")`);
    const body = validate(route.check.body, rawBody, 'body', false);
    return route.handler({ params, query: q, body, headers } as never);
  }

  #upgrade(res: HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const authorization = req.getHeader('authorization');
    const query = new URLSearchParams(req.getQuery() ?? '');
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const refuse = (err: unknown) => {
      const e = toHttpError(err);
      this.#count(e.status);
      if (!aborted) send(res, errorReply(e), []);
    };
    const accept = (p: Principal) => {
      if (aborted) return;
      res.cork(() => res.upgrade<SocketData>({ principal: p.name, tokenHash: p.tokenHash, topics: new Set(), closed: false, chain: Promise.resolve() }, key, protocol, extensions, context));
    };
    try {
      this.#guard.checkHost(req.getHeader('host'));
      this.#guard.checkOrigin(req.getHeader('origin'), req.getHeader('host'));
      const principal = this.auth.authorize(tokenOf(authorization, query), 'read');
      if (isPromise(principal)) principal.then(accept, refuse);
      else accept(principal);
    } catch (err) {
      refuse(err);
    }
  }
}
