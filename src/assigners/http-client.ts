/**
 * The HTTP plumbing shared by the DigitalOcean, Hetzner and Vultr assigners: a JSON client over ky with per-call deadlines,
 * guards (term fence, `stillLeader`), abort, and bounded retries; a metadata-service reader; URL and option checks.
 * It imports ky, so only provider entries (`leader-ip/digitalocean`, `leader-ip/hetzner`, `leader-ip/vultr`) load it.
 * @module
 */

import ky, { type KyInstance } from 'ky';
import { AbortError, type AssignerError, ConfigError } from '../errors.ts';
import { logger } from '../util/log.ts';
import { checkHttpUrl, checkInt, checkKnownKeys, checkObject, checkString } from '../util/validate.ts';
import type { AssignOptions, TermFence } from './floating-ip-assigner.ts';
import { abortErrorOf, backoffDelay, Deadline, rootCause, sleep, throwIfAborted, withSignal } from './timing.ts';

export { checkHttpUrl as checkUrl } from '../util/validate.ts';
// The ky-free helpers live beside the code every assigner shares (AWS loads no ky); re-exported for the assigners
// that import them from here.
export { rootCause, withSignal } from './timing.ts';

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

/** Retry options as users pass them (every field optional). */
export interface RetryOptions {
  /** Attempts per request for 429, 5xx and network errors, the first included. Default 5. */
  maxAttempts?: number | undefined;
  /** First backoff step in ms (doubles per attempt, equal jitter). Default 250. */
  baseDelayMs?: number | undefined;
  /** Largest backoff step in ms. Default 8000. */
  maxDelayMs?: number | undefined;
  /** A 429 asking for a longer wait fails at once (retryable). Default 60000. */
  maxRateLimitWaitMs?: number | undefined;
}

/** Per-call context: cancellation, the overall deadline, a guard run before each attempt, and retry rules. */
export interface CallContext {
  signal?: AbortSignal | undefined;
  deadline?: Deadline | undefined;
  /** Throws to stop the call before a request is sent (stale term, leadership lost). */
  guard?: (() => void) | undefined;
  /** Only for logs. */
  term?: number | undefined;
  /**
   * Whether a 5xx or a network error may be retried here. False for requests that move the IP: the move may have
   * happened anyway, so the caller re-reads the IP before deciding to send it again.
   */
  idempotent: boolean;
}

/** A response the client hands back: status, parsed JSON body (if any), the provider's request ID. */
export interface ApiResponse {
  status: number;
  body: unknown;
  requestId: string | undefined;
  headers: Headers;
}

/** What differs between providers. */
export interface ProviderProtocol {
  /** Logger namespace and error wording, e.g. `hetzner`. */
  name: string;
  /** Header carrying the request ID (`x-correlation-id` for Hetzner). */
  requestIdHeader: string;
  /** The request ID a body carries, preferred to the header's (DigitalOcean's error bodies have one). Default: none. */
  requestIdInBody?: ((body: unknown) => string | undefined) | undefined;
  /** Looks at every answer before the client acts on it (e.g. to log a nearly spent rate limit). Default: none. */
  observe?: ((response: ApiResponse) => void) | undefined;
  /** How long a 429 asks to wait, from its headers; undefined when it does not say. */
  rateLimitWaitMs(headers: Headers): number | undefined;
  /** The typed error for a non-success response. */
  apiError(response: ApiResponse, method: string, path: string): AssignerError;
  /** The typed error for a request that got no answer. */
  networkError(method: string, path: string, timedOut: boolean, cause: Error): AssignerError;
  /** The typed error for an exhausted deadline. */
  deadlineError(timeoutMs: number, doing: string): AssignerError;
}

/** Options of {@link JsonApiClient}. */
export interface JsonApiClientOptions {
  token: string;
  baseUrl: string;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  protocol: ProviderProtocol;
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * Thin JSON API client over ky. Retries 429 (waiting as the provider asks), and for idempotent calls 5xx and
 * network errors, with capped jittered backoff. Other statuses go back to the caller, which knows what a 404 or a
 * 422 means at that step.
 *
 * The token lives in a private field and only ever goes into the Authorization header: it is never logged, and
 * ky's errors (whose `request` carries the header) are never attached to the errors thrown from here.
 */
export class JsonApiClient {
  readonly #token: string;
  readonly #ky: KyInstance;
  readonly #requestTimeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #protocol: ProviderProtocol;
  readonly #log: ReturnType<typeof logger>;

  constructor(options: JsonApiClientOptions) {
    this.#token = options.token;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#retry = options.retry;
    this.#protocol = options.protocol;
    this.#log = logger(options.protocol.name);
    this.#ky = ky.create({
      prefixUrl: options.baseUrl,
      retry: 0,
      throwHttpErrors: false,
      redirect: 'error',
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  /** Sends one request (path relative to the base URL, starting with `/`), retrying as the class says. */
  async request(method: 'GET' | 'POST', path: string, ctx: CallContext, json?: unknown): Promise<ApiResponse> {
    const log = this.#log;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(ctx.signal);
      ctx.guard?.();
      const timeout = this.#attemptTimeout(ctx, `${method} ${path}`);
      let result: ApiResponse;
      // Our own timeout signal rather than ky's `timeout`: it also bounds reading the body.
      const timer = AbortSignal.timeout(timeout);
      try {
        const response = await this.#ky(path.slice(1), {
          method,
          timeout: false,
          headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
          signal: ctx.signal === undefined ? timer : AbortSignal.any([ctx.signal, timer]),
          ...(json === undefined ? {} : { json }),
        });
        result = await readResponse(response, this.#protocol);
      } catch (error) {
        if (ctx.signal?.aborted) throw abortErrorOf(ctx.signal);
        const timedOut = timer.aborted;
        // An attempt cut short by the call's own deadline (its timeout was shortened to fit, or the deadline has
        // passed) is the deadline's failure, not a network one: the caller hears the deadline error, whatever
        // request happened to be in flight when it passed.
        if (
          timedOut &&
          ctx.deadline !== undefined &&
          (timeout < this.#requestTimeoutMs || ctx.deadline.remaining() < 1)
        ) {
          throw this.#protocol.deadlineError(ctx.deadline.timeoutMs, `${method} ${path}`);
        }
        log('%s %s: %s (attempt %d, term %s)', method, path, timedOut ? 'timeout' : 'network error', attempt, ctx.term);
        const failure = this.#protocol.networkError(method, path, timedOut, rootCause(error));
        if (!ctx.idempotent || attempt >= this.#retry.maxAttempts) throw failure;
        await this.#pause(this.#backoff(attempt), ctx, failure);
        continue;
      }
      log('%s %s -> %d (attempt %d, term %s)', method, path, result.status, attempt, ctx.term);
      this.#protocol.observe?.(result);
      if (result.status === 429) {
        // A 429 was not processed: retrying it is safe for every method.
        const limited = this.#protocol.apiError(result, method, path);
        if (attempt >= this.#retry.maxAttempts) throw limited;
        const asked = this.#protocol.rateLimitWaitMs(result.headers);
        if (asked !== undefined && asked > this.#retry.maxRateLimitWaitMs) throw limited;
        const wait = asked ?? this.#backoff(attempt);
        log('rate limited: waiting %d ms', Math.round(wait));
        await this.#pause(wait, ctx, limited);
        continue;
      }
      if (result.status >= 500 && ctx.idempotent && attempt < this.#retry.maxAttempts) {
        await this.#pause(this.#backoff(attempt), ctx, this.#protocol.apiError(result, method, path));
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
    if (left < 1) throw this.#protocol.deadlineError(ctx.deadline.timeoutMs, doing);
    return Math.min(this.#requestTimeoutMs, left);
  }

  // A wait that cannot end before the deadline fails now, with the error that caused it.
  async #pause(ms: number, ctx: CallContext, failure: AssignerError): Promise<void> {
    if (ctx.deadline !== undefined && ms >= ctx.deadline.remaining()) throw failure;
    await sleep(ms, ctx.signal);
  }
}

async function readResponse(response: Response, protocol: ProviderProtocol): Promise<ApiResponse> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const requestId = protocol.requestIdInBody?.(body) ?? response.headers.get(protocol.requestIdHeader) ?? undefined;
  return { status: response.status, body, requestId, headers: response.headers };
}

/** Seconds (or an HTTP date) in a `Retry-After` header, as ms; undefined when absent or unusable. */
export function retryAfterMs(headers: Headers): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter === null || retryAfter.trim() === '') return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Options of {@link readMetadataText}. */
export interface MetadataReadOptions {
  /** Full URL of the document. */
  url: string;
  /** Per-attempt timeout: the service answers in milliseconds on a cloud server, and not at all elsewhere. */
  timeoutMs: number;
  /** Attempts, the first included. */
  attempts: number;
  fetch?: typeof globalThis.fetch | undefined;
  signal?: AbortSignal | undefined;
  /** Logger namespace. */
  name: string;
  /** Turns the body into the value, or returns undefined when it is not one (no retry helps then). */
  parse: (text: string) => string | undefined;
  /** The reason given to `fail` when `parse` refuses an answer. Default `'unexpected answer'`. */
  badAnswer?: string | undefined;
  /** What the value is, for the log. Default: none. */
  what?: string | undefined;
  /** The error to throw when the value cannot be read. */
  fail: (url: string, reason: string, cause?: unknown) => AssignerError;
}

/**
 * Reads one value from a cloud metadata service (link-local, no token). A few quick retries absorb a slow boot;
 * off a cloud server it fails within about `attempts × timeoutMs`.
 */
export async function readMetadataText(options: MetadataReadOptions): Promise<string> {
  const log = logger(options.name);
  let reason = 'no answer';
  let cause: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    throwIfAborted(options.signal);
    const timer = AbortSignal.timeout(options.timeoutMs);
    let failure: AssignerError | undefined;
    try {
      const response = await ky.get(options.url, {
        timeout: false,
        retry: 0,
        throwHttpErrors: false,
        redirect: 'error',
        signal: options.signal === undefined ? timer : AbortSignal.any([options.signal, timer]),
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      });
      const text = await response.text();
      const value = response.ok ? options.parse(text) : undefined;
      if (value !== undefined) {
        log('%s%s from the metadata service', options.what === undefined ? '' : `${options.what} `, value);
        return value;
      }
      // An answer that is not the value will not improve with retries.
      failure = options.fail(
        options.url,
        response.ok ? (options.badAnswer ?? 'unexpected answer') : `HTTP ${response.status}`,
      );
    } catch (error) {
      if (options.signal?.aborted) throw abortErrorOf(options.signal);
      reason = timer.aborted ? `timed out after ${options.timeoutMs} ms` : 'unreachable';
      cause = timer.aborted ? undefined : rootCause(error);
      log('metadata attempt %d: %s', attempt, reason);
    }
    if (failure !== undefined) throw failure;
    if (attempt < options.attempts) await sleep(50 * attempt, options.signal);
  }
  throw options.fail(options.url, reason, cause);
}

/** Checks an API token: non-empty printable ASCII without spaces (it goes into a header). Never echoes it. */
export function checkToken(value: unknown, field: string): string {
  const token = checkString(value, field, 4096);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ConfigError(field, 'must be printable ASCII without spaces');
  return token;
}

const MAX_TIMER_MS = 2_147_483_647;
const RETRY_KEYS = ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'maxRateLimitWaitMs'] as const;

/** The one validator of the `retry` option, with its defaults (5 attempts, 250 ms → 8 s, 60 s rate-limit cap). */
export function checkRetry(value: unknown, field = 'retry'): RetryPolicy {
  const retry = value === undefined ? {} : checkObject(value, field);
  checkKnownKeys(retry, RETRY_KEYS, `${field}.`);
  const baseDelayMs = checkInt(retry.baseDelayMs ?? 250, `${field}.baseDelayMs`, 1, MAX_TIMER_MS);
  return {
    maxAttempts: checkInt(retry.maxAttempts ?? 5, `${field}.maxAttempts`, 1, 100),
    baseDelayMs,
    maxDelayMs: checkInt(
      retry.maxDelayMs ?? Math.max(8000, baseDelayMs),
      `${field}.maxDelayMs`,
      baseDelayMs,
      MAX_TIMER_MS,
    ),
    maxRateLimitWaitMs: checkInt(retry.maxRateLimitWaitMs ?? 60_000, `${field}.maxRateLimitWaitMs`, 0, MAX_TIMER_MS),
  };
}

/** A timer-sized positive integer option with its default. */
export function checkMs(value: unknown, field: string, fallback: number, min = 1): number {
  return checkInt(value ?? fallback, field, min, MAX_TIMER_MS);
}

/**
 * Caches a lazily discovered value (a server ID from the metadata service): one lookup at a time, remembered once
 * it succeeds, forgotten when it fails so the next call tries again.
 */
export class Lazy<T> {
  #value: T | undefined;
  #pending: Promise<T> | undefined;
  readonly #load: () => Promise<T>;
  constructor(load: () => Promise<T>, value?: T) {
    this.#load = load;
    this.#value = value;
  }
  /** The value, loading it if needed; `signal` only stops this caller's wait. */
  get(signal?: AbortSignal): Promise<T> {
    if (this.#value !== undefined) return Promise.resolve(this.#value);
    this.#pending ??= this.#load().then(
      (value) => {
        this.#value = value;
        return value;
      },
      (error: unknown) => {
        this.#pending = undefined;
        throw error;
      },
    );
    return withSignal(this.#pending, signal);
  }
}

/** The options every HTTP provider assigner shares, validated. */
export interface CommonAssignerSettings {
  baseUrl: string;
  metadataUrl: string;
  requestTimeoutMs: number;
  assignTimeoutMs: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  metadataTimeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch | undefined;
}

/** Option names {@link checkCommonOptions} reads (and the DigitalOcean assigner checks one by one). */
export const COMMON_OPTION_KEYS = [
  'baseUrl',
  'metadataUrl',
  'requestTimeoutMs',
  'assignTimeoutMs',
  'pollIntervalMs',
  'maxPollIntervalMs',
  'metadataTimeoutMs',
  'retry',
  'fetch',
] as const;

/**
 * The one validator (and defaults table) of the options the Hetzner and Vultr assigners share: request timeout
 * 10 s, assign deadline 60 s, polls from 500 ms ×1.5 up to 4 s, metadata timeout 1 s, `retry` as
 * {@link checkRetry}.
 */
export function checkCommonOptions(
  o: Record<string, unknown>,
  defaults: { baseUrl: string; metadataUrl: string },
): CommonAssignerSettings {
  const pollIntervalMs = checkMs(o.pollIntervalMs, 'pollIntervalMs', 500);
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new ConfigError('fetch', 'expected a function');
  return {
    baseUrl: checkHttpUrl(o.baseUrl ?? defaults.baseUrl, 'baseUrl'),
    metadataUrl: checkHttpUrl(o.metadataUrl ?? defaults.metadataUrl, 'metadataUrl'),
    requestTimeoutMs: checkMs(o.requestTimeoutMs, 'requestTimeoutMs', 10_000),
    assignTimeoutMs: checkMs(o.assignTimeoutMs, 'assignTimeoutMs', 60_000),
    pollIntervalMs,
    maxPollIntervalMs: checkMs(
      o.maxPollIntervalMs,
      'maxPollIntervalMs',
      Math.max(4000, pollIntervalMs),
      pollIntervalMs,
    ),
    metadataTimeoutMs: checkMs(o.metadataTimeoutMs, 'metadataTimeoutMs', 1000),
    retry: checkRetry(o.retry),
    fetch: o.fetch as typeof globalThis.fetch | undefined,
  };
}

/**
 * Starts one `assign()` call: admits its term (a stale one throws `StaleTermError` before anything is sent), fails
 * at once when already aborted, and builds the call's context. Its guard, run before every request, stops the call
 * when a newer term has been admitted since or `stillLeader()` says the leadership is over.
 */
export function assignContext(fence: TermFence, options: AssignOptions, timeoutMs: number): CallContext {
  const { signal, term, stillLeader } = options;
  fence.admit(term);
  throwIfAborted(signal);
  return {
    signal,
    term,
    deadline: new Deadline(timeoutMs),
    guard: () => {
      fence.check(term);
      if (stillLeader?.() === false) throw new AbortError('leadership ended: no further request is sent');
    },
    idempotent: true,
  };
}

/** Waits `ms`, unless that cannot end before the call's deadline: then it fails at once with `deadlineError`. */
export async function pauseWithin(
  ms: number,
  ctx: CallContext,
  deadlineError: (timeoutMs: number) => AssignerError,
): Promise<void> {
  const deadline = ctx.deadline;
  if (deadline !== undefined && ms >= deadline.remaining()) throw deadlineError(deadline.timeoutMs);
  await sleep(ms, ctx.signal);
}
