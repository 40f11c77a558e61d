/**
 * `leader-ip/digitalocean`: the DigitalOcean reserved-IP assigner. This entry is the only one that loads `ky`.
 * @module
 */

export {
  DigitalOceanAssigner,
  type DigitalOceanAssignerOptions,
  type DigitalOceanEndpoint,
  type DigitalOceanRetryOptions,
} from './assigners/digitalocean/assigner.ts';
export { DIGITALOCEAN_DEFAULTS } from './assigners/digitalocean/defaults.ts';
export {
  DigitalOceanActionError,
  DigitalOceanApiError,
  type DigitalOceanApiErrorCode,
  DigitalOceanDeadlineError,
  type DigitalOceanErrorDetails,
  DigitalOceanMetadataError,
  DigitalOceanNetworkError,
  DigitalOceanRegionError,
} from './assigners/digitalocean/errors.ts';
export type {
  AssignOptions,
  FloatingIpAssigner,
  HolderId,
  HolderOptions,
} from './assigners/floating-ip-assigner.ts';
