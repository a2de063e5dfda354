/** The page's routes, matched against location.pathname; links are plain <a href> caught here. */

export type Route =
  | { name: 'catalogs' }
  | { name: 'browse'; catalogId: string }
  | { name: 'duplicates'; catalogId: string }
  | { name: 'organize'; catalogId: string }
  | { name: 'jobs' }
  | { name: 'not_found'; path: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // A catalog's pages take its id: anything else is no page at all.
  if (parts[0] === 'catalogs' && parts[1] !== undefined && !UUID.test(parts[1])) return { name: 'not_found', path: pathname };
  if (parts.length === 0) return { name: 'catalogs' };
  if (parts[0] === 'jobs' && parts.length === 1) return { name: 'jobs' };
  if (parts[0] === 'catalogs' && parts.length === 2) return { name: 'browse', catalogId: parts[1]! };
  if (parts[0] === 'catalogs' && parts.length === 3 && parts[2] === 'duplicates') return { name: 'duplicates', catalogId: parts[1]! };
  if (parts[0] === 'catalogs' && parts.length === 3 && parts[2] === 'organize') return { name: 'organize', catalogId: parts[1]! };
  return { name: 'not_found', path: pathname };
}

export const router = $state({ route: parseRoute(location.pathname), search: location.search });

export function navigate(href: string, replace = false): void {
  const url = new URL(href, location.href);
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  router.route = parseRoute(url.pathname);
  router.search = url.search;
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => {
  router.route = parseRoute(location.pathname);
  router.search = location.search;
});

// Same-origin links move within the page instead of reloading it.
addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
