/** How numbers, sizes, dates and durations read on every page. */

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en');
}

export function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  // Capture times are local wall-clock times stored without a zone: shown as written.
  return iso.replace('T', ' ').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)?$/, '');
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function resolution(w: number | null | undefined, h: number | null | undefined): string {
  return w && h ? `${w}×${h}` : '—';
}

export function camera(make: string | null | undefined, model: string | null | undefined): string {
  if (!make && !model) return '—';
  if (make && model && model.toLowerCase().startsWith(make.toLowerCase())) return model;
  return [make, model].filter(Boolean).join(' ');
}

export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
