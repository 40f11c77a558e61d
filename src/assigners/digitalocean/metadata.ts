import { readMetadataText } from '../http-client.ts';
import { DIGITALOCEAN_DEFAULTS } from './defaults.ts';
import { DigitalOceanMetadataError } from './errors.ts';

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
  const id = await readMetadataText({
    url: `${options.metadataUrl.replace(/\/+$/, '')}/metadata/v1/id`,
    timeoutMs: options.timeoutMs,
    attempts: options.attempts,
    fetch: options.fetch,
    signal: options.signal,
    name: 'digitalocean',
    what: 'droplet ID',
    parse: (text) => {
      const trimmed = text.trim();
      return /^[1-9]\d{0,15}$/.test(trimmed) && Number.isSafeInteger(Number(trimmed)) ? trimmed : undefined;
    },
    badAnswer: 'the answer is not a droplet ID',
    fail: (url, reason, cause) => new DigitalOceanMetadataError(url, reason, cause),
  });
  return Number(id);
}
