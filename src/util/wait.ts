/**
 * One way to wait for a condition in the test helpers (`SimulatedFloatingIp.waitForHolder`,
 * `MockFloatingIpAssigner.waitForSettled`, `ProcessCluster.waitFor`): every wait has a timeout, so a failing
 * test fails with a message instead of hanging, and an `AbortSignal`, so a test can give up early.
 * @module
 */
import { AbortError, LeaderIpError } from '../errors.ts';

/** Options of every waiter of `leader-ip/testing`. */
export interface WaitOptions {
  /**
   * Reject with a {@link WaitTimeoutError} after this many ms. Default {@link DEFAULT_WAIT_TIMEOUT_MS}.
   * `Infinity` waits without a timer (a watcher that runs for the whole test; give it a `signal`).
   */
  timeoutMs?: number | undefined;
  /** Reject with an `AbortError` when it aborts. */
  signal?: AbortSignal | undefined;
}

/** 10 s: far above anything a waiter of a test double needs (leases, fake API delays), far below a CI timeout. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

/** A waiter of `leader-ip/testing` gave up: what it waited for did not happen in time. */
export class WaitTimeoutError extends LeaderIpError {
  /** How long it waited, ms. */
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('ERR_WAIT_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Waits until `subscribe`'s callback is called with a value. `subscribe` starts listening and returns how to stop;
 * `describe` says what was awaited and what is the case now, for the timeout's message.
 */
export function waitUntil<T>(
  subscribe: (done: (value: T) => void) => () => void,
  describe: () => string,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    return Promise.reject(new RangeError(`timeoutMs: expected a number >= 0, got ${timeoutMs}`));
  }
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
    };
    const onAbort = (): void => {
      finish();
      reject(abortError(signal as AbortSignal));
    };
    const timer =
      timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => {
            finish();
            reject(new WaitTimeoutError(describe(), timeoutMs));
          }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    unsubscribe = subscribe((value) => {
      if (settled) return;
      finish();
      resolve(value);
    });
    // subscribe may have completed the wait synchronously, before `unsubscribe` was known.
    if (settled) unsubscribe();
  });
}

function abortError(signal: AbortSignal): AbortError {
  const reason: unknown = signal.reason;
  return reason instanceof AbortError ? reason : new AbortError('wait aborted', { cause: reason });
}
