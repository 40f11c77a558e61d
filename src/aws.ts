/**
 * `leader-ip/aws`: the AWS EC2 Elastic IP assigner. This entry is the only one that loads `aws4fetch` (Signature
 * Version 4) and `fast-xml-parser` (EC2's XML replies).
 * @module
 */

export {
  ElasticIpAssigner,
  type ElasticIpAssignerOptions,
  type ElasticIpRetryOptions,
} from './assigners/aws/assigner.ts';
export type { AwsCredentialSource, AwsCredentials } from './assigners/aws/credentials.ts';
export { ELASTIC_IP_DEFAULTS } from './assigners/aws/defaults.ts';
export {
  AwsApiError,
  type AwsApiErrorCode,
  AwsBadResponseError,
  AwsCredentialsError,
  AwsDeadlineError,
  type AwsErrorDetails,
  AwsMetadataError,
  AwsNetworkError,
} from './assigners/aws/errors.ts';
export type {
  AssignOptions,
  FloatingIpAssigner,
  HolderId,
  HolderOptions,
} from './assigners/floating-ip-assigner.ts';
