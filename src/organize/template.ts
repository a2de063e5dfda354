import path from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * The folder and file name template of a library: literal text and `{token}` or
 * `{token|"fallback"}`, segments separated by `/`. Plain functions, no I/O.
 */

const DATE_TOKENS = ['year', 'month', 'day', 'hour', 'minute', 'second'] as const;
export const TEMPLATE_TOKENS = [...DATE_TOKENS, 'filename', 'name', 'ext', 'make', 'model', 'sha8'] as const;
type Token = (typeof TEMPLATE_TOKENS)[number];

type Part = { text: string } | { token: Token; fallback: string | null };
export interface Template {
  source: string;
  segments: Part[][];
  /** Whether any date token is used (undated files never reach such a template). */
  dated: boolean;
}

/** What a template is rendered from: one file of the catalog. */
export interface TemplateInput {
  /** The capture's own wall-clock time as recorded, `YYYY-MM-DDTHH:MM:SS[.fff]`; null when undated. */
  local: string | null;
  path: string;
  make: string | null;
  model: string | null;
  sha256Hex: string | null;
}

const ILLEGAL = /[\u0000-\u001f\u007f/\\]/;
/** NAME_MAX of the file systems we write to. */
export const MAX_SEGMENT_BYTES = 255;

/** Parses and checks a template: refused when it could escape DEST or make an empty segment. */
export function parseTemplate(source: string): Template {
  const refuse = (why: string) => new UserError(`template "${source}": ${why}`, 'invalid', 'invalid_template');
  if (!source.trim()) throw refuse('it is empty');
  if (source.startsWith('/') || source.startsWith('\\')) throw refuse('it must be relative to DEST (no leading /)');
  if (/[\u0000-\u001f\u007f\\]/.test(source)) throw refuse('control characters and backslashes are not allowed');
  const segments = source.split('/').map((seg, i, all) => {
    if (!seg) throw refuse(i === all.length - 1 ? 'it ends with /: the last segment is the file name' : 'it has an empty segment (//)');
    if (seg === '.' || seg === '..') throw refuse(`the segment "${seg}" could escape DEST`);
    return parseSegment(seg, refuse);
  });
  const last = segments.at(-1)!;
  if (!last.some((p) => 'token' in p && (p.token === 'filename' || p.token === 'name' || p.token === 'sha8'))) {
    throw refuse('the last segment must name the file: use {filename}, or {name} and {ext}, or {sha8}');
  }
  return { source, segments, dated: segments.some((s) => s.some((p) => 'token' in p && (DATE_TOKENS as readonly string[]).includes(p.token))) };
}

function parseSegment(seg: string, refuse: (why: string) => Error): Part[] {
  const parts: Part[] = [];
  const re = /\{([a-z0-9]+)(?:\|"([^"{}]*)")?\}|([^{}]+)|([{}])/g;
  for (const m of seg.matchAll(re)) {
    if (m[4]) throw refuse(`unbalanced "${m[4]}" in "${seg}"`);
    if (m[3] !== undefined) {
      parts.push({ text: m[3] });
      continue;
    }
    const token = m[1] as Token;
    if (!(TEMPLATE_TOKENS as readonly string[]).includes(token)) throw refuse(`unknown token {${m[1]}} (known: ${TEMPLATE_TOKENS.map((t) => `{${t}}`).join(' ')})`);
    const fallback = m[2] ?? null;
    if (fallback !== null && (!fallback.trim() || fallback === '.' || fallback === '..' || ILLEGAL.test(fallback))) {
      throw refuse(`the fallback of {${token}} must be a plain, non-empty name`);
    }
    parts.push({ token, fallback });
  }
  return parts;
}

/** A value as it may appear in a path: no separators or control characters, no leading/trailing spaces or dots. */
function clean(value: string): string {
  return value.replace(new RegExp(ILLEGAL, 'g'), '_').trim().replace(/^\.+|\.+$/g, '');
}

function tokenValue(token: Token, input: TemplateInput): string | null {
  const base = path.basename(input.path);
  const ext = path.extname(base);
  switch (token) {
    case 'filename':
      return base;
    case 'name':
      return ext ? base.slice(0, -ext.length) : base;
    case 'ext':
      return ext.slice(1).toLowerCase() || null;
    case 'make':
      return input.make;
    case 'model':
      return input.model;
    case 'sha8':
      return input.sha256Hex?.slice(0, 8) ?? null;
    default: {
      // The capture's wall-clock time as the camera recorded it: never converted to this machine's zone.
      const m = input.local ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(input.local) : null;
      if (!m) return null;
      return m[1 + DATE_TOKENS.indexOf(token)]!;
    }
  }
}

/** The relative path a file gets, as segments; throws (refusing the plan) on an empty or too long segment. */
export function renderTemplate(t: Template, input: TemplateInput): string[] {
  return t.segments.map((parts) => {
    let out = '';
    for (const p of parts) {
      if ('text' in p) {
        out += p.text;
        continue;
      }
      const v = tokenValue(p.token, input);
      const value = v === null ? null : p.token === 'filename' ? v : clean(v);
      if (value) out += value;
      else if (p.fallback !== null) out += p.fallback;
      else {
        throw new UserError(
          `template "${t.source}": {${p.token}} is empty for ${input.path}; give it a fallback, e.g. {${p.token}|"Unknown"}`,
          'invalid',
          'invalid_template',
        );
      }
    }
    const seg = out.trim();
    if (!seg || seg === '.' || seg === '..') throw new UserError(`template "${t.source}" renders an empty or illegal segment for ${input.path}`, 'invalid', 'invalid_template');
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw new UserError(`template "${t.source}" renders a name longer than ${MAX_SEGMENT_BYTES} bytes for ${input.path}`, 'invalid', 'path_too_long');
    return seg;
  });
}
