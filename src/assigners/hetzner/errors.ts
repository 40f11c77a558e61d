import { AssignerError } from '../../errors.ts';

/** Codes of {@link HetznerApiError}, by HTTP status. */
export type HetznerApiErrorCode =
  | 'ERR_HETZNER_UNAUTHORIZED'
  | 'ERR_HETZNER_FORBIDDEN'
  | 'ERR_HETZNER_NOT_FOUND'
  | 'ERR_HETZNER_CONFLICT'
  | 'ERR_HETZNER_LOCKED'
  | 'ERR_HETZNER_UNPROCESSABLE'
  | 'ERR_HETZNER_RATE_LIMITED'
  | 'ERR_HETZNER_SERVER'
  | 'ERR_HETZNER_API';

/** What Hetzner said about a failed request. */
export interface HetznerErrorDetails {
  /** HTTP status. */
  status: number;
  /** Hetzner's `error.code`, e.g. `locked`, `conflict`, `floating_ip_assigned`, `rate_limit_exceeded`. */
  providerCode: string | undefined;
  /** Hetzner's `error.message`, verbatim. */
  apiMessage: string | undefined;
  /** The `X-Correlation-Id` header: quote it to Hetzner support. */
  requestId: string | undefined;
  /** `GET`, `POST`. */
  method: string;
  /** The request path, e.g. `/floating_ips/4711/actions/assign`. */
  path: string;
}

// Hetzner's own client retries these codes; they describe a moment, not the request.
const RETRYABLE_CODES = new Set([
  'locked',
  'conflict',
  'rate_limit_exceeded',
  'maintenance',
  'resource_unavailable',
  'timeout',
  'server_error',
  'unavailable',
]);

/**
 * The Hetzner Cloud API answered with an error (after retries, for 429 and 5xx). `retryable` is true for 429,
 * 5xx and the codes `locked` and `conflict`; false for 401, 403, 404, 422 (e.g. `floating_ip_assigned` elsewhere).
 */
export class HetznerApiError extends AssignerError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The provider's error code: the error `code` from the body (e.g. `locked`, `rate_limit_exceeded`). */
  readonly providerCode: string | undefined;
  /** The provider's own error message, when the body had one. */
  readonly apiMessage: string | undefined;
  /** The request ID the provider sent back (for its support), when it sent one. */
  readonly requestId: string | undefined;
  /** The HTTP method of the failed request. */
  readonly method: string;
  /** The API path of the failed request (no token). */
  readonly path: string;
  constructor(details: HetznerErrorDetails) {
    const code = details.providerCode === undefined ? '' : ` ${details.providerCode}`;
    const text = details.apiMessage === undefined ? '' : `: ${details.apiMessage}`;
    const request = details.requestId === undefined ? '' : ` (correlation id ${details.requestId})`;
    super(
      apiErrorCode(details.status, details.providerCode),
      `Hetzner ${details.method} ${details.path} failed with ${details.status}${code}${text}${request}`,
      {
        retryable:
          details.status === 429 ||
          details.status >= 500 ||
          (details.providerCode !== undefined && RETRYABLE_CODES.has(details.providerCode)),
      },
    );
    this.status = details.status;
    this.providerCode = details.providerCode;
    this.apiMessage = details.apiMessage;
    this.requestId = details.requestId;
    this.method = details.method;
    this.path = details.path;
  }
}

/** The request never got an HTTP answer (connection refused or dropped, per-request timeout), after retries. */
export class HetznerNetworkError extends AssignerError {
  /** The HTTP method of the request that got no answer. */
  readonly method: string;
  /** The API path of that request. */
  readonly path: string;
  /** True when the last attempt hit the per-request timeout. */
  readonly timedOut: boolean;
  constructor(method: string, path: string, timedOut: boolean, cause: unknown) {
    super('ERR_HETZNER_NETWORK', `Hetzner ${method} ${path}: ${timedOut ? 'request timed out' : 'network error'}`, {
      retryable: true,
      cause,
    });
    this.method = method;
    this.path = path;
    this.timedOut = timedOut;
  }
}

/**
 * The assign action did not put the IP on this server: Hetzner reported the action `error`, or it succeeded but the
 * IP is elsewhere — typically another client moved it meanwhile.
 */
export class HetznerActionError extends AssignerError {
  /** The ID of the action that failed or was not confirmed. */
  readonly actionId: number;
  /** `error`: Hetzner said so (see `actionErrorCode`). `not-confirmed`: it succeeded but the IP is not here. */
  readonly outcome: 'error' | 'not-confirmed';
  /** The action's `error.code` when Hetzner gave one. */
  readonly actionErrorCode: string | undefined;
  /** Who held the IP when the assigner gave up (server ID, or null). */
  readonly holder: number | null;
  constructor(outcome: 'error' | 'not-confirmed', actionId: number, holder: number | null, actionErrorCode?: string) {
    const where = holder === null ? 'the IP is unassigned' : `the IP is on server ${holder}`;
    const why = actionErrorCode === undefined ? '' : ` (${actionErrorCode})`;
    super(
      'ERR_HETZNER_ACTION_FAILED',
      outcome === 'error'
        ? `assign action ${actionId} failed${why}; ${where}`
        : `assign action ${actionId} succeeded but ${where}`,
      { retryable: true },
    );
    this.actionId = actionId;
    this.outcome = outcome;
    this.actionErrorCode = actionErrorCode;
    this.holder = holder;
  }
}

/** `assign()` did not finish within `assignTimeoutMs` (slow action, long lock, rate limiting). */
export class HetznerDeadlineError extends AssignerError {
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, doing: string) {
    super('ERR_HETZNER_DEADLINE', `assign did not complete within ${timeoutMs} ms (${doing})`, { retryable: true });
    this.timeoutMs = timeoutMs;
  }
}

/** The project has no Floating IP with the configured address (the token may belong to another project). */
export class HetznerIpNotFoundError extends AssignerError {
  /** The IP the account does not have. */
  readonly ip: string;
  constructor(ip: string, scanned: number) {
    super('ERR_HETZNER_IP_NOT_FOUND', `no Floating IP ${ip} among the project's ${scanned} Floating IPs`, {
      retryable: false,
    });
    this.ip = ip;
  }
}

/**
 * The server ID could not be read from the metadata service — usually because the process is not running on a
 * Hetzner Cloud server. Pass `serverId` explicitly there.
 */
export class HetznerMetadataError extends AssignerError {
  /** The URL that was tried (it carries no secret). */
  readonly url: string;
  constructor(url: string, reason: string, cause?: unknown) {
    super(
      'ERR_HETZNER_METADATA',
      `could not read the server ID from ${url} (${reason}); not on a Hetzner Cloud server? Pass the \`serverId\` option`,
      { retryable: false, cause },
    );
    this.url = url;
  }
}

function apiErrorCode(status: number, providerCode: string | undefined): HetznerApiErrorCode {
  if (providerCode === 'locked') return 'ERR_HETZNER_LOCKED';
  if (providerCode === 'conflict') return 'ERR_HETZNER_CONFLICT';
  switch (status) {
    case 401:
      return 'ERR_HETZNER_UNAUTHORIZED';
    case 403:
      return 'ERR_HETZNER_FORBIDDEN';
    case 404:
      return 'ERR_HETZNER_NOT_FOUND';
    case 409:
      return 'ERR_HETZNER_CONFLICT';
    case 423:
      return 'ERR_HETZNER_LOCKED';
    case 422:
      return 'ERR_HETZNER_UNPROCESSABLE';
    case 429:
      return 'ERR_HETZNER_RATE_LIMITED';
    default:
      return status >= 500 ? 'ERR_HETZNER_SERVER' : 'ERR_HETZNER_API';
  }
}
