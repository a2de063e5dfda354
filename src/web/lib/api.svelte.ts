/**
 * The one way the page talks to `lumina serve`: every request carries the session's token (when
 * one was given) and every error arrives as an ApiError with the server's code.
 */

const TOKEN_KEY = 'lumina.token';

export const auth = $state({
  /** The server asked for a token (401) and the page shows the prompt. */
  needed: false,
  /** The token given was refused: the prompt says so. */
  refused: false,
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  /** Bumped when a token is accepted, so pages load again. */
  epoch: 0,
});

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function setToken(token: string): void {
  auth.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  auth.refused = false;
  auth.needed = false;
  auth.epoch++;
}

export function forgetToken(): void {
  auth.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A URL for <img> and <video>, which cannot send headers: the token travels as ?token=. */
export function withToken(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  if (!auth.token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(auth.token)}`;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function queryString(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export async function api<T = unknown>(path: string, opts: { method?: string; body?: unknown; query?: Query } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  // Every change is JSON, with a body or without: the server refuses bodiless cross-site posts.
  if (opts.method && opts.method !== 'GET') headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path + queryString(opts.query), {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? (opts.method && opts.method !== 'GET' ? '{}' : undefined) : JSON.stringify(opts.body),
    });
  } catch (err) {
    throw new ApiError(0, 'network', `cannot reach the server: ${(err as Error).message}`);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401) {
      auth.refused = !!auth.token;
      auth.needed = true;
    }
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}
