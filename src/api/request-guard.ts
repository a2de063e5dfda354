import os from 'node:os';
import { HttpError } from './http.js';

/** Where requests may come from: the Host they name (DNS rebinding) and the page that sent them (cross-site). */
export interface GuardOptions {
  /** The address the server is bound to. */
  bindHost: string;
  /** Host names beyond the bound address's own (`serve --allowed-host`, LUMINA_ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** Origins allowed by CORS; '*' for any. */
  corsOrigins: string[];
  /**
   * Check the Host header. Needed where requests carry no token (loopback without --require-auth):
   * there a page on another site, its name rebound to 127.0.0.1, would otherwise be served.
   */
  checkHost: boolean;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** The host part of a Host header or URL authority, lower case, without port or IPv6 brackets. */
function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  const colon = a.lastIndexOf(':');
  return colon > 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}

export class RequestGuard {
  readonly #hosts: Set<string>;

  constructor(private readonly options: GuardOptions) {
    const names = new Set([options.bindHost.toLowerCase(), ...options.allowedHosts.map((h) => h.toLowerCase())]);
    const bind = options.bindHost;
    if (bind === 'localhost' || bind === '::1' || /^127\./.test(bind)) for (const n of ['localhost', '127.0.0.1', '::1']) names.add(n);
    if (WILDCARD.has(bind)) {
      // Every address of this host, and its own name.
      names.add(os.hostname().toLowerCase());
      for (const n of ['localhost', '127.0.0.1', '::1']) names.add(n);
      for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(i.address.toLowerCase());
    }
    this.#hosts = names;
  }

  /** Refuses a request whose Host names neither this server's address nor an allowed name. */
  checkHost(host: string): void {
    if (!this.options.checkHost || !host) return;
    if (!this.#hosts.has(hostName(host))) {
      throw new HttpError(403, 'host_not_allowed', `Host "${host}" is not this server's address; serve --allowed-host NAME allows another name`);
    }
  }

  /**
   * For state-changing requests and WebSocket upgrades from a browser: the sending page must be
   * this server's own (same origin) or an allowed CORS origin. Programs send no Origin.
   */
  checkOrigin(origin: string, host: string): void {
    if (!origin) return;
    const allowed = this.options.corsOrigins;
    if (allowed.includes('*') || allowed.includes(origin)) return;
    let sameOrigin = false;
    try {
      sameOrigin = new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
    } catch {
      /* "null" and other non-URLs are no origin of ours */
    }
    if (!sameOrigin) throw new HttpError(403, 'origin_not_allowed', `requests from ${origin} are not allowed (serve --cors-origin allows an origin)`);
  }
}
