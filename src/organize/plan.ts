import path from 'node:path';
import { isRawExt } from '../pipeline/file-types.js';
import type { ActionKind, PlanOptions } from '../model/organize.js';
import { renderTemplate, type Template } from './template.js';

/**
 * Where each file of a catalog goes: plain functions, no I/O, and deterministic (the same plan
 * whatever order the catalog lists its files in). The caller gives the existing names of each
 * target folder and the sidecars found beside the files.
 */

export interface PlanAsset {
  id: number;
  path: string;
  size: number;
  mtime: Date;
  sha256: Buffer | null;
  fileType: 'image' | 'raw' | 'video';
  /** The capture's wall-clock time as recorded (`taken_at_local`), null when unknown. */
  local: string | null;
  confidence: number | null;
  make: string | null;
  model: string | null;
  /** Apple's ContentIdentifier: a Live Photo's still and video carry the same one. */
  contentId: string | null;
}

export interface PlanGroup {
  kind: 'exact' | 'near' | 'burst' | 'format_pair';
  keeperId: number | null;
  reviewStatus: 'open' | 'resolved' | 'dismissed';
  members: { assetId: number; decision: string | null }[];
}

/** A file beside a picture that belongs to it (XMP, AAE, THM, a Takeout JSON): not cataloged, hashed when planned. */
export interface Sidecar {
  path: string;
  size: number;
  mtime: Date;
  sha256: Buffer;
}

export type Role = 'primary' | 'pair' | 'live' | 'sidecar';

interface Member {
  role: Role;
  asset: PlanAsset | null;
  sidecar: Sidecar | null;
  path: string;
}

/** Files that travel together: one name (stem and suffix) for all, one fate. */
export interface Unit {
  primary: PlanAsset;
  members: Member[];
}

export interface PlannedAction {
  seq: number;
  assetId: number | null;
  kind: ActionKind;
  unit: number;
  role: Role;
  source: string;
  /** Absolute; null for skip. */
  target: string | null;
  size: number;
  mtime: Date;
  sha256: Buffer | null;
  /** Why a skip is a skip, or what a placement needed (a renamed target). */
  note: string | null;
}

export const SIDECAR_EXTS = ['xmp', 'aae', 'thm', 'json'];
export const DUPLICATES_DIR = '_duplicates';
export const UNDATED_DIR = 'undated';

/** How names are compared: case-folded and NFC, so neither a case-only nor an NFD/NFC difference makes a second file. */
export const foldName = (name: string) => name.normalize('NFC').toLowerCase();

const stemOf = (file: string) => {
  const base = path.basename(file);
  const ext = path.extname(base);
  return ext ? base.slice(0, -ext.length) : base;
};

/**
 * The copies duplicate detection would not keep: non-keepers of exact groups (unless the user
 * chose to keep them), and members marked remove in resolved near groups. Open and dismissed near
 * groups keep everyone; bursts and format pairs are never duplicates.
 */
export function duplicateLosers(groups: PlanGroup[]): Set<number> {
  const losers = new Set<number>();
  for (const g of groups) {
    if (g.kind === 'exact') {
      for (const m of g.members) if (m.assetId !== g.keeperId && m.decision !== 'keep') losers.add(m.assetId);
    } else if (g.kind === 'near' && g.reviewStatus === 'resolved') {
      for (const m of g.members) if (m.decision === 'remove') losers.add(m.assetId);
    }
  }
  return losers;
}

/**
 * Units: a RAW and the developed picture of the same shot (same folder and name), a Live Photo's
 * still and video (same folder and name, or the same ContentIdentifier), and the sidecars of
 * each. Everything else is a unit of its own.
 */
export function formUnits(assets: PlanAsset[], sidecarsByDir: Map<string, Sidecar[]>): Unit[] {
  const byShot = new Map<string, PlanAsset[]>();
  for (const a of [...assets].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) {
    const key = `${path.dirname(a.path)}/${foldName(stemOf(a.path))}`;
    let list = byShot.get(key);
    if (!list) byShot.set(key, (list = []));
    list.push(a);
  }
  const unitOf = new Map<number, PlanAsset[]>();
  const together = (list: PlanAsset[]) => {
    const merged = [...new Set(list.flatMap((a) => unitOf.get(a.id) ?? [a]))];
    for (const a of merged) unitOf.set(a.id, merged);
  };
  for (const list of byShot.values()) {
    if (list.length < 2) continue;
    const raws = list.filter((a) => a.fileType === 'raw');
    const stills = list.filter((a) => a.fileType === 'image');
    const videos = list.filter((a) => a.fileType === 'video');
    // One shot in two formats, or a still with its motion: together. Two stills of one name that are not a RAW pair stay apart.
    if ((raws.length && stills.length) || ((raws.length || stills.length) && videos.length)) together(list);
  }
  const byContentId = new Map<string, PlanAsset[]>();
  for (const a of assets) {
    if (!a.contentId) continue;
    let list = byContentId.get(a.contentId);
    if (!list) byContentId.set(a.contentId, (list = []));
    list.push(a);
  }
  for (const list of byContentId.values()) if (list.length > 1 && list.some((a) => a.fileType === 'video') && list.some((a) => a.fileType !== 'video')) together(list);

  const seen = new Set<number>();
  const units: Unit[] = [];
  const claimed = new Set<string>();
  for (const a of [...assets].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) {
    if (seen.has(a.id)) continue;
    const group = unitOf.get(a.id) ?? [a];
    for (const g of group) seen.add(g.id);
    // The primary names the unit and dates it: a still before its video, the better-dated, the RAW, then by path.
    const sorted = [...group].sort(
      (x, y) =>
        Number(x.fileType === 'video') - Number(y.fileType === 'video') ||
        (y.confidence ?? 0) - (x.confidence ?? 0) ||
        Number(y.fileType === 'raw') - Number(x.fileType === 'raw') ||
        (x.path < y.path ? -1 : x.path > y.path ? 1 : 0),
    );
    const primary = sorted[0]!;
    const members: Member[] = sorted.map((m, i) => ({
      role: i === 0 ? 'primary' : m.fileType === 'video' ? 'live' : 'pair',
      asset: m,
      sidecar: null,
      path: m.path,
    }));
    for (const m of sorted) {
      const base = foldName(path.basename(m.path));
      const stem = foldName(stemOf(m.path));
      for (const s of sidecarsByDir.get(path.dirname(m.path)) ?? []) {
        const name = foldName(path.basename(s.path));
        if (claimed.has(s.path)) continue;
        const ext = path.extname(name).slice(1);
        if (!SIDECAR_EXTS.includes(ext)) continue;
        const owner = name.slice(0, -(ext.length + 1));
        if (owner === base || owner === stem) {
          claimed.add(s.path);
          members.push({ role: 'sidecar', asset: null, sidecar: s, path: s.path });
        }
      }
    }
    units.push({ primary, members });
  }
  return units;
}

/** The part of a member's name after the unit's stem: `.CR2`, `.JPG.xmp`; a member named otherwise keeps its extension. */
function suffixOf(member: string, primaryStem: string): string {
  const base = path.basename(member);
  return foldName(base).startsWith(foldName(primaryStem)) ? base.slice(primaryStem.length) : path.extname(base);
}

/** The root a path lies under (the longest that contains it). */
function rootOf(file: string, roots: string[]): string | null {
  let best: string | null = null;
  for (const r of roots) {
    const prefix = r.endsWith('/') ? r : r + '/';
    if (file.startsWith(prefix) && (!best || r.length > best.length)) best = r;
  }
  return best;
}

export interface PlanInput {
  units: Unit[];
  options: PlanOptions;
  template: Template;
  roots: string[];
  losers: Set<number>;
  /** The names (folded) already in a folder of DEST, given relative to DEST; empty when it does not exist. */
  existing(dirRel: string): Set<string>;
}

interface Placement {
  unit: Unit;
  kind: ActionKind;
  dirRel: string;
  stem: string;
  /** Per member, in member order. */
  suffixes: string[];
  undated: boolean;
  why: string | null;
}

/** The plan's actions, in a deterministic order, with collisions already resolved. */
export function planActions(input: PlanInput): { actions: PlannedAction[]; conflicts: number; undated: number } {
  const { options } = input;
  const placements: Placement[] = input.units.map((unit) => placementOf(unit, input));
  const order = (p: Placement) => [p.kind === 'skip' ? 1 : 0, foldName(p.dirRel), foldName(p.stem), p.unit.primary.local ?? '', p.unit.primary.path] as const;
  placements.sort((x, y) => {
    const a = order(x);
    const b = order(y);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return 0;
  });

  const taken = new Map<string, Set<string>>();
  const actions: PlannedAction[] = [];
  let conflicts = 0;
  let undated = 0;
  for (const p of placements) {
    const unitSeq = actions.length;
    let n = 0;
    if (p.kind !== 'skip') {
      const dirKey = foldName(p.dirRel);
      let used = taken.get(dirKey);
      if (!used) taken.set(dirKey, (used = new Set(input.existing(p.dirRel))));
      const nameAt = (k: number, i: number) => `${p.stem}${k ? `_${k}` : ''}${p.suffixes[i]}`;
      while (p.unit.members.some((_m, i) => used!.has(foldName(nameAt(n, i))))) n++;
      for (let i = 0; i < p.unit.members.length; i++) used.add(foldName(nameAt(n, i)));
      if (n) conflicts++;
      if (p.undated) undated += p.unit.members.length;
    }
    p.unit.members.forEach((m, i) => {
      const source = m.asset ?? m.sidecar!;
      const name = `${p.stem}${n ? `_${n}` : ''}${p.suffixes[i]}`;
      actions.push({
        seq: actions.length,
        assetId: m.asset?.id ?? null,
        kind: p.kind,
        unit: unitSeq,
        role: m.role,
        source: m.path,
        target: p.kind === 'skip' ? null : path.join(options.dest, p.dirRel, name),
        size: source.size,
        mtime: source.mtime,
        sha256: source.sha256,
        note: p.why ?? (n ? `renamed with _${n}: the name is taken` : null),
      });
    });
  }
  return { actions, conflicts, undated };
}

function placementOf(unit: Unit, input: PlanInput): Placement {
  const { options, template, losers, roots } = input;
  const primary = unit.primary;
  const primaryStem = stemOf(primary.path);
  // Media members take the unit's stem with their own extension; a sidecar keeps what follows the stem (`.JPG.xmp`).
  const suffixes = unit.members.map((m, i) => (i === 0 || m.asset ? path.extname(m.path) : suffixOf(m.path, primaryStem)));
  const base = { unit, suffixes, undated: false, why: null as string | null };
  if (unit.members.some((m) => m.asset && !m.asset.sha256)) {
    return { ...base, kind: 'skip', dirRel: '', stem: primaryStem, why: 'no checksum in the catalog (the file could not be read): a copy could not be verified' };
  }
  if (losers.has(primary.id) && options.duplicates !== 'include') {
    if (options.duplicates === 'skip' || options.mode === 'copy') {
      return { ...base, kind: 'skip', dirRel: '', stem: primaryStem, why: 'a duplicate: another copy is kept' };
    }
    const root = rootOf(primary.path, roots);
    const rel = root ? path.relative(root, path.dirname(primary.path)) : path.dirname(primary.path).replace(/^\/+/, '');
    return { ...base, kind: 'quarantine', dirRel: path.join(DUPLICATES_DIR, rel), stem: primaryStem, why: 'a duplicate: another copy is kept' };
  }
  const dated = primary.local !== null && (primary.confidence ?? 0) >= options.minConfidence;
  const segments = dated || !input.template.dated ? renderTemplate(input.template, templateInput(primary)) : [UNDATED_DIR, path.basename(primary.path)];
  const name = segments.at(-1)!;
  const ownSuffix = path.extname(primary.path);
  // The rendered name keeps its own suffix (it may be {ext}, lower case); the members take the stem.
  const cut = ownSuffix && name.toLowerCase().endsWith(ownSuffix.toLowerCase()) ? name.length - ownSuffix.length : name.length;
  suffixes[0] = name.slice(cut);
  return { ...base, kind: 'place', dirRel: path.join(...segments.slice(0, -1)), stem: name.slice(0, cut), undated: !(dated || !input.template.dated) };
}

function templateInput(a: PlanAsset) {
  return { local: a.local, path: a.path, make: a.make, model: a.model, sha256Hex: a.sha256 ? a.sha256.toString('hex') : null };
}
