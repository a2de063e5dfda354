/**
 * Assets that can end up in one group, as connected components over asset ids: a candidate pair,
 * the copies of one content, frames a burst can chain, the files of one shot, the members of a
 * stored group. Every rule in groups.ts and the merge with stored groups in review.ts look no
 * further than a component, so a catalog can be grouped a batch of whole components at a time
 * with the same result as all at once. Typed arrays indexed by id: 13 bytes an id, no objects.
 */
export class Components {
  readonly #parent: Int32Array;
  readonly #size: Int32Array;
  /** Ids some link touched: the others cannot be in a group. */
  readonly #linked: Uint8Array;

  constructor(readonly maxId: number) {
    if (maxId >= 2 ** 31 - 1) throw new RangeError(`asset ids up to ${maxId} do not fit the component arrays`);
    this.#parent = new Int32Array(maxId + 1);
    for (let i = 0; i <= maxId; i++) this.#parent[i] = i;
    this.#size = new Int32Array(maxId + 1).fill(1);
    this.#linked = new Uint8Array(maxId + 1);
  }

  find(id: number): number {
    const parent = this.#parent;
    while (parent[id] !== id) {
      // Path halving: each step points a node at its grandparent.
      parent[id] = parent[parent[id]!]!;
      id = parent[id]!;
    }
    return id;
  }

  /**
   * These ids belong together (one of them alone is only marked as linked). An id above maxId (an
   * asset added since the arrays were sized, which the search did not see) is left out.
   */
  link(ids: ArrayLike<number>): void {
    let first = -1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (!(id >= 0 && id <= this.maxId)) continue;
      this.#linked[id] = 1;
      if (first === -1) first = id;
      else this.#union(first, id);
    }
  }

  /** link([a, b]) without the array: once for every candidate pair. */
  linkPair(a: number, b: number): void {
    if (!(a >= 0 && a <= this.maxId && b >= 0 && b <= this.maxId)) return this.link([a, b]);
    this.#linked[a] = 1;
    this.#linked[b] = 1;
    this.#union(a, b);
  }

  #union(a: number, b: number): void {
    let x = this.find(a);
    let y = this.find(b);
    if (x === y) return;
    if (this.#size[x]! < this.#size[y]!) [x, y] = [y, x];
    this.#parent[y] = x;
    this.#size[x]! += this.#size[y]!;
  }

  /**
   * The linked ids cut into batches of whole components, about `perBatch` ids each (a larger
   * component is a batch of its own), each batch in id order. `batchOf` answers for any linked id.
   */
  batches(perBatch: number): ComponentBatches {
    const n = this.maxId + 1;
    const batchOfRoot = new Int32Array(n).fill(-1);
    let count = 0;
    let filled = 0;
    for (let i = 0; i < n; i++) {
      if (!this.#linked[i]) continue;
      const r = this.find(i);
      if (batchOfRoot[r] !== -1) continue;
      const size = this.#size[r]!;
      if (count === 0 || filled + size > perBatch) {
        count++;
        filled = 0;
      }
      batchOfRoot[r] = count - 1;
      filled += size;
    }
    const starts = new Int32Array(count + 1);
    for (let i = 0; i < n; i++) if (this.#linked[i]) starts[batchOfRoot[this.find(i)]! + 1]!++;
    for (let b = 0; b < count; b++) starts[b + 1]! += starts[b]!;
    const ids = new Int32Array(starts[count]!);
    const next = starts.slice(0, count);
    for (let i = 0; i < n; i++) if (this.#linked[i]) ids[next[batchOfRoot[this.find(i)]!]!++] = i;
    return {
      count,
      ids: (b) => ids.subarray(starts[b]!, starts[b + 1]!),
      batchOf: (id) => (id <= this.maxId && this.#linked[id] ? batchOfRoot[this.find(id)]! : -1),
    };
  }
}

export interface ComponentBatches {
  count: number;
  /** The ids of batch b, ascending. */
  ids(b: number): Int32Array;
  /** The batch of a linked id; -1 for an id no link touched. */
  batchOf(id: number): number;
}

/** Items (by index) split by the batch `batchOf` gives each: one typed array per batch, no objects. */
export function partition(n: number, batches: number, batchOf: (k: number) => number): Int32Array[] {
  const of = new Int32Array(n);
  const counts = new Int32Array(batches);
  for (let k = 0; k < n; k++) {
    of[k] = batchOf(k);
    counts[of[k]!]!++;
  }
  const out = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(batches);
  for (let k = 0; k < n; k++) out[of[k]!]![fill[of[k]!]!++] = k;
  return out;
}
