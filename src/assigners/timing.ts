import { AbortError } from '../errors.ts';

/** The error an aborted operation rejects with: the signal's reason when it already is an AbortError. */
export function abortErrorOf(signal: AbortSignal): AbortError {
  const reason: unknown = signal.reason;
  return reason instanceof AbortError ? reason : new AbortError('operation aborted', { cause: reason });
}

/** Throws an {@link AbortError} if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorOf(signal);
}

/** Resolves after `ms`, or rejects with an {@link AbortError} as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortErrorOf(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortErrorOf(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Capped exponential backoff with "equal jitter": half the step is fixed, half random. The fixed half keeps a
 * floor under retries; the random half keeps several nodes that failed together from retrying in lockstep.
 * `attempt` counts from 1.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random) {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return step / 2 + random() * (step / 2);
}

/** A point on the monotonic clock after which an operation gives up. */
export class Deadline {
  readonly timeoutMs: number;
  readonly #at: number;
  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#at = performance.now() + timeoutMs;
  }
  /** Milliseconds left (never negative). */
  remaining(): number {
    return Math.max(0, this.#at - performance.now());
  }
}
