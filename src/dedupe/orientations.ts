/**
 * The 8 rotations and flips of a picture, applied to its pHash without the pixels.
 *
 * pHash bit (k, l) (row-major, most significant first) says whether DCT coefficient (k, l) is
 * above the block's median. Mirroring left-right multiplies coefficient (k, l) by (-1)^l, flipping
 * upside down by (-1)^k, and transposing swaps k and l. So a transpose is a bit permutation, and a
 * flip inverts the odd columns or rows: exact where the median is 0, off by the few coefficients
 * that lie between 0 and the median otherwise. Rotations by 90° are a transpose and a flip.
 * Each is an isometry of Hamming space, which is what lets a self-join search only j > i.
 */
export const ORIENTATIONS = ['identity', 'mirror', 'flip', 'rotate180', 'transpose', 'rotate270', 'rotate90', 'transverse'] as const;
export type Orientation = (typeof ORIENTATIONS)[number];

const MIRROR = [0x55555555, 0x55555555];
const FLIP = [0x00ff00ff, 0x00ff00ff];

/** Transposes the 8×8 bit matrix held in (hi, lo), row 0 in the top byte of hi. */
function transpose(hi: number, lo: number): [number, number] {
  let outHi = 0;
  let outLo = 0;
  for (let k = 0; k < 8; k++) {
    for (let l = 0; l < 8; l++) {
      const p = k * 8 + l;
      const bit = p < 32 ? (hi >>> (31 - p)) & 1 : (lo >>> (63 - p)) & 1;
      if (!bit) continue;
      const q = l * 8 + k;
      if (q < 32) outHi |= 1 << (31 - q);
      else outLo |= 1 << (63 - q);
    }
  }
  return [outHi >>> 0, outLo >>> 0];
}

/**
 * The hash of the picture turned by orientation `o` (an index into ORIENTATIONS), as (hi, lo).
 * Order: identity, mirror, flip, both (180°), then the same four after a transpose.
 */
export function orient(hi: number, lo: number, o: number): [number, number] {
  let h = hi;
  let l = lo;
  if (o & 1) {
    h ^= MIRROR[0]!;
    l ^= MIRROR[1]!;
  }
  if (o & 2) {
    h ^= FLIP[0]!;
    l ^= FLIP[1]!;
  }
  if (o & 4) [h, l] = transpose(h, l);
  return [h >>> 0, l >>> 0];
}

export function orientBigint(hash: bigint, o: number): bigint {
  const v = BigInt.asUintN(64, hash);
  const [h, l] = orient(Number(v >> 32n), Number(v & 0xffffffffn), o);
  return (BigInt(h) << 32n) | BigInt(l);
}

/** The 7 non-identity orientations as turned queries at `radius` (none when negative). */
export function turnedQueries(radius: number): { orientation: number; radius: number; turn: (hi: number, lo: number) => [number, number] }[] {
  if (radius < 0) return [];
  return [1, 2, 3, 4, 5, 6, 7].map((o) => ({ orientation: o, radius, turn: (hi: number, lo: number) => orient(hi, lo, o) }));
}
