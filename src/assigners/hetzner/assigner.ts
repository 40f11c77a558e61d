import { BlockList, isIP } from 'node:net';
import { AssignerError, ConfigError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { checkInt, checkKnownKeys, checkObject } from '../../util/validate.ts';
import { type AssignOptions, type FloatingIpAssigner, type HolderOptions, TermFence } from '../floating-ip-assigner.ts';
import {
  type ApiResponse,
  assignContext,
  type CallContext,
  COMMON_OPTION_KEYS,
  checkCommonOptions,
  checkToken,
  JsonApiClient,
  Lazy,
  type ProviderProtocol,
  pauseWithin,
  type RetryOptions,
  type RetryPolicy,
  readMetadataText,
  retryAfterMs,
} from '../http-client.ts';
import { backoffDelay } from '../timing.ts';
import {
  HetznerActionError,
  HetznerApiError,
  HetznerDeadlineError,
  HetznerIpNotFoundError,
  HetznerMetadataError,
  HetznerNetworkError,
} from './errors.ts';

const log = logger('hetzner');

/** Options of {@link HetznerAssigner}. */
export interface HetznerAssignerOptions {
  /** Hetzner Cloud API token of the project (Read & Write). Sent only as a header. */
  token: string;
  /**
   * The Floating IP's address: an IPv4 address, or for an IPv6 Floating IP its `/64` network or any address in it
   * (e.g. the one you configure on the interface).
   */
  ip: string;
  /** This server's ID. Default: read once from the metadata service. */
  serverId?: number | undefined;
  /** The Floating IP's numeric ID. Default: found once by listing the project's Floating IPs. */
  floatingIpId?: number | undefined;
  /** API base URL (without `/v1`). Default `https://api.hetzner.cloud`. */
  baseUrl?: string | undefined;
  /** Metadata service base URL. Default `http://169.254.169.254`. */
  metadataUrl?: string | undefined;
  /** Timeout of one HTTP request in ms. Default 10000. */
  requestTimeoutMs?: number | undefined;
  /** Overall deadline of one `assign()` call in ms, waits included. Default 60000. */
  assignTimeoutMs?: number | undefined;
  /** First delay between polls of an action (or of a locked IP) in ms; grows ×1.5 per poll. Default 500. */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls in ms. Default 4000. */
  maxPollIntervalMs?: number | undefined;
  /** Per-attempt timeout of the metadata request in ms (3 attempts). Default 1000. */
  metadataTimeoutMs?: number | undefined;
  /** Retries of one request on 429, 5xx and network errors (defaults: 5 attempts, 250 ms → 8 s, 60 s cap). */
  retry?: RetryOptions | undefined;
  /** A `fetch` implementation (proxies, instrumentation, tests). Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch | undefined;
}

const KNOWN_KEYS = ['token', 'ip', 'serverId', 'floatingIpId', ...COMMON_OPTION_KEYS] as const;

/** Default address of the Hetzner Cloud metadata service (link-local, no token). */
export const HETZNER_METADATA_URL = 'http://169.254.169.254';

// Listing pages: the largest Hetzner allows, so most projects need one request.
const PER_PAGE = 50;

const PROTOCOL: ProviderProtocol = {
  name: 'hetzner',
  requestIdHeader: 'x-correlation-id',
  rateLimitWaitMs: hetznerRateLimitWaitMs,
  apiError: hetznerApiError,
  networkError: (method, path, timedOut, cause) => new HetznerNetworkError(method, path, timedOut, cause),
  deadlineError: (timeoutMs, doing) => new HetznerDeadlineError(timeoutMs, doing),
};

/**
 * Moves a Hetzner Cloud Floating IP to this server.
 *
 * The first call finds the Floating IP's ID by listing the project's Floating IPs (paged, 50 a page) and keeps it.
 * `assign()` reads the IP and returns at once when it is already here. Otherwise it posts the `assign` action,
 * polls `GET /v1/actions/{id}` until `success` or `error` (the 201 comes even for actions that later fail), and
 * confirms by reading the IP again: 3 requests plus one per poll. `locked` (another action is running) waits
 * and retries; `conflict`, 5xx and network errors after the post re-read the IP before posting again (the action
 * may have been created); 422 `floating_ip_assigned` re-reads (it is already here, or someone raced us). 429 waits
 * for the next token (one a second), not for `RateLimit-Reset`, which is when the whole bucket is full again.
 *
 * Hetzner only routes the address: the server must also configure it on an interface (`ip addr add`).
 */
export class HetznerAssigner implements FloatingIpAssigner {
  /** The Floating IP's address as configured. */
  readonly ip: string;
  readonly #matches: (listed: string) => boolean;
  readonly #client: JsonApiClient;
  readonly #fence = new TermFence();
  readonly #assignTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxPollIntervalMs: number;
  readonly #retry: RetryPolicy;
  readonly #self: Lazy<number>;
  #floatingIpId: number | undefined;

  constructor(options: HetznerAssignerOptions) {
    const o = checkObject(options, 'options');
    checkKnownKeys(o, KNOWN_KEYS);
    const token = checkToken(o.token, 'token');
    const { ip, matches } = checkHetznerIp(o.ip, 'ip');
    this.ip = ip;
    this.#matches = matches;
    const serverId = o.serverId === undefined ? undefined : checkInt(o.serverId, 'serverId', 1);
    this.#floatingIpId = o.floatingIpId === undefined ? undefined : checkInt(o.floatingIpId, 'floatingIpId', 1);
    const c = checkCommonOptions(o, { baseUrl: 'https://api.hetzner.cloud', metadataUrl: HETZNER_METADATA_URL });
    this.#assignTimeoutMs = c.assignTimeoutMs;
    this.#pollIntervalMs = c.pollIntervalMs;
    this.#maxPollIntervalMs = c.maxPollIntervalMs;
    this.#retry = c.retry;
    const { metadataUrl, metadataTimeoutMs, fetch } = c;
    this.#client = new JsonApiClient({ token, ...c, protocol: PROTOCOL });
    this.#self = new Lazy(
      async () =>
        Number(
          await readMetadataText({
            url: `${metadataUrl}/hetzner/v1/metadata/instance-id`,
            timeoutMs: metadataTimeoutMs,
            attempts: 3,
            fetch,
            name: 'hetzner',
            parse: (text) => (/^[1-9]\d{0,15}$/.test(text.trim()) ? text.trim() : undefined),
            fail: (url, reason, cause) => new HetznerMetadataError(url, reason, cause),
          }),
        ),
      serverId,
    );
  }

  /** This server's ID: the `serverId` option, or read once from the metadata service (then cached). */
  self(options: HolderOptions = {}): Promise<number> {
    return this.#self.get(options.signal);
  }

  /** The server holding the IP now, or `null`. Lists Floating IPs once to find the ID, then one GET. */
  async holder(options: HolderOptions = {}): Promise<number | null> {
    const ctx: CallContext = { signal: options.signal, idempotent: true };
    return this.#read(await this.#id(ctx), ctx);
  }

  /** Makes this server the holder; see the class description. Rejects with typed errors only. */
  async assign(options: AssignOptions = {}): Promise<void> {
    const ctx = assignContext(this.#fence, options, this.#assignTimeoutMs);
    const { signal, term } = options;
    const started = performance.now();
    const me = await this.self({ signal });
    const id = await this.#id(ctx);
    const path = `/v1/floating_ips/${id}/actions/assign`;
    log('assign %s (%d) to server %d (term %s)', this.ip, id, me, term);
    let holder = await this.#read(id, ctx);
    let failures = 0;
    let lockedDelay = this.#pollIntervalMs;
    for (;;) {
      if (holder === me) {
        log('%s is on server %d (term %s, %d ms)', this.ip, me, term, Math.round(performance.now() - started));
        return;
      }
      let response: ApiResponse;
      try {
        response = await this.#client.request('POST', path, { ...ctx, idempotent: false }, { server: me });
      } catch (error) {
        if (!(error instanceof HetznerNetworkError || error instanceof HetznerApiError) || !error.retryable)
          throw error;
        if (++failures >= this.#retry.maxAttempts) throw error;
        // The action may have been created anyway: look at the IP before posting again.
        await this.#pause(this.#backoff(failures), ctx);
        holder = await this.#read(id, ctx);
        continue;
      }
      if (response.status === 201) {
        holder = await this.#follow(readAction(response.body).id, id, me, ctx);
        continue;
      }
      const failure = hetznerApiError(response, 'POST', path);
      if (failure.providerCode === 'locked') {
        // Another action runs on the IP (or the server): poll until it is over, bounded by the deadline.
        log('%s is locked; waiting %d ms (term %s)', this.ip, Math.round(lockedDelay), term);
        await this.#pause(lockedDelay, ctx);
        lockedDelay = Math.min(lockedDelay * 1.5, this.#maxPollIntervalMs);
        holder = await this.#read(id, ctx);
        continue;
      }
      if (failure.providerCode === 'floating_ip_assigned') {
        // Already assigned: to us (a retried post that went through) or to someone who raced us.
        holder = await this.#read(id, ctx);
        if (holder === me) continue;
      }
      if (!(failure.retryable || failure.providerCode === 'floating_ip_assigned')) throw failure;
      if (++failures >= this.#retry.maxAttempts) throw failure;
      await this.#pause(this.#backoff(failures), ctx);
      holder = await this.#read(id, ctx);
    }
  }

  // Polls the action until it ends, then confirms by reading the IP. Returns the holder when it is us.
  async #follow(actionId: number, id: number, me: number, ctx: CallContext): Promise<number | null> {
    const path = `/v1/actions/${actionId}`;
    let delay = this.#pollIntervalMs;
    for (;;) {
      await this.#pause(delay, ctx);
      delay = Math.min(delay * 1.5, this.#maxPollIntervalMs);
      const response = await this.#client.request('GET', path, ctx);
      if (response.status !== 200) throw hetznerApiError(response, 'GET', path);
      const action = readAction(response.body);
      if (action.status === 'running') continue;
      const holder = await this.#read(id, ctx);
      log('action %d ended %s; the IP is on %s', actionId, action.status, holder);
      if (holder === me) return holder;
      throw new HetznerActionError(
        action.status === 'error' ? 'error' : 'not-confirmed',
        actionId,
        holder,
        action.errorCode,
      );
    }
  }

  #pause(ms: number, ctx: CallContext): Promise<void> {
    return pauseWithin(ms, ctx, (timeoutMs) => new HetznerDeadlineError(timeoutMs, 'waiting for the Floating IP'));
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
  }

  async #read(id: number, ctx: CallContext): Promise<number | null> {
    const path = `/v1/floating_ips/${id}`;
    const response = await this.#client.request('GET', path, ctx);
    if (response.status === 404) this.#floatingIpId = undefined; // deleted (or re-created): list again next time
    if (response.status !== 200) throw hetznerApiError(response, 'GET', path);
    const server = (response.body as { floating_ip?: { server?: unknown } } | undefined)?.floating_ip?.server;
    if (server === null) return null;
    if (typeof server !== 'number') throw badResponse(`GET ${path}`);
    return server;
  }

  // The Floating IP's ID: given, found before, or found now by listing every page once.
  async #id(ctx: CallContext): Promise<number> {
    if (this.#floatingIpId !== undefined) return this.#floatingIpId;
    let scanned = 0;
    for (let page: number | null = 1; page !== null; ) {
      const path = `/v1/floating_ips?page=${page}&per_page=${PER_PAGE}`;
      const response = await this.#client.request('GET', path, ctx);
      if (response.status !== 200) throw hetznerApiError(response, 'GET', path);
      const body = response.body as {
        floating_ips?: Array<{ id?: unknown; ip?: unknown }>;
        meta?: { pagination?: { next_page?: unknown } };
      };
      if (!Array.isArray(body?.floating_ips)) throw badResponse(`GET ${path}`);
      for (const entry of body.floating_ips) {
        scanned++;
        if (typeof entry.ip === 'string' && typeof entry.id === 'number' && this.#matches(entry.ip)) {
          log('Floating IP %s has ID %d', this.ip, entry.id);
          this.#floatingIpId = entry.id;
          return entry.id;
        }
      }
      const next = body.meta?.pagination?.next_page;
      page = typeof next === 'number' && next > page ? next : null;
    }
    throw new HetznerIpNotFoundError(this.ip, scanned);
  }
}

/** Builds the typed error for a non-success response. */
function hetznerApiError(result: ApiResponse, method: string, path: string): HetznerApiError {
  const error = (result.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return new HetznerApiError({
    status: result.status,
    providerCode: typeof error?.code === 'string' ? error.code : undefined,
    apiMessage: typeof error?.message === 'string' ? error.message : undefined,
    requestId: result.requestId,
    method,
    path: path.split('?')[0]!,
  });
}

/**
 * How long a Hetzner 429 asks to wait. `Retry-After` if present; otherwise the time to the next token. Hetzner's
 * `RateLimit-Reset` is when the bucket is *full* again — up to an hour away — and it refills evenly until then,
 * so one token comes every `(Reset − now) / (Limit − Remaining)`.
 */
export function hetznerRateLimitWaitMs(headers: Headers): number | undefined {
  const asked = retryAfterMs(headers);
  if (asked !== undefined) return asked;
  const reset = Number(headers.get('ratelimit-reset') ?? Number.NaN);
  if (!Number.isFinite(reset) || reset <= 0) return undefined;
  const untilFull = Math.max(0, reset * 1000 - Date.now());
  const limit = Number(headers.get('ratelimit-limit') ?? Number.NaN);
  const remaining = Number(headers.get('ratelimit-remaining') ?? Number.NaN);
  if (Number.isFinite(limit) && Number.isFinite(remaining) && limit > remaining && remaining >= 0) {
    return Math.min(untilFull, Math.ceil(untilFull / (limit - remaining)));
  }
  return untilFull;
}

function readAction(body: unknown): { id: number; status: string; errorCode: string | undefined } {
  const action = (body as { action?: { id?: unknown; status?: unknown; error?: { code?: unknown } | null } })?.action;
  if (typeof action?.id !== 'number' || typeof action.status !== 'string') throw badResponse('an action response');
  const code = action.error?.code;
  return { id: action.id, status: action.status, errorCode: typeof code === 'string' ? code : undefined };
}

function badResponse(what: string): AssignerError {
  return new AssignerError('ERR_HETZNER_BAD_RESPONSE', `unexpected body from ${what}`, { retryable: true });
}

/** Validates the `ip` option; returns how to recognise it in Hetzner's listing (IPv6 Floating IPs are /64s). */
function checkHetznerIp(value: unknown, field: string): { ip: string; matches: (listed: string) => boolean } {
  if (typeof value !== 'string') throw new ConfigError(field, 'expected an IPv4 address or an IPv6 address or /64');
  const [address, prefix] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 4 && prefix === undefined) return { ip: value, matches: (listed) => listed === value };
  if (family === 6 && (prefix === undefined || prefix === '64')) {
    return {
      ip: value,
      matches: (listed) => {
        const [network, bits] = listed.split('/');
        if (network === undefined || isIP(network) !== 6) return false;
        const block = new BlockList();
        block.addSubnet(network, Number(bits ?? 64), 'ipv6');
        return block.check(address!, 'ipv6');
      },
    };
  }
  throw new ConfigError(field, 'expected an IPv4 address or an IPv6 address or /64');
}
