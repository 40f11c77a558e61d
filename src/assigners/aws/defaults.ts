/**
 * Defaults of {@link ElasticIpAssigner}'s options, in one table (free of `aws4fetch` and `fast-xml-parser`, so a
 * CLI's help can show them without loading the signing code).
 * @module
 */

/** Every fixed default of `ElasticIpAssignerOptions` (endpoint and region depend on the environment). */
export const ELASTIC_IP_DEFAULTS = {
  /** The instance metadata service (IMDSv2). */
  metadataUrl: 'http://169.254.169.254',
  /** Per-request timeout, ms. */
  requestTimeoutMs: 10_000,
  /** Deadline for one whole assign (two requests plus backoff), ms: associations are synchronous. */
  assignTimeoutMs: 30_000,
  /** Per-attempt timeout of an IMDS read (3 attempts), ms. */
  metadataTimeoutMs: 1000,
  /** Attempts per request on throttling, 5xx and network errors. */
  retryMaxAttempts: 5,
  /** First backoff step, ms (EC2's throttling wants a real pause, not a quick retry). */
  retryBaseDelayMs: 500,
  /** Largest backoff step, ms. */
  retryMaxDelayMs: 10_000,
} as const;
