import ky from 'ky';
import { logger } from '../../util/log.ts';
import { abortErrorOf, rootCause, sleep, throwIfAborted } from '../timing.ts';
import { DIGITALOCEAN_DEFAULTS } from './defaults.ts';
import { DigitalOceanMetadataError } from './errors.ts';

const log = logger('digitalocean');

/** Default address of the droplet metadata service (link-local, no token, not rate limited). */
export const DEFAULT_METADATA_URL = DIGITALOCEAN_DEFAULTS.metadataUrl;

export interface MetadataOptions {
  /** Base URL of the metadata service. */
  metadataUrl: string;
  /** Per-attempt timeout: the service answers in milliseconds on a droplet, and not at all elsewhere. */
  timeoutMs: number;
  /** Attempts, the first included. */
  attempts: number;
  fetch?: typeof globalThis.fetch | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Reads this droplet's ID from `{metadataUrl}/metadata/v1/id`. Never sends the API token. A few quick retries
 * absorb a slow boot; off a droplet it fails within about `attempts × timeoutMs` with a
 * {@link DigitalOceanMetadataError}.
 */
export async function readDropletId(options: MetadataOptions): Promise<number> {
  const url = `${options.metadataUrl.replace(/\/+$/, '')}/metadata/v1/id`;
  let reason = 'no answer';
  let cause: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    throwIfAborted(options.signal);
    // Our own timeout signal rather than ky's `timeout`: it also bounds reading the body.
    const timer = AbortSignal.timeout(options.timeoutMs);
    try {
      const response = await ky.get(url, {
        timeout: false,
        retry: 0,
        throwHttpErrors: false,
        redirect: 'error',
        signal: options.signal === undefined ? timer : AbortSignal.any([options.signal, timer]),
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      });
      const text = (await response.text()).trim();
      if (response.ok && /^[1-9]\d{0,15}$/.test(text) && Number.isSafeInteger(Number(text))) {
        log('droplet ID %s from the metadata service', text);
        return Number(text);
      }
      // An answer that is not a droplet ID will not improve with retries.
      throw new DigitalOceanMetadataError(
        url,
        response.ok ? 'the answer is not a droplet ID' : `HTTP ${response.status}`,
      );
    } catch (error) {
      if (error instanceof DigitalOceanMetadataError) throw error;
      if (options.signal?.aborted) throw abortErrorOf(options.signal);
      reason = timer.aborted ? `timed out after ${options.timeoutMs} ms` : 'unreachable';
      cause = timer.aborted ? undefined : rootCause(error);
      log('metadata attempt %d: %s', attempt, reason);
    }
    if (attempt < options.attempts) await sleep(50 * attempt, options.signal);
  }
  throw new DigitalOceanMetadataError(url, reason, cause);
}
