import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { HttpError, type Reply } from './http.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
/** read: any valid token; write: a token that is not read-only. */
export type Access = 'read' | 'write';

export interface RequestContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  headers: Record<string, string>;
}

type Infer<T> = T extends TSchema ? Static<T> : undefined;

export interface RouteSpec<P extends TSchema | undefined, Q extends TSchema | undefined, B extends TSchema | undefined> {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** Status → schema (JSON) or a description of a non-JSON body; for the OpenAPI document. */
  responses: Record<number, TSchema | string>;
  handler(ctx: RequestContext<Infer<P>, Infer<Q>, Infer<B>>): Reply | Promise<Reply>;
}

export interface Route extends RouteSpec<TSchema | undefined, TSchema | undefined, TSchema | undefined> {
  segments: string[];
  check: { params?: TypeCheck<TSchema>; query?: TypeCheck<TSchema>; body?: TypeCheck<TSchema> };
}

/** Declares a route; the schemas type the handler's context. */
export function route<P extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, B extends TSchema | undefined = undefined>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec<P, Q, B> {
  return spec;
}

/** Paths match with or without a trailing slash. */
export function normalizePath(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : p;
}

/**
 * A small router: static paths by map lookup, parameterized ones by segment match, and every
 * input checked against its schema before the handler sees it.
 */
export class Router {
  readonly routes: Route[] = [];
  readonly #static = new Map<string, Route>();
  readonly #dynamic: Route[] = [];

  add(spec: RouteSpec<never, never, never> | RouteSpec<TSchema | undefined, TSchema | undefined, TSchema | undefined>): void {
    const s = spec as RouteSpec<TSchema | undefined, TSchema | undefined, TSchema | undefined>;
    const r: Route = {
      ...s,
      segments: s.path.split('/').slice(1),
      check: {
        params: s.params && TypeCompiler.Compile(s.params),
        query: s.query && TypeCompiler.Compile(s.query),
        body: s.body && TypeCompiler.Compile(s.body),
      },
    };
    this.routes.push(r);
    if (s.path.includes(':')) this.#dynamic.push(r);
    else this.#static.set(`${s.method} ${s.path}`, r);
  }

  /** The route and its raw path parameters; a 404 or 405 HttpError when none fits. */
  match(method: string, rawPath: string): { route: Route; params: Record<string, string> } {
    const path = normalizePath(rawPath);
    const exact = this.#static.get(`${method} ${path}`);
    if (exact) return { route: exact, params: {} };
    const segs = path.split('/').slice(1);
    let pathMatched = false;
    for (const r of [...this.#static.values(), ...this.#dynamic]) {
      if (r.segments.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const want = r.segments[i]!;
        if (want.startsWith(':')) {
          try {
            params[want.slice(1)] = decodeURIComponent(segs[i]!);
          } catch {
            ok = false;
          }
        } else ok = want === segs[i];
      }
      if (!ok) continue;
      if (r.method === method) return { route: r, params };
      pathMatched = true;
    }
    if (pathMatched) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${path}`);
  }
}

/** Checks (and for query strings, converts) one input; the first problem becomes a 400. */
export function validate(check: TypeCheck<TSchema> | undefined, value: unknown, where: string, convert: boolean): unknown {
  if (!check) return value;
  let v = value;
  if (convert) v = Value.Convert(check.Schema(), v);
  v = Value.Default(check.Schema(), v);
  if (check.Check(v)) return v;
  const first = check.Errors(v).First();
  const at = first?.path ? `${where}${first.path.replace(/\//g, '.')}` : where;
  throw new HttpError(400, 'validation_failed', `${at}: ${first?.message ?? 'invalid'}`);
}
