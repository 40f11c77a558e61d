import { AssignerError } from '../../errors.ts';

/** Codes of {@link VultrApiError}, by HTTP status. */
export type VultrApiErrorCode =
  | 'ERR_VULTR_BAD_REQUEST'
  | 'ERR_VULTR_UNAUTHORIZED'
  | 'ERR_VULTR_FORBIDDEN'
  | 'ERR_VULTR_NOT_FOUND'
  | 'ERR_VULTR_RATE_LIMITED'
  | 'ERR_VULTR_SERVER'
  | 'ERR_VULTR_API';

/** What Vultr said about a failed request. */
export interface VultrErrorDetails {
  /** HTTP status. */
  status: number;
  /** Vultr's `error` text, verbatim (Vultr has no machine-readable error code). */
  apiMessage: string | undefined;
  /** A request ID, when a response header carries one (`x-request-id`); Vultr itself usually sends none. */
  requestId: string | undefined;
  /** `GET`, `POST`. */
  method: string;
  /** The request path, e.g. `/v2/reserved-ips/{id}/attach`. */
  path: string;
}

/**
 * The Vultr API answered with an error (after retries, for 429 and 5xx). `retryable` is true for 429, 5xx and the
 * 400 "already attached" of a detach still finishing in the background; false for other 400s, 401, 403, 404.
 * `providerCode` is always undefined: Vultr errors carry only a message.
 */
export class VultrApiError extends AssignerError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** Always undefined: Vultr errors carry only a message (kept for the same shape as the other providers). */
  readonly providerCode: undefined;
  /** The provider's own error message, when the body had one. */
  readonly apiMessage: string | undefined;
  /** The request ID the provider sent back (for its support), when it sent one. */
  readonly requestId: string | undefined;
  /** The HTTP method of the failed request. */
  readonly method: string;
  /** The API path of the failed request (no token). */
  readonly path: string;
  constructor(details: VultrErrorDetails) {
    const text = details.apiMessage === undefined ? '' : `: ${details.apiMessage}`;
    const request = details.requestId === undefined ? '' : ` (request id ${details.requestId})`;
    super(
      apiErrorCode(details.status),
      `Vultr ${details.method} ${details.path} failed with ${details.status}${text}${request}`,
      {
        retryable: details.status === 429 || details.status >= 500 || isAttachRace(details.status, details.apiMessage),
      },
    );
    this.status = details.status;
    this.providerCode = undefined;
    this.apiMessage = details.apiMessage;
    this.requestId = details.requestId;
    this.method = details.method;
    this.path = details.path;
  }
}

/** Whether a response is Vultr's "…is already attached to another server" (a detach finishing in the background). */
export function isAttachRace(status: number, message: string | undefined): boolean {
  return status === 400 && message !== undefined && /already attached/i.test(message);
}

/** The request never got an HTTP answer (connection refused or dropped, per-request timeout), after retries. */
export class VultrNetworkError extends AssignerError {
  /** The HTTP method of the request that got no answer. */
  readonly method: string;
  /** The API path of that request. */
  readonly path: string;
  /** True when the last attempt hit the per-request timeout. */
  readonly timedOut: boolean;
  constructor(method: string, path: string, timedOut: boolean, cause: unknown) {
    super('ERR_VULTR_NETWORK', `Vultr ${method} ${path}: ${timedOut ? 'request timed out' : 'network error'}`, {
      retryable: true,
      cause,
    });
    this.method = method;
    this.path = path;
    this.timedOut = timedOut;
  }
}

/**
 * The attach was accepted (204) but reading the reserved IP did not show it on this instance: it went to another
 * instance, or it stayed unattached through every attempt.
 */
export class VultrAttachError extends AssignerError {
  /** Who held the IP when the assigner gave up (instance ID, or null). */
  readonly holder: string | null;
  /** Attach requests sent. */
  readonly attempts: number;
  constructor(holder: string | null, attempts: number) {
    const where = holder === null ? 'it is still unattached' : `it is on instance ${holder}`;
    super('ERR_VULTR_NOT_CONFIRMED', `attach accepted ${attempts} time(s) but ${where}`, { retryable: true });
    this.holder = holder;
    this.attempts = attempts;
  }
}

/** `assign()` did not finish within `assignTimeoutMs` (slow attach, a long detach race, rate limiting). */
export class VultrDeadlineError extends AssignerError {
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, doing: string) {
    super('ERR_VULTR_DEADLINE', `assign did not complete within ${timeoutMs} ms (${doing})`, { retryable: true });
    this.timeoutMs = timeoutMs;
  }
}

/** The account has no reserved IP with the configured address. */
export class VultrIpNotFoundError extends AssignerError {
  /** The IP the account does not have. */
  readonly ip: string;
  constructor(ip: string, scanned: number) {
    super('ERR_VULTR_IP_NOT_FOUND', `no reserved IP ${ip} among the account's ${scanned} reserved IPs`, {
      retryable: false,
    });
    this.ip = ip;
  }
}

/**
 * The instance ID could not be read from the metadata service — usually because the process is not running on a
 * Vultr instance. Pass `instanceId` explicitly there.
 */
export class VultrMetadataError extends AssignerError {
  /** The URL that was tried (it carries no secret). */
  readonly url: string;
  constructor(url: string, reason: string, cause?: unknown) {
    super(
      'ERR_VULTR_METADATA',
      `could not read the instance ID from ${url} (${reason}); not on a Vultr instance? Pass the \`instanceId\` option`,
      { retryable: false, cause },
    );
    this.url = url;
  }
}

function apiErrorCode(status: number): VultrApiErrorCode {
  switch (status) {
    case 400:
      return 'ERR_VULTR_BAD_REQUEST';
    case 401:
      return 'ERR_VULTR_UNAUTHORIZED';
    case 403:
      return 'ERR_VULTR_FORBIDDEN';
    case 404:
      return 'ERR_VULTR_NOT_FOUND';
    case 429:
      return 'ERR_VULTR_RATE_LIMITED';
    default:
      return status >= 500 ? 'ERR_VULTR_SERVER' : 'ERR_VULTR_API';
  }
}
