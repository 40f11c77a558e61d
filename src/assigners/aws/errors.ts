import { AssignerError } from '../../errors.ts';

/** Codes of {@link AwsApiError}, by EC2 error code. */
export type AwsApiErrorCode =
  /** `AuthFailure`, `SignatureDoesNotMatch`, `InvalidClientTokenId`, `ExpiredToken`…: the credentials were refused. */
  | 'ERR_AWS_AUTH'
  /** `UnauthorizedOperation`: the credentials are valid but the IAM policy does not allow the action. */
  | 'ERR_AWS_UNAUTHORIZED_OPERATION'
  /** `InvalidAllocationID.NotFound`, `InvalidAddress.NotFound`, `InvalidInstanceID.NotFound`… */
  | 'ERR_AWS_NOT_FOUND'
  /** `RequestLimitExceeded` (HTTP 503): the account's request token bucket for the region is empty. */
  | 'ERR_AWS_THROTTLED'
  /** 5xx other than throttling (`InternalError`, `Unavailable`). */
  | 'ERR_AWS_SERVER'
  /** Any other EC2 error (`InvalidParameterValue`, `IncorrectInstanceState`, `Resource.AlreadyAssociated`…). */
  | 'ERR_AWS_API';

/** What EC2 said about a failed request. */
export interface AwsErrorDetails {
  /** HTTP status (EC2 sends throttling as 503). */
  status: number;
  /** EC2's own error code, e.g. `InvalidAllocationID.NotFound`; undefined when the body was not EC2's error XML. */
  awsCode: string | undefined;
  /** EC2's error message, verbatim. */
  apiMessage: string | undefined;
  /** The `RequestID` of the reply (or the `x-amzn-requestid` header): quote it to AWS support. */
  requestId: string | undefined;
  /** The Query API action, e.g. `AssociateAddress`. */
  action: string;
}

/**
 * EC2 answered an action with an error (after retries, for throttling and 5xx). `retryable` is true for
 * `RequestLimitExceeded` and 5xx only: an authentication, permission or not-found error fails at once.
 */
export class AwsApiError extends AssignerError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** AWS's error code (e.g. `InvalidAllocationID.NotFound`, `RequestLimitExceeded`), when the body had one. */
  readonly awsCode: string | undefined;
  /** AWS's own error message, when the body had one. */
  readonly apiMessage: string | undefined;
  /** The request ID AWS sent back (for AWS support), when it sent one. */
  readonly requestId: string | undefined;
  /** The EC2 API action that failed (`AssociateAddress`, `DescribeAddresses`, ...). */
  readonly action: string;
  constructor(details: AwsErrorDetails) {
    const code = apiErrorCode(details);
    const what = details.awsCode === undefined ? '' : ` ${details.awsCode}`;
    const text = details.apiMessage === undefined ? '' : `: ${details.apiMessage}`;
    const request = details.requestId === undefined ? '' : ` (RequestID ${details.requestId})`;
    super(code, `EC2 ${details.action} failed with ${details.status}${what}${text}${request}`, {
      retryable: code === 'ERR_AWS_THROTTLED' || code === 'ERR_AWS_SERVER',
    });
    this.status = details.status;
    this.awsCode = details.awsCode;
    this.apiMessage = details.apiMessage;
    this.requestId = details.requestId;
    this.action = details.action;
  }
}

/** The request never got an HTTP answer (connection refused or dropped, per-request timeout), after retries. */
export class AwsNetworkError extends AssignerError {
  /** The EC2 API action that got no answer. */
  readonly action: string;
  /** True when the last attempt hit the per-request timeout. */
  readonly timedOut: boolean;
  constructor(action: string, timedOut: boolean, cause: unknown) {
    super('ERR_AWS_NETWORK', `EC2 ${action}: ${timedOut ? 'request timed out' : 'network error'}`, {
      retryable: true,
      cause,
    });
    this.action = action;
    this.timedOut = timedOut;
  }
}

/** `assign()` did not finish within `assignTimeoutMs` (throttling, slow answers). */
export class AwsDeadlineError extends AssignerError {
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, doing: string) {
    super('ERR_AWS_DEADLINE', `assign did not complete within ${timeoutMs} ms (${doing})`, { retryable: true });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The instance metadata service (IMDSv2) could not tell what was asked (instance ID, region or role
 * credentials) — usually because the process is not running on EC2, or IMDS is disabled or needs a higher hop
 * limit (containers). Pass `instanceId`, `region` and `credentials` (or the standard environment variables) then.
 */
export class AwsMetadataError extends AssignerError {
  /** The metadata path that failed, e.g. `/latest/meta-data/instance-id` (no secret in it). */
  readonly path: string;
  constructor(path: string, reason: string, cause?: unknown) {
    super('ERR_AWS_METADATA', `could not read ${path} from the instance metadata service (${reason})`, {
      retryable: false,
      cause,
    });
    this.path = path;
  }
}

/** No credentials were found: not in the options, not in the environment, not from an instance role. */
export class AwsCredentialsError extends AssignerError {
  constructor(reason: string, cause?: unknown) {
    super(
      'ERR_AWS_CREDENTIALS',
      `no AWS credentials: ${reason}. Pass \`credentials\`, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or attach an instance role`,
      { retryable: false, cause },
    );
  }
}

/** An answer EC2 would not give: not XML, or missing the element the action returns. */
export class AwsBadResponseError extends AssignerError {
  /** The EC2 API action whose answer could not be understood. */
  readonly action: string;
  constructor(action: string, reason: string) {
    super('ERR_AWS_BAD_RESPONSE', `EC2 ${action}: unexpected reply (${reason})`, { retryable: true });
    this.action = action;
  }
}

const AUTH_CODES = new Set([
  'AuthFailure',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'RequestExpired',
  'OptInRequired',
]);

function apiErrorCode(details: AwsErrorDetails): AwsApiErrorCode {
  const code = details.awsCode ?? '';
  if (code === 'RequestLimitExceeded' || code === 'Throttling') return 'ERR_AWS_THROTTLED';
  if (code === 'UnauthorizedOperation') return 'ERR_AWS_UNAUTHORIZED_OPERATION';
  if (AUTH_CODES.has(code)) return 'ERR_AWS_AUTH';
  if (code.endsWith('.NotFound')) return 'ERR_AWS_NOT_FOUND';
  if (details.status >= 500) return 'ERR_AWS_SERVER';
  if (details.status === 401) return 'ERR_AWS_AUTH';
  return 'ERR_AWS_API';
}
