import ky, { type KyInstance } from 'ky';
import type { AssignerError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { abortErrorOf, backoffDelay, type Deadline, rootCause, sleep, throwIfAborted } from '../timing.ts';
import {
  DigitalOceanApiError,
  DigitalOceanDeadlineError,
  type DigitalOceanErrorDetails,
  DigitalOceanNetworkError,
  DigitalOceanRegionError,
} from './errors.ts';

const log = logger('digitalocean');

/** How the client retries 429, 5xx and network errors. */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** First backoff step; doubles per attempt. */
  baseDelayMs: number;
  /** Largest backoff step. */
  maxDelayMs: number;
  /** A 429 asking to wait longer than this fails at once (retryable) instead of waiting. */
  maxRateLimitWaitMs: number;
}

export interface ClientOptions {
  token: string;
  baseUrl: string;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  fetch?: typeof globalThis.fetch | undefined;
}

/** Per-call context: cancellation, the overall deadline, and a guard run before each attempt (term fencing). */
export interface CallContext {
  signal?: AbortSignal | undefined;
  deadline?: Deadline | undefined;
  guard?: (() => void) | undefined;
  /** Only for logs. */
  term?: number | undefined;
  /**
   * Whether a 5xx or a network error may be retried here. False for POST: the action may have been created
   * anyway, so the caller re-reads the IP before deciding to post again.
   */
  idempotent: boolean;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  requestId: string | undefined;
}

/**
 * Thin DigitalOcean API client over ky. Retries 429 (honouring `retry-after`, then `ratelimit-reset`), and for
 * idempotent calls 5xx and network errors, with capped jittered backoff. Other statuses are returned to the
 * caller, which knows what a 404 or 422 means at that step.
 *
 * The token lives in a private field and only ever goes into the Authorization header: it is never logged, and
 * ky's errors (whose `request` carries the header) are never attached to the errors thrown from here.
 */
export class DigitalOceanClient {
  readonly #token: string;
  readonly #ky: KyInstance;
  readonly #requestTimeoutMs: number;
  readonly #retry: RetryPolicy;

  constructor(options: ClientOptions) {
    this.#token = options.token;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#retry = options.retry;
    this.#ky = ky.create({
      prefixUrl: options.baseUrl,
      retry: 0,
      throwHttpErrors: false,
      redirect: 'error',
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  /** Sends one request, retrying as described on the class; resolves with any non-retried response. */
  async request(method: 'GET' | 'POST', path: string, ctx: CallContext, json?: unknown): Promise<ApiResponse> {
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(ctx.signal);
      ctx.guard?.();
      const timeout = this.#attemptTimeout(ctx, `${method} ${path}`);
      let response: Response;
      let result: ApiResponse;
      // Our own timeout signal rather than ky's `timeout`: it also bounds reading the body.
      const timer = AbortSignal.timeout(timeout);
      try {
        response = await this.#ky(path.slice(1), {
          method,
          timeout: false,
          headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
          signal: ctx.signal === undefined ? timer : AbortSignal.any([ctx.signal, timer]),
          ...(json === undefined ? {} : { json }),
        });
        result = await readResponse(response);
      } catch (error) {
        if (ctx.signal?.aborted) throw abortErrorOf(ctx.signal);
        const timedOut = timer.aborted;
        // An attempt cut short by the overall deadline (not by the per-request timeout) is the deadline's failure:
        // the caller must hear ERR_DO_DEADLINE, whatever request happened to be in flight when it passed.
        if (timedOut && ctx.deadline !== undefined && timeout < this.#requestTimeoutMs) {
          throw new DigitalOceanDeadlineError(ctx.deadline.timeoutMs, `${method} ${path}`);
        }
        log('%s %s: %s (attempt %d, term %s)', method, path, timedOut ? 'timeout' : 'network error', attempt, ctx.term);
        const failure = new DigitalOceanNetworkError(method, path, timedOut, rootCause(error));
        if (!ctx.idempotent || attempt >= this.#retry.maxAttempts) throw failure;
        await this.#pause(this.#backoff(attempt), ctx, failure);
        continue;
      }
      log('%s %s -> %d (attempt %d, term %s)', method, path, result.status, attempt, ctx.term);
      const remaining = response.headers.get('ratelimit-remaining');
      if (remaining !== null && Number(remaining) < 10) log('rate limit nearly exhausted: %s left', remaining);

      if (result.status === 429) {
        const limited = apiError(result, method, path);
        if (attempt >= this.#retry.maxAttempts) throw limited;
        const asked = rateLimitWaitMs(response.headers);
        if (asked !== undefined && asked > this.#retry.maxRateLimitWaitMs) throw limited;
        const wait = asked ?? this.#backoff(attempt);
        log('rate limited: waiting %d ms', Math.round(wait));
        await this.#pause(wait, ctx, limited);
        continue;
      }
      if (result.status >= 500 && ctx.idempotent && attempt < this.#retry.maxAttempts) {
        await this.#pause(this.#backoff(attempt), ctx, apiError(result, method, path));
        continue;
      }
      return result;
    }
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
  }

  #attemptTimeout(ctx: CallContext, doing: string): number {
    if (ctx.deadline === undefined) return this.#requestTimeoutMs;
    const left = Math.floor(ctx.deadline.remaining());
    if (left < 1) throw new DigitalOceanDeadlineError(ctx.deadline.timeoutMs, doing);
    return Math.min(this.#requestTimeoutMs, left);
  }

  // A wait that cannot end before the deadline fails now, with the error that caused it, instead of sleeping
  // until the deadline only to fail then.
  async #pause(ms: number, ctx: CallContext, failure: AssignerError): Promise<void> {
    if (ctx.deadline !== undefined && ms >= ctx.deadline.remaining()) throw failure;
    await sleep(ms, ctx.signal);
  }
}

/** Builds the typed error for a non-success response. */
export function apiError(result: ApiResponse, method: string, path: string): DigitalOceanApiError {
  const body = typeof result.body === 'object' && result.body !== null ? (result.body as Record<string, unknown>) : {};
  const details: DigitalOceanErrorDetails = {
    status: result.status,
    id: typeof body.id === 'string' ? body.id : undefined,
    apiMessage: typeof body.message === 'string' ? body.message : undefined,
    requestId: result.requestId,
    method,
    path,
  };
  if (result.status === 422 && details.apiMessage !== undefined && /region/i.test(details.apiMessage)) {
    return new DigitalOceanRegionError(details);
  }
  return new DigitalOceanApiError(details);
}

/** Whether a 422 means "an earlier action is still in flight" (for the IP or the droplet). */
export function isPendingEvent(result: ApiResponse): boolean {
  const body = result.body as { message?: unknown } | null;
  return result.status === 422 && typeof body?.message === 'string' && /pending event/i.test(body.message);
}

async function readResponse(response: Response): Promise<ApiResponse> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const fromBody = (body as { request_id?: unknown } | undefined)?.request_id;
  const requestId =
    typeof fromBody === 'string' && fromBody.length > 0
      ? fromBody
      : (response.headers.get('x-request-id') ?? undefined);
  return { status: response.status, body, requestId };
}

/**
 * How long a 429 asks to wait: `retry-after` (seconds or an HTTP date), else `ratelimit-reset` (Unix seconds —
 * a wall-clock instant, hence `Date.now()`). Undefined when neither is usable.
 */
export function rateLimitWaitMs(headers: Headers): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const reset = headers.get('ratelimit-reset');
  if (reset !== null && reset.trim() !== '') {
    const seconds = Number(reset);
    if (Number.isFinite(seconds) && seconds > 0) return Math.max(0, seconds * 1000 - Date.now());
  }
  return undefined;
}
