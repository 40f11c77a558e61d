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

/**
 * Rejects with an {@link AbortError} as soon as `signal` fires, else settles like `promise` — which keeps running,
 * since it may be shared (a cached metadata read, a credential refresh) by calls that were not aborted.
 */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortErrorOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The root cause of a fetch failure, reduced to its message and code. HTTP clients' errors can hold the request,
 * whose headers carry a token or a signature, so they are never attached to thrown errors as they are.
 */
export function rootCause(error: unknown): Error {
  let root: unknown = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  const sanitized = new Error(root instanceof Error ? root.message : 'unknown error');
  const code = (root as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(sanitized, { code });
  return sanitized;
}
