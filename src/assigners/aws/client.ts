import { AwsV4Signer } from 'aws4fetch';
import { XMLParser } from 'fast-xml-parser';
import type { AssignerError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { abortErrorOf, backoffDelay, type Deadline, rootCause, sleep, throwIfAborted } from '../timing.ts';
import type { CredentialProvider } from './credentials.ts';
import { AwsApiError, AwsBadResponseError, AwsDeadlineError, AwsNetworkError } from './errors.ts';

const log = logger('aws');

/** The EC2 API version this client speaks (the one the vendored description describes). */
export const EC2_API_VERSION = '2016-11-15';

/** How the client retries throttling, 5xx and network errors. */
export interface AwsRetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** First backoff step; doubles per attempt. */
  baseDelayMs: number;
  /** Largest backoff step. */
  maxDelayMs: number;
}

export interface Ec2ClientOptions {
  /** Endpoint URL without a trailing slash, e.g. `https://ec2.eu-west-1.amazonaws.com`. */
  endpoint: string;
  region: string;
  credentials: CredentialProvider;
  requestTimeoutMs: number;
  retry: AwsRetryPolicy;
  fetch?: typeof globalThis.fetch | undefined;
}

/** Per-call context: cancellation, the overall deadline, and a guard run before each attempt (term fencing). */
export interface Ec2CallContext {
  signal?: AbortSignal | undefined;
  deadline?: Deadline | undefined;
  guard?: (() => void) | undefined;
  /** Only for logs. */
  term?: number | undefined;
}

/** A parsed XML element: child elements by name (`item` and `Error` always as arrays), text as strings. */
export type XmlNode = { [name: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlNode[] | string[];

// Namespaces dropped, attributes ignored, values kept as text (an instance ID must not become a number), and the
// list elements always arrays so one item and several read alike.
const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'item' || name === 'Error',
});

/**
 * A minimal EC2 Query API client: form-encoded `POST /` with `Action` and `Version`, signed with Signature
 * Version 4 by `aws4fetch`, XML replies parsed by `fast-xml-parser`. Retries `RequestLimitExceeded` (503), other
 * 5xx and network errors with capped, jittered exponential backoff; everything else is thrown at once as an
 * {@link AwsApiError}. When instance-role credentials are refused as expired it fetches fresh ones once.
 *
 * Secrets (secret key, session token) reach only the signer; requests, logs and errors never carry them.
 */
export class Ec2Client {
  readonly #options: Ec2ClientOptions;

  constructor(options: Ec2ClientOptions) {
    this.#options = options;
  }

  /** Runs `action` with `params` (wire names, e.g. `AllocationId.1`); resolves with the `{action}Response` element. */
  async call(action: string, params: Record<string, string>, ctx: Ec2CallContext): Promise<XmlNode> {
    const { retry } = this.#options;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(ctx.signal);
      ctx.guard?.();
      const timeout = this.#attemptTimeout(ctx, action);
      const credentials = await this.#options.credentials.get(ctx.signal);
      // The credential read may have waited: check again before anything leaves.
      throwIfAborted(ctx.signal);
      ctx.guard?.();
      const body = new URLSearchParams({ Action: action, Version: EC2_API_VERSION, ...params }).toString();
      const signed = await new AwsV4Signer({
        method: 'POST',
        url: `${this.#options.endpoint}/`,
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body,
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        service: 'ec2',
        region: this.#options.region,
      }).sign();
      const timer = AbortSignal.timeout(timeout);
      let status: number;
      let text: string;
      let headerRequestId: string | null;
      try {
        const fetchFn = this.#options.fetch ?? globalThis.fetch;
        const response = await fetchFn(signed.url, {
          method: 'POST',
          headers: signed.headers,
          body,
          redirect: 'error',
          signal: ctx.signal === undefined ? timer : AbortSignal.any([ctx.signal, timer]),
        });
        status = response.status;
        headerRequestId = response.headers.get('x-amzn-requestid');
        text = await response.text();
      } catch (error) {
        if (ctx.signal?.aborted) throw abortErrorOf(ctx.signal);
        const timedOut = timer.aborted;
        log('%s: %s (attempt %d, term %s)', action, timedOut ? 'timeout' : 'network error', attempt, ctx.term);
        const failure = new AwsNetworkError(action, timedOut, rootCause(error));
        if (attempt >= retry.maxAttempts) throw failure;
        await this.#pause(this.#backoff(attempt), ctx, failure);
        continue;
      }
      log('%s -> %d (attempt %d, term %s)', action, status, attempt, ctx.term);
      const parsed = parse(text);
      if (status >= 200 && status < 300) {
        const reply = parsed?.[`${action}Response`];
        if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
          throw new AwsBadResponseError(action, `no ${action}Response element`);
        }
        return reply;
      }
      const failure = apiError(action, status, parsed, headerRequestId);
      if (
        !refreshed &&
        (failure.awsCode === 'ExpiredToken' || failure.awsCode === 'RequestExpired') &&
        this.#options.credentials.invalidate()
      ) {
        // Role credentials rotate; ones EC2 calls expired are fetched again once.
        refreshed = true;
        log('%s: credentials expired, fetching the instance role again', action);
        continue;
      }
      if (!failure.retryable || attempt >= retry.maxAttempts) throw failure;
      log('%s: %s, backing off (attempt %d)', action, failure.awsCode ?? status, attempt);
      await this.#pause(this.#backoff(attempt), ctx, failure);
    }
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#options.retry.baseDelayMs, this.#options.retry.maxDelayMs);
  }

  #attemptTimeout(ctx: Ec2CallContext, action: string): number {
    if (ctx.deadline === undefined) return this.#options.requestTimeoutMs;
    const left = Math.floor(ctx.deadline.remaining());
    if (left < 1) throw new AwsDeadlineError(ctx.deadline.timeoutMs, action);
    return Math.min(this.#options.requestTimeoutMs, left);
  }

  // A wait that cannot end before the deadline fails now, with the error that caused it.
  async #pause(ms: number, ctx: Ec2CallContext, failure: AssignerError): Promise<void> {
    if (ctx.deadline !== undefined && ms >= ctx.deadline.remaining()) throw failure;
    await sleep(ms, ctx.signal);
  }
}

function parse(text: string): XmlNode | undefined {
  if (text.trim() === '') return undefined;
  try {
    const parsed: unknown = parser.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as XmlNode) : undefined;
  } catch {
    return undefined;
  }
}

/** The typed error of an EC2 error reply: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>`. */
function apiError(action: string, status: number, parsed: XmlNode | undefined, headerRequestId: string | null) {
  const response = asNode(parsed?.Response);
  const error = asNode(asNodes(asNode(response?.Errors)?.Error)[0]);
  const requestId = text(response?.RequestID) ?? text(response?.RequestId) ?? headerRequestId ?? undefined;
  return new AwsApiError({
    status,
    awsCode: text(error?.Code),
    apiMessage: text(error?.Message),
    requestId,
    action,
  });
}

/** `value` as one element, or undefined. */
export function asNode(value: XmlValue | undefined): XmlNode | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
}

/** `value` as a list of elements (`item`s), empty when absent. */
export function asNodes(value: XmlValue | undefined): XmlNode[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is XmlNode => typeof v === 'object' && v !== null);
}

/** `value` as non-empty text, or undefined. */
export function text(value: XmlValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
