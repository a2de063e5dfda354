/**
 * Per-file numbers of one shard in SharedArrayBuffer-backed arrays: a worker thread writes the
 * slot of the file it processed, the shard runner reads it, and nothing is copied between threads.
 * One buffer holds every array (struct of arrays, 8-byte aligned).
 */
export const TIMING_STAGES = ['read_hash', 'decode', 'fingerprint', 'thumbnail'] as const;
export type TimingStage = (typeof TIMING_STAGES)[number];

export const FLAG_HASHED = 1;
export const FLAG_DECODED = 2;
export const FLAG_THUMBNAIL = 4;

const SHA_BYTES = 32;
const HASHES = 3; // dhash, phash, phash_sign
const INTS = 4; // width, height, orientation, flags
const FLOATS = 1 + TIMING_STAGES.length; // sharpness, then the timings in ms

export class SharedResults {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly sha256: Uint8Array;
  readonly hashes: BigUint64Array;
  readonly ints: Int32Array;
  readonly floats: Float64Array;

  static bytesFor(capacity: number): number {
    return capacity * (HASHES * 8 + FLOATS * 8 + INTS * 4 + SHA_BYTES);
  }

  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    if (typeof capacityOrBuffer === 'number') {
      this.capacity = capacityOrBuffer;
      this.buffer = new SharedArrayBuffer(SharedResults.bytesFor(capacityOrBuffer));
    } else {
      this.buffer = capacityOrBuffer;
      this.capacity = capacityOrBuffer.byteLength / SharedResults.bytesFor(1);
    }
    const n = this.capacity;
    let offset = 0;
    this.hashes = new BigUint64Array(this.buffer, offset, n * HASHES);
    offset += n * HASHES * 8;
    this.floats = new Float64Array(this.buffer, offset, n * FLOATS);
    offset += n * FLOATS * 8;
    this.ints = new Int32Array(this.buffer, offset, n * INTS);
    offset += n * INTS * 4;
    this.sha256 = new Uint8Array(this.buffer, offset, n * SHA_BYTES);
  }

  setSha256(slot: number, digest: Uint8Array): void {
    this.sha256.set(digest, slot * SHA_BYTES);
    this.ints[slot * INTS + 3]! |= FLAG_HASHED;
  }
  sha256Of(slot: number): Buffer | null {
    if (!(this.flags(slot) & FLAG_HASHED)) return null;
    return Buffer.from(this.sha256.slice(slot * SHA_BYTES, (slot + 1) * SHA_BYTES));
  }

  setPixels(slot: number, p: { width: number; height: number; orientation: number; dhash: bigint; phash: bigint; phashSign: bigint; sharpness: number }): void {
    this.ints[slot * INTS] = p.width;
    this.ints[slot * INTS + 1] = p.height;
    this.ints[slot * INTS + 2] = p.orientation;
    this.hashes[slot * HASHES] = p.dhash;
    this.hashes[slot * HASHES + 1] = p.phash;
    this.hashes[slot * HASHES + 2] = p.phashSign;
    this.floats[slot * FLOATS] = p.sharpness;
    this.ints[slot * INTS + 3]! |= FLAG_DECODED;
  }
  pixelsOf(slot: number) {
    if (!(this.flags(slot) & FLAG_DECODED)) return null;
    return {
      width: this.ints[slot * INTS]!,
      height: this.ints[slot * INTS + 1]!,
      orientation: this.ints[slot * INTS + 2]!,
      dhash: this.hashes[slot * HASHES]!,
      phash: this.hashes[slot * HASHES + 1]!,
      phashSign: this.hashes[slot * HASHES + 2]!,
      sharpness: this.floats[slot * FLOATS]!,
    };
  }

  markThumbnail(slot: number): void {
    this.ints[slot * INTS + 3]! |= FLAG_THUMBNAIL;
  }
  flags(slot: number): number {
    return this.ints[slot * INTS + 3]!;
  }

  addTiming(slot: number, stage: TimingStage, ms: number): void {
    this.floats[slot * FLOATS + 1 + TIMING_STAGES.indexOf(stage)]! += ms;
  }
  timingsOf(slot: number): Record<TimingStage, number> {
    const out = {} as Record<TimingStage, number>;
    TIMING_STAGES.forEach((stage, i) => (out[stage] = Math.round(this.floats[slot * FLOATS + 1 + i]! * 100) / 100));
    return out;
  }
}
