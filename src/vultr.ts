/**
 * `leader-ip/vultr`: the Vultr reserved-IP assigner. Like the other provider entries, it loads `ky`.
 * @module
 */

export type {
  AssignOptions,
  FloatingIpAssigner,
  HolderId,
  HolderOptions,
} from './assigners/floating-ip-assigner.ts';
export type { RetryOptions } from './assigners/http-client.ts';
export { VULTR_METADATA_URL, VultrAssigner, type VultrAssignerOptions } from './assigners/vultr/assigner.ts';
export {
  isAttachRace,
  VultrApiError,
  type VultrApiErrorCode,
  VultrAttachError,
  VultrDeadlineError,
  type VultrErrorDetails,
  VultrIpNotFoundError,
  VultrMetadataError,
  VultrNetworkError,
} from './assigners/vultr/errors.ts';
