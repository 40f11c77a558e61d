/**
 * The contract between leader election and a cloud provider's floating (reserved) IP.
 * Implementations: `DigitalOceanAssigner` (`leader-ip/digitalocean`), `MockFloatingIpAssigner` (`leader-ip/testing`),
 * or your own — see `docs/assigners.md`.
 * @module
 */

import { AssignerError } from '../errors.ts';
import { checkInt } from '../util/validate.ts';

/** The provider's identifier of a machine that can hold the IP (a DigitalOcean droplet ID is a number). */
export type HolderId = string | number;

/** Options of {@link FloatingIpAssigner.assign}. */
export interface AssignOptions {
  /** Cancels the call: it stops promptly, sends no further request and rejects with an `AbortError`. */
  signal?: AbortSignal | undefined;
  /**
   * Fencing token of the leadership on whose behalf the call is made (the election `term`). Implementations
   * should refuse a call whose term is lower than one they have already been given, with a {@link StaleTermError}:
   * such a call can only come from a leadership that has since ended.
   */
  term?: number | undefined;
  /**
   * Checked right before each request the call sends. When it returns false the call stops as if `signal` had
   * fired: it sends nothing more and rejects with an `AbortError`. `bindFloatingIp` passes `() => node.isLeader`,
   * which compares the lease with the clock at that very moment, so a process resumed after a pause longer than its
   * lease sends no request for the leadership it lost, even before its `lostLeadership` event has run.
   */
  stillLeader?: (() => boolean) | undefined;
}

/** Options of {@link FloatingIpAssigner.holder} and {@link FloatingIpAssigner.self}. */
export interface HolderOptions {
  /** Aborts the read: the promise rejects with an `AbortError`. */
  signal?: AbortSignal | undefined;
}

/**
 * Moves one floating IP to this machine and reports where it is.
 *
 * `holder()` and `self()` speak the same ID space, so `sameHolder(await a.holder(), await a.self())` tells whether
 * this machine holds the IP; `bindFloatingIp` relies on that to notice an IP moved away behind its back.
 */
export interface FloatingIpAssigner {
  /**
   * Makes this machine the holder of the IP. Resolves only once the provider confirms it; rejects with an
   * `AssignerError` (check `retryable`), an `AbortError` when `signal` fires, or a {@link StaleTermError}.
   * Calling it when the IP is already here is cheap and harmless.
   */
  assign(options?: AssignOptions): Promise<void>;
  /** Who holds the IP now, or `null` when it is unassigned. */
  holder(options?: HolderOptions): Promise<HolderId | null>;
  /** This machine's ID, as `holder()` would report it. May be discovered lazily (e.g. from a metadata service). */
  self(options?: HolderOptions): Promise<HolderId>;
}

/** Whether two holder IDs name the same machine. IDs are compared as strings, so `42` and `'42'` match. */
export function sameHolder(a: HolderId | null, b: HolderId | null): boolean {
  return a !== null && b !== null && String(a) === String(b);
}

/** An `assign` call carried a term lower than one the assigner had already been given: a deposed leader's call. */
export class StaleTermError extends AssignerError {
  /** The term of the refused call. */
  readonly term: number;
  /** The highest term the assigner had seen when it refused the call. */
  readonly highestTerm: number;
  constructor(term: number, highestTerm: number) {
    super('ERR_STALE_TERM', `assign for term ${term} refused: term ${highestTerm} has already been issued`, {
      retryable: false,
    });
    this.term = term;
    this.highestTerm = highestTerm;
  }
}

/**
 * Per-assigner fencing state: remembers the highest term seen. An implementation calls {@link TermFence.admit}
 * when a call starts and {@link TermFence.check} before every side effect, so a call superseded by a newer term
 * stops before its next request instead of racing the newer one.
 */
export class TermFence {
  #highest = Number.NEGATIVE_INFINITY;

  /** The highest term admitted so far (`-Infinity` before any). */
  get highest(): number {
    return this.#highest;
  }

  /**
   * Records `term` (when given) and throws a {@link StaleTermError} if it is lower than one already admitted,
   * or a `ConfigError` if it is not a non-negative integer.
   */
  admit(term: number | undefined): void {
    if (term === undefined) return;
    checkInt(term, 'term', 0);
    this.check(term);
    this.#highest = term;
  }

  /** Throws a {@link StaleTermError} if a newer term than `term` has been admitted since. */
  check(term: number | undefined): void {
    if (term !== undefined && term < this.#highest) throw new StaleTermError(term, this.#highest);
  }
}
