/**
 * Defaults of {@link DigitalOceanAssigner}'s options, in one table (and free of `ky`, so the CLI's help can show
 * them without loading the HTTP client).
 * @module
 */

/** Every fixed default of `DigitalOceanAssignerOptions`. */
export const DIGITALOCEAN_DEFAULTS = {
  /** The public API. */
  baseUrl: 'https://api.digitalocean.com',
  /** The droplet metadata service (link-local, no token, not rate limited). */
  metadataUrl: 'http://169.254.169.254',
  /** Per-request timeout, ms. */
  requestTimeoutMs: 10_000,
  /** Deadline for one whole assign (request plus action polls), ms. */
  assignTimeoutMs: 60_000,
  /** First delay between action polls, ms: an assign action usually completes within a few seconds. */
  pollIntervalMs: 500,
  /** Per-attempt timeout of a metadata read, ms. */
  metadataTimeoutMs: 1000,
} as const;
