/** Files per second over the last minute, for worker heartbeats and /metrics. */
export class RateMeter {
  total = 0;
  readonly #marks: [number, number][] = [];

  add(n: number): void {
    this.total += n;
    const now = Date.now();
    this.#marks.push([now, this.total]);
    while (this.#marks.length > 2 && now - this.#marks[0]![0] > 60_000) this.#marks.shift();
  }

  rate(): number {
    const first = this.#marks[0];
    const last = this.#marks[this.#marks.length - 1];
    if (!first || !last || Date.now() - last[0] > 60_000) return 0;
    const span = (last[0] - first[0]) / 1000;
    return span > 0 ? Math.round(((last[1] - first[1]) / span) * 10) / 10 : 0;
  }
}
