import { logger } from '../../util/log.ts';
import { abortErrorOf, rootCause, sleep, throwIfAborted } from '../timing.ts';
import { AwsMetadataError } from './errors.ts';

const log = logger('aws');

/** Lifetime asked for a session token, in seconds (the most IMDS grants: 6 hours). */
const TOKEN_TTL_SECONDS = 21_600;
/** A token is renewed this long before it expires, so one never lapses between check and use. */
const TOKEN_MARGIN_MS = 60_000;

export interface ImdsOptions {
  /** Base URL of the metadata service. */
  url: string;
  /** Per-attempt timeout: IMDS answers in milliseconds on EC2, and not at all elsewhere. */
  timeoutMs: number;
  /** Attempts per read, the first included. */
  attempts: number;
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * An IMDSv2 client: `PUT /latest/api/token` for a session token, then `GET`s that carry it. The token is kept in
 * a private field and never logged; a 401 (token expired or revoked) fetches a new one once. IMDSv1 (GET without
 * a token) is never used: many accounts disable it, and it is the variant SSRF attacks exploit.
 */
export class ImdsClient {
  readonly #options: ImdsOptions;
  #token: string | undefined;
  #tokenExpiresAt = 0;

  constructor(options: ImdsOptions) {
    this.#options = options;
  }

  /** The text at `path` (e.g. `/latest/meta-data/instance-id`), trimmed. */
  async get(path: string, signal?: AbortSignal): Promise<string> {
    let reason = 'no answer';
    let cause: unknown;
    for (let attempt = 1; attempt <= this.#options.attempts; attempt++) {
      throwIfAborted(signal);
      try {
        let response = await this.#send('GET', path, await this.#ensureToken(path, signal), signal);
        if (response.status === 401) {
          // The token expired or IMDS restarted: one fresh token, then the answer stands.
          this.#token = undefined;
          response = await this.#send('GET', path, await this.#ensureToken(path, signal), signal);
        }
        const text = (await response.text()).trim();
        if (response.ok) return text;
        // A 404 (no role attached, wrong path) will not improve with retries.
        throw new AwsMetadataError(path, `HTTP ${response.status}`);
      } catch (error) {
        if (error instanceof AwsMetadataError) throw error;
        if (signal?.aborted) throw abortErrorOf(signal);
        reason = (error as { name?: unknown }).name === 'TimeoutError' ? 'timed out' : 'unreachable';
        cause = rootCause(error);
        log('metadata %s attempt %d: %s', path, attempt, reason);
      }
      if (attempt < this.#options.attempts) await sleep(50 * attempt, signal);
    }
    throw new AwsMetadataError(path, `${reason} after ${this.#options.attempts} attempts`, cause);
  }

  async #ensureToken(path: string, signal: AbortSignal | undefined): Promise<string> {
    if (this.#token !== undefined && performance.now() < this.#tokenExpiresAt) return this.#token;
    const response = await this.#send('PUT', '/latest/api/token', undefined, signal);
    const text = (await response.text()).trim();
    if (!response.ok || text.length === 0) {
      // 403: IMDS is disabled for this instance; 400: the PUT was refused (e.g. forwarded through a proxy).
      throw new AwsMetadataError(path, `the session token PUT answered HTTP ${response.status}`);
    }
    this.#token = text;
    this.#tokenExpiresAt = performance.now() + TOKEN_TTL_SECONDS * 1000 - TOKEN_MARGIN_MS;
    return text;
  }

  #send(method: 'GET' | 'PUT', path: string, token: string | undefined, signal: AbortSignal | undefined) {
    const timer = AbortSignal.timeout(this.#options.timeoutMs);
    const headers: Record<string, string> =
      token === undefined
        ? { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) }
        : { 'x-aws-ec2-metadata-token': token };
    const fetchFn = this.#options.fetch ?? globalThis.fetch;
    return fetchFn(`${this.#options.url}${path}`, {
      method,
      headers,
      redirect: 'error',
      signal: signal === undefined ? timer : AbortSignal.any([signal, timer]),
    });
  }
}
