/**
 * Capped exponential backoff with "equal jitter": each delay is uniform in [d/2, d] where d doubles from the
 * minimum up to the cap, so redials from many nodes spread out but never wait less than half the nominal delay.
 * @module
 */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(minMs: number, maxMs: number, random: () => number = Math.random) {
    this.#minMs = minMs;
    this.#maxMs = Math.max(minMs, maxMs);
    this.#random = random;
  }

  /** The next delay; each call doubles the nominal delay until the cap. */
  next(): number {
    const nominal = Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return this.#jitter(nominal);
  }

  /** A delay at the cap, for failures retrying soon cannot fix (a peer refusing this node's configuration). */
  capped(): number {
    this.#attempt = Math.max(this.#attempt, 31);
    return this.#jitter(this.#maxMs);
  }

  reset(): void {
    this.#attempt = 0;
  }

  #jitter(nominal: number): number {
    return Math.round(nominal / 2 + (this.#random() * nominal) / 2);
  }
}
