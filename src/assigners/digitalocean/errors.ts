import { AssignerError } from '../../errors.ts';

/** Codes of {@link DigitalOceanApiError}, by HTTP status. */
export type DigitalOceanApiErrorCode =
  | 'ERR_DO_UNAUTHORIZED'
  | 'ERR_DO_FORBIDDEN'
  | 'ERR_DO_NOT_FOUND'
  | 'ERR_DO_UNPROCESSABLE'
  | 'ERR_DO_WRONG_REGION'
  | 'ERR_DO_RATE_LIMITED'
  | 'ERR_DO_SERVER'
  | 'ERR_DO_API';

/** What DigitalOcean said about a failed request. */
export interface DigitalOceanErrorDetails {
  /** HTTP status. */
  status: number;
  /** DigitalOcean's error `id`, e.g. `unauthorized`, `not_found`, `unprocessable_entity`. */
  id: string | undefined;
  /** DigitalOcean's error `message`, verbatim. */
  apiMessage: string | undefined;
  /** `request_id` from the body, or the `x-request-id` header: quote it to DigitalOcean support. */
  requestId: string | undefined;
  /** `GET`, `POST`. */
  method: string;
  /** The request path, e.g. `/v2/reserved_ips/203.0.113.7/actions`. */
  path: string;
}

/**
 * The DigitalOcean API answered with an error status (after retries, for 429 and 5xx).
 * `retryable` is true for 429 and 5xx, false for 401/403/404/422.
 */
export class DigitalOceanApiError extends AssignerError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** DigitalOcean's error `id` (e.g. `unprocessable_entity`), when the body had one. */
  readonly id: string | undefined;
  /** DigitalOcean's own error message, when the body had one. */
  readonly apiMessage: string | undefined;
  /** The request ID (body `request_id` or `x-request-id` header), for DigitalOcean support. */
  readonly requestId: string | undefined;
  /** The HTTP method of the failed request. */
  readonly method: string;
  /** The API path of the failed request (no token, no query). */
  readonly path: string;
  constructor(details: DigitalOceanErrorDetails, code: DigitalOceanApiErrorCode = apiErrorCode(details.status)) {
    const id = details.id === undefined ? '' : ` ${details.id}`;
    const text = details.apiMessage === undefined ? '' : `: ${details.apiMessage}`;
    const request = details.requestId === undefined ? '' : ` (request_id ${details.requestId})`;
    super(code, `DigitalOcean ${details.method} ${details.path} failed with ${details.status}${id}${text}${request}`, {
      retryable: details.status === 429 || details.status >= 500,
    });
    this.status = details.status;
    this.id = details.id;
    this.apiMessage = details.apiMessage;
    this.requestId = details.requestId;
    this.method = details.method;
    this.path = details.path;
  }
}

/** A 422 saying the droplet and the IP are not in the same region: no retry can fix it. */
export class DigitalOceanRegionError extends DigitalOceanApiError {
  constructor(details: DigitalOceanErrorDetails) {
    super(details, 'ERR_DO_WRONG_REGION');
  }
}

/** The request never got an HTTP answer (connection refused or dropped, per-request timeout), after retries. */
export class DigitalOceanNetworkError extends AssignerError {
  /** The HTTP method of the request that got no answer. */
  readonly method: string;
  /** The API path of that request. */
  readonly path: string;
  /** True when the last attempt hit the per-request timeout. */
  readonly timedOut: boolean;
  constructor(method: string, path: string, timedOut: boolean, cause: unknown) {
    super('ERR_DO_NETWORK', `DigitalOcean ${method} ${path}: ${timedOut ? 'request timed out' : 'network error'}`, {
      retryable: true,
      cause,
    });
    this.method = method;
    this.path = path;
    this.timedOut = timedOut;
  }
}

/**
 * The assign action did not put the IP on this droplet: DigitalOcean reported it `errored`, or it ended
 * (completed, or its record was unavailable) with the IP elsewhere — typically another client moved it meanwhile.
 */
export class DigitalOceanActionError extends AssignerError {
  /** The action's ID, when DigitalOcean returned one. */
  readonly actionId: number | undefined;
  /** `errored`: DigitalOcean said so. `not-confirmed`: the action ended but the IP is not on this droplet. */
  readonly outcome: 'errored' | 'not-confirmed';
  /** Who held the IP when the assigner gave up (droplet ID, or null when unassigned). */
  readonly holder: number | null;
  constructor(outcome: 'errored' | 'not-confirmed', actionId: number | undefined, holder: number | null) {
    const action = actionId === undefined ? 'assign action' : `assign action ${actionId}`;
    const where = holder === null ? 'the IP is unassigned' : `the IP is on droplet ${holder}`;
    super(
      'ERR_DO_ACTION_FAILED',
      outcome === 'errored' ? `${action} errored; ${where}` : `${action} ended but ${where}`,
      { retryable: true },
    );
    this.actionId = actionId;
    this.outcome = outcome;
    this.holder = holder;
  }
}

/** `assign()` did not finish within `assignTimeoutMs` (slow action, long lock, rate limiting). */
export class DigitalOceanDeadlineError extends AssignerError {
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, doing: string) {
    super('ERR_DO_DEADLINE', `assign did not complete within ${timeoutMs} ms (${doing})`, { retryable: true });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The droplet ID could not be read from the metadata service — usually because the process is not running on a
 * droplet. Pass `dropletId` explicitly there.
 */
export class DigitalOceanMetadataError extends AssignerError {
  /** The URL that was tried (it carries no secret). */
  readonly url: string;
  constructor(url: string, reason: string, cause?: unknown) {
    super(
      'ERR_DO_METADATA',
      `could not read the droplet ID from ${url} (${reason}); not on a DigitalOcean droplet? Pass the \`dropletId\` option`,
      { retryable: false, cause },
    );
    this.url = url;
  }
}

function apiErrorCode(status: number): DigitalOceanApiErrorCode {
  switch (status) {
    case 401:
      return 'ERR_DO_UNAUTHORIZED';
    case 403:
      return 'ERR_DO_FORBIDDEN';
    case 404:
      return 'ERR_DO_NOT_FOUND';
    case 422:
      return 'ERR_DO_UNPROCESSABLE';
    case 429:
      return 'ERR_DO_RATE_LIMITED';
    default:
      return status >= 500 ? 'ERR_DO_SERVER' : 'ERR_DO_API';
  }
}
