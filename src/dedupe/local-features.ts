import { createRequire } from 'node:module';

/**
 * Geometric verification of a candidate pair by local features, for the edits a global hash or a
 * CNN cannot see through (heavy crops, small rotations, a portrait cut of a landscape): ORB
 * keypoints (OpenCV compiled to WebAssembly, @techstark/opencv-js), matched by Hamming distance
 * with Lowe's ratio test, a similarity transform (rotation, uniform scale, shift) fitted by RANSAC,
 * then a pixel check of the aligned pictures. Plain functions over grayscale pixels; no I/O.
 */

const require = createRequire(import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any -- opencv.js ships no usable types for its embind classes */
type Cv = any;
type CvMat = any;

let loading: Promise<{ cv: Cv }> | null = null;

/**
 * OpenCV's module, loaded on first use (10 MB of WebAssembly, about 0.3 s). Emscripten installs
 * process-wide handlers for uncaught errors and unhandled rejections that abort the process: they
 * are taken off again, since this process has handlers of its own. The module is a thenable that
 * resolves to itself, so it travels wrapped: a promise of it would never settle.
 */
async function openCv(): Promise<{ cv: Cv }> {
  loading ??= (async () => {
    const before = new Set([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
    const cv = require('@techstark/opencv-js');
    if (!cv.Mat) await new Promise<void>((resolve) => (cv.onRuntimeInitialized = resolve));
    for (const l of process.listeners('uncaughtException')) if (!before.has(l)) process.off('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.has(l)) process.off('unhandledRejection', l);
    return { cv };
  })();
  return loading;
}

/** ORB features and pair verification, with OpenCV loaded. */
export interface LocalFeatures {
  features(gray: Uint8Array, width: number, height: number): ImageFeatures;
  verify(a: ImageFeatures, b: ImageFeatures): Verification;
}

export async function localFeatures(): Promise<LocalFeatures> {
  const { cv } = await openCv();
  return { features: (gray, width, height) => imageFeatures(cv, gray, width, height), verify: (a, b) => verifyPair(cv, a, b) };
}

/** One picture's keypoints and descriptors, with the gray pixels the pixel check reads. */
export interface ImageFeatures {
  width: number;
  height: number;
  gray: Uint8Array;
  /** Keypoint positions, x then y. */
  points: Float32Array;
  /** n × 32 bytes of ORB descriptors (a cv.Mat, freed by dispose). */
  descriptors: CvMat;
  dispose(): void;
}

/**
 * ORB tuned for thumbnails (256 px on the long side): the default 31-pixel border without
 * keypoints would leave a portrait cut's 144 columns only 82 to search, so edge and patch are 15.
 */
const ORB_FEATURES = 600;
const ORB_EDGE = 15;
const ORB_FAST_THRESHOLD = 10;

function imageFeatures(cv: Cv, gray: Uint8Array, width: number, height: number): ImageFeatures {
  const mat = cv.matFromArray(height, width, cv.CV_8UC1, gray);
  const orb = new cv.ORB(ORB_FEATURES, 1.2, 8, ORB_EDGE, 0, 2, cv.ORB_HARRIS_SCORE, ORB_EDGE, ORB_FAST_THRESHOLD);
  const keypoints = new cv.KeyPointVector();
  const descriptors = new cv.Mat();
  const mask = new cv.Mat();
  try {
    orb.detectAndCompute(mat, mask, keypoints, descriptors);
    const points = new Float32Array(keypoints.size() * 2);
    for (let i = 0; i < keypoints.size(); i++) {
      const p = keypoints.get(i).pt;
      points[2 * i] = p.x;
      points[2 * i + 1] = p.y;
    }
    return { width, height, gray, points, descriptors, dispose: () => descriptors.delete() };
  } finally {
    mat.delete();
    orb.delete();
    keypoints.delete();
    mask.delete();
  }
}

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty: a similarity transform, from one picture's pixels to the other's. */
export type Similarity = [a: number, b: number, tx: number, ty: number];

export type Verdict = 'same' | 'different' | 'unknown';

export interface Verification {
  verdict: Verdict;
  /** Matches consistent with the transform. */
  inliers: number;
  /** Share of the textured cells of the contained picture whose pixels agree once aligned. */
  agreement: number;
  /** Share of the contained picture that lies inside the other. */
  contained: number;
  scale: number;
  rotation: number;
}

/** Fewer keypoints than this in either picture (sky, fog, a plain wall): local features cannot say. */
const MIN_KEYPOINTS = 40;
/** Matches consistent with one transform before a pair counts as the same picture. */
const MIN_INLIERS = 20;
/** Of the matches that passed the ratio test: a stereo pair's far plane fits, the rest does not. */
const MIN_INLIER_RATIO = 0.3;
/** The smaller picture must lie this far inside the larger: overlapping halves are different pictures. */
const MIN_CONTAINED = 0.85;
/**
 * Aligned cells whose pixels must correlate: a caption or logo hides about a tenth, while a second
 * shot from a step aside (parallax) or a minute later (things moved) disagrees in most cells.
 */
const MIN_AGREEMENT = 0.5;
/** Beyond these the transform is not an edit people make (and the fit is usually wrong). */
const MAX_ROTATION_DEG = 20;
const SCALE_RANGE = [0.2, 5] as const;
const RATIO_TEST = 0.8;
const RANSAC_ROUNDS = 500;
/** Pixels (thumbnail scale) within which a match agrees with a transform. */
const INLIER_PX = 3;

/** Verifies that `b` is an edited copy of `a` or `a` of `b` (a crop, a rotation, a resize, an overlay). */
function verifyPair(cv: Cv, a: ImageFeatures, b: ImageFeatures): Verification {
  const none = { inliers: 0, agreement: 0, contained: 0, scale: 0, rotation: 0 };
  if (a.points.length / 2 < MIN_KEYPOINTS || b.points.length / 2 < MIN_KEYPOINTS) return { verdict: 'unknown', ...none };
  const { from, to } = ratioMatches(cv, b, a);
  // Most unrelated pairs end here, before any fitting.
  if (from.length / 2 < MIN_INLIERS) return { verdict: 'different', ...none };
  const fit = fitSimilarity(from, to);
  if (!fit || fit.inliers < MIN_INLIERS || fit.inliers < MIN_INLIER_RATIO * (from.length / 2)) return { verdict: 'different', ...none, inliers: fit?.inliers ?? 0 };
  const m = fit.transform;
  const scale = Math.hypot(m[0], m[1]);
  const rotation = (Math.atan2(m[1], m[0]) * 180) / Math.PI;
  // Check the picture that lies inside the other, in its own pixels.
  const bInA = alignedAgreement(b, a, m);
  const aInB = alignedAgreement(a, b, invert(m));
  const inner = bInA.contained >= aInB.contained ? bInA : aInB;
  const same = inner.contained >= MIN_CONTAINED && inner.agreement >= MIN_AGREEMENT;
  return { verdict: same ? 'same' : 'different', inliers: fit.inliers, agreement: round(inner.agreement), contained: round(inner.contained), scale: round(scale), rotation: round(rotation) };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Matches of `from`'s keypoints in `to` that pass the ratio test, as point lists (x, y, x, y, …). */
function ratioMatches(cv: Cv, from: ImageFeatures, to: ImageFeatures): { from: number[]; to: number[] } {
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  const out = { from: [] as number[], to: [] as number[] };
  try {
    matcher.knnMatch(from.descriptors, to.descriptors, knn, 2);
    for (let i = 0; i < knn.size(); i++) {
      const pair = knn.get(i);
      if (pair.size() < 2) continue;
      const best = pair.get(0);
      if (best.distance < RATIO_TEST * pair.get(1).distance) {
        out.from.push(from.points[2 * best.queryIdx]!, from.points[2 * best.queryIdx + 1]!);
        out.to.push(to.points[2 * best.trainIdx]!, to.points[2 * best.trainIdx + 1]!);
      }
    }
  } finally {
    knn.delete();
    matcher.delete();
  }
  return out;
}

/**
 * RANSAC over two-point samples (a similarity has four unknowns), then a least-squares refit on
 * the inliers. Deterministic: the same pair always gets the same answer.
 */
export function fitSimilarity(from: number[], to: number[]): { transform: Similarity; inliers: number } | null {
  const n = from.length / 2;
  if (n < 2) return null;
  let seed = 0x2545f491;
  const random = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % k;
  };
  let best: Similarity | null = null;
  let bestCount = 0;
  for (let round = 0; round < RANSAC_ROUNDS; round++) {
    const i = random(n);
    const j = random(n);
    if (i === j) continue;
    const m = similarityFrom(from, to, [i, j]);
    if (!m || !plausible(m)) continue;
    const count = inliersOf(m, from, to).length;
    if (count > bestCount) [best, bestCount] = [m, count];
  }
  if (!best) return null;
  // Two refits: each takes the inliers of the last.
  for (let k = 0; k < 2; k++) {
    const refit = similarityFrom(from, to, inliersOf(best, from, to));
    if (!refit || !plausible(refit)) break;
    best = refit;
  }
  return { transform: best, inliers: inliersOf(best, from, to).length };
}

function plausible([a, b]: Similarity): boolean {
  const scale = Math.hypot(a, b);
  return scale >= SCALE_RANGE[0] && scale <= SCALE_RANGE[1] && Math.abs((Math.atan2(b, a) * 180) / Math.PI) <= MAX_ROTATION_DEG;
}

function inliersOf([a, b, tx, ty]: Similarity, from: number[], to: number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k < from.length / 2; k++) {
    const x = from[2 * k]!;
    const y = from[2 * k + 1]!;
    const ex = a * x - b * y + tx - to[2 * k]!;
    const ey = b * x + a * y + ty - to[2 * k + 1]!;
    if (ex * ex + ey * ey <= INLIER_PX * INLIER_PX) out.push(k);
  }
  return out;
}

/** The least-squares similarity over the given matches (two determine it exactly). */
function similarityFrom(from: number[], to: number[], idx: number[]): Similarity | null {
  if (idx.length < 2) return null;
  let mx = 0, my = 0, mu = 0, mv = 0;
  for (const k of idx) {
    mx += from[2 * k]!;
    my += from[2 * k + 1]!;
    mu += to[2 * k]!;
    mv += to[2 * k + 1]!;
  }
  mx /= idx.length;
  my /= idx.length;
  mu /= idx.length;
  mv /= idx.length;
  let sxx = 0, sa = 0, sb = 0;
  for (const k of idx) {
    const x = from[2 * k]! - mx;
    const y = from[2 * k + 1]! - my;
    const u = to[2 * k]! - mu;
    const v = to[2 * k + 1]! - mv;
    sxx += x * x + y * y;
    sa += x * u + y * v;
    sb += x * v - y * u;
  }
  if (sxx < 25) return null; // points (nearly) on top of each other: no scale or angle
  const a = sa / sxx;
  const b = sb / sxx;
  return [a, b, mu - (a * mx - b * my), mv - (b * mx + a * my)];
}

function invert([a, b, tx, ty]: Similarity): Similarity {
  const d = a * a + b * b;
  const ia = a / d;
  const ib = -b / d;
  return [ia, ib, -(ia * tx - ib * ty), -(ib * tx + ia * ty)];
}

/** Cells of a grid over the checked picture. */
const GRID = 8;
/** A cell whose own pixels vary less than this (variance, of 255²) is flat and says nothing. */
const FLAT_VARIANCE = 25;
const CELL_CORRELATION = 0.8;

/**
 * Samples `other` at `inner`'s pixels mapped through `m` (bilinear) and correlates them cell by
 * cell: the share of `inner` that lands inside `other`, and of its textured cells that agree.
 */
export function alignedAgreement(inner: ImageFeatures, other: ImageFeatures, [a, b, tx, ty]: Similarity): { contained: number; agreement: number } {
  const { width: w, height: h, gray } = inner;
  const ow = other.width;
  const og = other.gray;
  let inside = 0;
  let cells = 0;
  let agreeing = 0;
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      let n = 0, out = 0, si = 0, so = 0, sii = 0, soo = 0, sio = 0;
      const y1 = Math.floor(((gy + 1) * h) / GRID);
      const x1 = Math.floor(((gx + 1) * w) / GRID);
      for (let y = Math.floor((gy * h) / GRID); y < y1; y++) {
        for (let x = Math.floor((gx * w) / GRID); x < x1; x++) {
          const u = a * x - b * y + tx;
          const v = b * x + a * y + ty;
          if (u < 0 || v < 0 || u >= ow - 1 || v >= other.height - 1) {
            out++;
            continue;
          }
          const u0 = Math.floor(u);
          const v0 = Math.floor(v);
          const fu = u - u0;
          const fv = v - v0;
          const k = v0 * ow + u0;
          const o = (og[k]! * (1 - fu) + og[k + 1]! * fu) * (1 - fv) + (og[k + ow]! * (1 - fu) + og[k + ow + 1]! * fu) * fv;
          const p = gray[y * w + x]!;
          n++;
          si += p;
          so += o;
          sii += p * p;
          soo += o * o;
          sio += p * o;
        }
      }
      inside += n;
      // A cell mostly outside the other picture is left to `contained`.
      if (n < 16 || out > n) continue;
      const vi = sii / n - (si / n) ** 2;
      const vo = soo / n - (so / n) ** 2;
      if (vi < FLAT_VARIANCE) continue;
      cells++;
      if ((sio / n - (si / n) * (so / n)) / Math.sqrt(vi * Math.max(vo, 1e-6)) >= CELL_CORRELATION) agreeing++;
    }
  }
  return { contained: inside / (w * h), agreement: cells ? agreeing / cells : 0 };
}
