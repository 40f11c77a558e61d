import { logger } from '../../util/log.ts';
import { type ApiResponse, type ProviderProtocol, retryAfterMs } from '../http-client.ts';
import {
  DigitalOceanApiError,
  DigitalOceanDeadlineError,
  type DigitalOceanErrorDetails,
  DigitalOceanNetworkError,
  DigitalOceanRegionError,
} from './errors.ts';

const log = logger('digitalocean');

/**
 * What the shared `JsonApiClient` needs to speak DigitalOcean's API: 429 waits honour `retry-after`, then
 * `ratelimit-reset`; the request ID of an error body wins over the `x-request-id` header; a nearly spent rate limit
 * is logged; errors are DigitalOcean's typed ones.
 */
export const DIGITALOCEAN_PROTOCOL: ProviderProtocol = {
  name: 'digitalocean',
  requestIdHeader: 'x-request-id',
  requestIdInBody: (body) => {
    const fromBody = (body as { request_id?: unknown } | undefined)?.request_id;
    return typeof fromBody === 'string' && fromBody.length > 0 ? fromBody : undefined;
  },
  observe: (response) => {
    const remaining = response.headers.get('ratelimit-remaining');
    if (remaining !== null && Number(remaining) < 10) log('rate limit nearly exhausted: %s left', remaining);
  },
  rateLimitWaitMs,
  apiError,
  networkError: (method, path, timedOut, cause) => new DigitalOceanNetworkError(method, path, timedOut, cause),
  deadlineError: (timeoutMs, doing) => new DigitalOceanDeadlineError(timeoutMs, doing),
};

/** Builds the typed error for a non-success response. */
export function apiError(result: ApiResponse, method: string, path: string): DigitalOceanApiError {
  const body = typeof result.body === 'object' && result.body !== null ? (result.body as Record<string, unknown>) : {};
  const details: DigitalOceanErrorDetails = {
    status: result.status,
    id: typeof body.id === 'string' ? body.id : undefined,
    apiMessage: typeof body.message === 'string' ? body.message : undefined,
    requestId: result.requestId,
    method,
    path,
  };
  if (result.status === 422 && details.apiMessage !== undefined && /region/i.test(details.apiMessage)) {
    return new DigitalOceanRegionError(details);
  }
  return new DigitalOceanApiError(details);
}

/** Whether a 422 means "an earlier action is still in flight" (for the IP or the droplet). */
export function isPendingEvent(result: ApiResponse): boolean {
  const body = result.body as { message?: unknown } | null;
  return result.status === 422 && typeof body?.message === 'string' && /pending event/i.test(body.message);
}

/**
 * How long a 429 asks to wait: `retry-after` (seconds or an HTTP date), else `ratelimit-reset` (Unix seconds —
 * a wall-clock instant, hence `Date.now()`). Undefined when neither is usable.
 */
export function rateLimitWaitMs(headers: Headers): number | undefined {
  const asked = retryAfterMs(headers);
  if (asked !== undefined) return asked;
  const reset = headers.get('ratelimit-reset');
  if (reset !== null && reset.trim() !== '') {
    const seconds = Number(reset);
    if (Number.isFinite(seconds) && seconds > 0) return Math.max(0, seconds * 1000 - Date.now());
  }
  return undefined;
}
