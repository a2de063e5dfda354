/**
 * Perceptual hashes with the definitions of the Python `imagehash` library, bit for bit, given
 * the same small grayscale image: the first bit of imagehash's hex string is the most significant.
 *   dHash: 9×8 grayscale, bit = pixel right of it is brighter (row-major).
 *   pHash: 32×32 grayscale, 2-D DCT-II, the top-left 8×8 block, bit = coefficient > median.
 */

/** PIL's "L" conversion (ITU-R 601-2 luma, PIL's fixed-point rounding). */
export function lumaOf(rgb: Uint8Array | Buffer, channels: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  if (channels < 3) {
    for (let i = 0; i < pixels; i++) out[i] = rgb[i * channels]!;
    return out;
  }
  for (let i = 0, p = 0; i < pixels; i++, p += channels) {
    out[i] = (rgb[p]! * 19595 + rgb[p + 1]! * 38470 + rgb[p + 2]! * 7471 + 0x8000) >> 16;
  }
  return out;
}

/** Lanczos with a = 3, PIL's LANCZOS (formerly ANTIALIAS) filter, the one imagehash resizes with. */
function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

interface Coefficients {
  /** Per output pixel: its first input index (from the start of the run) and how many follow. */
  first: Int32Array;
  count: Int32Array;
  /** `size` weights per output pixel, normalized; those past `count` are zero. */
  size: number;
  weights: Float64Array;
}

/**
 * Per output pixel along one axis, the input pixels and their weights, as PIL's precompute_coeffs
 * makes them: the filter stretched by the shrink factor, so every input pixel counts (an
 * antialiased resize, not a point sample). Thumbnails come in a few sizes, so they are kept.
 */
function resampleCoefficients(length: number, out: number): Coefficients {
  const key = length * 4096 + out;
  const known = COEFFICIENTS.get(key);
  if (known) return known;
  const scale = length / out;
  const filterScale = Math.max(scale, 1);
  const support = 3 * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(out);
  const count = new Int32Array(out);
  const weights = new Float64Array(out * size);
  for (let o = 0; o < out; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), length);
    let total = 0;
    for (let i = lo; i < hi; i++) total += weights[o * size + i - lo] = lanczos3((i - center + 0.5) / filterScale);
    for (let i = lo; i < hi; i++) weights[o * size + i - lo]! /= total;
    first[o] = lo;
    count[o] = hi - lo;
  }
  if (COEFFICIENTS.size >= 256) COEFFICIENTS.clear();
  const made = { first, count, size, weights };
  COEFFICIENTS.set(key, made);
  return made;
}
const COEFFICIENTS = new Map<number, Coefficients>();

const clip8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/**
 * The box of a gray picture resized to outW × outH as PIL resizes an "L" image with LANCZOS:
 * rows first, then columns, rounded to 8 bits between the passes. Done here rather than by
 * libvips, whose pipeline set-up costs more than this arithmetic for a 9×8 or 32×32 output
 * (3.5 ms a file for the two, against about 1 ms).
 */
export function resampleGray(gray: Uint8Array, width: number, box: Box, outW: number, outH: number): Uint8Array {
  const h = resampleCoefficients(box.width, outW);
  const v = resampleCoefficients(box.height, outH);
  const rows = new Uint8Array(outW * box.height);
  const hw = h.weights;
  for (let y = 0; y < box.height; y++) {
    const row = (box.top + y) * width + box.left;
    for (let o = 0; o < outW; o++) {
      const x0 = row + h.first[o]!;
      const w0 = o * h.size;
      const n = h.count[o]!;
      let sum = 0;
      for (let k = 0; k < n; k++) sum += gray[x0 + k]! * hw[w0 + k]!;
      rows[y * outW + o] = clip8(sum);
    }
  }
  const out = new Uint8Array(outW * outH);
  const vw = v.weights;
  for (let o = 0; o < outH; o++) {
    const y0 = v.first[o]!;
    const w0 = o * v.size;
    const n = v.count[o]!;
    for (let x = 0; x < outW; x++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += rows[(y0 + k) * outW + x]! * vw[w0 + k]!;
      out[o * outW + x] = clip8(sum);
    }
  }
  return out;
}

/** 9 columns × 8 rows of gray → 64-bit dHash. */
export function dhashFromGray(gray9x8: Uint8Array): bigint {
  let bits = 0n;
  for (let row = 0; row < 8; row++) {
    for (let col = 0; col < 8; col++) {
      const left = gray9x8[row * 9 + col]!;
      const right = gray9x8[row * 9 + col + 1]!;
      bits = (bits << 1n) | (right > left ? 1n : 0n);
    }
  }
  return bits;
}

const N = 32;
const K = 8;
// cos(π k (2n+1) / 2N): DCT-II basis; the factor 2 of scipy's unnormalized DCT does not change a
// comparison with the median, so it is left out.
const COS = (() => {
  const table = new Float64Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) table[k * N + n] = Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N));
  return table;
})();

/** 32×32 gray → the 8×8 low-frequency DCT block (row-major). */
export function dctLowFrequencies(gray32: Uint8Array): Float64Array {
  // dct along axis 0 (down each column), keeping the first 8 rows.
  const cols = new Float64Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let i = 0; i < N; i++) sum += COS[k * N + i]! * gray32[i * N + j]!;
      cols[k * N + j] = sum;
    }
  }
  // then along axis 1 (across each row), keeping the first 8 columns.
  const out = new Float64Array(K * K);
  for (let k = 0; k < K; k++) {
    for (let l = 0; l < K; l++) {
      let sum = 0;
      for (let j = 0; j < N; j++) sum += COS[l * N + j]! * cols[k * N + j]!;
      out[k * K + l] = sum;
    }
  }
  return out;
}

export function phashFromGray(gray32: Uint8Array): bigint {
  return phashesFromGray(gray32).phash;
}

/**
 * Bump when the hashes computed from the same pixels change, so a re-scan recomputes them.
 * 2: the sign hash was added, and the small grays were read as one band (they had been three).
 * 3: hashes are taken inside the picture's plain border (trimBox), so a framed copy matches.
 * 4: the small grays are resampled as PIL does (resampleGray), no longer by libvips.
 */
export const FINGERPRINT_VERSION = 4;

/** How far (of 255) a border pixel may stray from the border's colour and still be border. */
const BORDER_TOLERANCE = 16;
/** At most this share of each side is taken as border: past it, the "border" is the picture. */
const MAX_BORDER = 0.3;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The picture inside a plain border (a frame, a mat, letterboxing): rows and columns are peeled
 * off each edge while every pixel in them is within BORDER_TOLERANCE of the corner's gray. The
 * hashes are taken inside this box, so a copy with a border added hashes like its original, and a
 * picture without one is untouched.
 */
export function trimBox(gray: Uint8Array, width: number, height: number): Box {
  const at = (x: number, y: number) => gray[y * width + x]!;
  const plainRow = (y: number, x0: number, x1: number, ref: number) => {
    for (let x = x0; x < x1; x++) if (Math.abs(at(x, y) - ref) > BORDER_TOLERANCE) return false;
    return true;
  };
  const plainCol = (x: number, y0: number, y1: number, ref: number) => {
    for (let y = y0; y < y1; y++) if (Math.abs(at(x, y) - ref) > BORDER_TOLERANCE) return false;
    return true;
  };
  const ref = at(0, 0);
  const maxX = Math.floor(width * MAX_BORDER);
  const maxY = Math.floor(height * MAX_BORDER);
  let top = 0;
  let bottom = height;
  let left = 0;
  let right = width;
  while (top < maxY && plainRow(top, 0, width, ref)) top++;
  while (height - bottom < maxY && plainRow(bottom - 1, 0, width, ref)) bottom--;
  while (left < maxX && plainCol(left, top, bottom, ref)) left++;
  while (width - right < maxX && plainCol(right - 1, top, bottom, ref)) right--;
  // A border on one side only is more likely sky or a wall than a frame: trim only framed pictures.
  const framed = (top > 0 && bottom < height) || (left > 0 && right < width);
  if (!framed) return { left: 0, top: 0, width, height };
  // The edge between border and picture is blurred by the shrink on load (and JPEG's ringing):
  // a trimmed side gives up BORDER_EDGE more pixels, so no sliver of border is hashed.
  if (top > 0) top += BORDER_EDGE;
  if (bottom < height) bottom -= BORDER_EDGE;
  if (left > 0) left += BORDER_EDGE;
  if (right < width) right -= BORDER_EDGE;
  return { left, top, width: right - left, height: bottom - top };
}

/** Pixels of the decode given up at a trimmed edge (see trimBox). */
const BORDER_EDGE = 2;

/**
 * pHash, and its sign form from the same DCT: bit = coefficient > 0 instead of > median. Mirroring
 * and flipping a picture negate whole rows and columns of coefficients, so on the sign form the
 * 8 rotations and flips are exact bit operations (src/dedupe/orientations.ts); near-duplicate
 * search uses it, and the imagehash-compatible pHash is kept for other tools.
 */
export function phashesFromGray(gray32: Uint8Array): { phash: bigint; phashSign: bigint } {
  const low = dctLowFrequencies(gray32);
  const sorted = Float64Array.from(low).sort();
  const median = (sorted[31]! + sorted[32]!) / 2; // numpy's median of 64 values
  let phash = 0n;
  let phashSign = 0n;
  for (let i = 0; i < 64; i++) {
    phash = (phash << 1n) | (low[i]! > median ? 1n : 0n);
    phashSign = (phashSign << 1n) | (low[i]! > 0 ? 1n : 0n);
  }
  return { phash, phashSign };
}

/** 16 hex digits, imagehash's string form. */
export function hashToHex(hash: bigint): string {
  return BigInt.asUintN(64, hash).toString(16).padStart(16, '0');
}

/** PostgreSQL int8 is signed: the same 64 bits, read as two's complement. */
export function hashToInt8(hash: bigint): bigint {
  return BigInt.asIntN(64, hash);
}

/** Variance of the 4-neighbour Laplacian: higher is sharper; comparable between images of one size. */
export function laplacianVariance(gray: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = 4 * gray[i]! - gray[i - 1]! - gray[i + 1]! - gray[i - width]! - gray[i + width]!;
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
