import type { NearPair } from './groups.js';

/**
 * Candidate pairs as columns: 18 bytes a pair, where a NearPair object with its array slot takes
 * about 80 and every copy of the list as many again. A catalog of 10^7 pictures gives some
 * 7 × 10^6 candidates, held from the first search slice until finalize has grouped them; objects
 * are made only for the pairs of the batch being grouped (`pick`).
 */
export class PairTable {
  a: Float64Array;
  b: Float64Array;
  distance: Uint8Array;
  orientation: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    const n = Math.max(1, capacity);
    this.a = new Float64Array(n);
    this.b = new Float64Array(n);
    this.distance = new Uint8Array(n);
    this.orientation = new Uint8Array(n);
  }

  static of(pairs: readonly Pick<NearPair, 'a' | 'b' | 'distance' | 'orientation'>[]): PairTable {
    const table = new PairTable(pairs.length);
    for (const p of pairs) table.push(p.a, p.b, p.distance, p.orientation);
    return table;
  }

  push(a: number, b: number, distance: number, orientation: number): void {
    if (this.length === this.a.length) this.#grow(this.length * 2);
    const k = this.length++;
    this.a[k] = a;
    this.b[k] = b;
    this.distance[k] = distance;
    this.orientation[k] = orientation;
  }

  append(other: PairTable): void {
    if (this.length + other.length > this.a.length) this.#grow(Math.max(this.length + other.length, this.a.length * 2));
    this.a.set(other.a.subarray(0, other.length), this.length);
    this.b.set(other.b.subarray(0, other.length), this.length);
    this.distance.set(other.distance.subarray(0, other.length), this.length);
    this.orientation.set(other.orientation.subarray(0, other.length), this.length);
    this.length += other.length;
  }

  /** Pair k as the object the grouping rules take. */
  at(k: number): NearPair {
    return { a: this.a[k]!, b: this.b[k]!, distance: this.distance[k]!, orientation: this.orientation[k]!, similarity: null };
  }

  pick(indices: ArrayLike<number>): NearPair[] {
    return Array.from({ length: indices.length }, (_, i) => this.at(indices[i]!));
  }

  toArray(): NearPair[] {
    return Array.from({ length: this.length }, (_, k) => this.at(k));
  }

  /**
   * Each pair once (a < b given), in (a, b) order: several search passes can find one pair. The
   * smallest distance is kept; on a tie the untouched orientation, which the CNN can still check.
   */
  unique(): PairTable {
    const { a, b, distance, orientation } = this;
    const order = new Uint32Array(this.length);
    for (let k = 0; k < order.length; k++) order[k] = k;
    order.sort((p, q) => a[p]! - a[q]! || b[p]! - b[q]! || distance[p]! - distance[q]! || Number(orientation[p] !== 0) - Number(orientation[q] !== 0));
    const out = new PairTable(this.length);
    for (const k of order) {
      const last = out.length - 1;
      if (last < 0 || out.a[last] !== a[k] || out.b[last] !== b[k]) out.push(a[k]!, b[k]!, distance[k]!, orientation[k]!);
    }
    return out;
  }

  /** The asset ids at either end of these pairs, each once. */
  endIds(): number[] {
    const ids = new Set<number>();
    for (let k = 0; k < this.length; k++) ids.add(this.a[k]!).add(this.b[k]!);
    return [...ids];
  }

  #grow(capacity: number): void {
    const grown = <T extends Float64Array | Uint8Array>(from: T, make: (n: number) => T): T => {
      const to = make(capacity);
      to.set(from.subarray(0, this.length));
      return to;
    };
    this.a = grown(this.a, (n) => new Float64Array(n));
    this.b = grown(this.b, (n) => new Float64Array(n));
    this.distance = grown(this.distance, (n) => new Uint8Array(n));
    this.orientation = grown(this.orientation, (n) => new Uint8Array(n));
  }
}
