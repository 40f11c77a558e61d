/**
 * `leader-ip/hetzner`: the Hetzner Cloud Floating IP assigner. This entry (with `leader-ip/digitalocean` and
 * `leader-ip/vultr`) is the only kind that loads `ky`.
 * @module
 */

export type {
  AssignOptions,
  FloatingIpAssigner,
  HolderId,
  HolderOptions,
} from './assigners/floating-ip-assigner.ts';
export {
  HETZNER_METADATA_URL,
  HetznerAssigner,
  type HetznerAssignerOptions,
  hetznerRateLimitWaitMs,
} from './assigners/hetzner/assigner.ts';
export {
  HetznerActionError,
  HetznerApiError,
  type HetznerApiErrorCode,
  HetznerDeadlineError,
  type HetznerErrorDetails,
  HetznerIpNotFoundError,
  HetznerMetadataError,
  HetznerNetworkError,
} from './assigners/hetzner/errors.ts';
export type { RetryOptions } from './assigners/http-client.ts';
