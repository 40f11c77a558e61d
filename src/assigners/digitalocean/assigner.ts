import { isIP } from 'node:net';
import { AssignerError, ConfigError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { checkHttpUrl, checkInt, checkKnownKeys, checkObject } from '../../util/validate.ts';
import { type AssignOptions, type FloatingIpAssigner, type HolderOptions, TermFence } from '../floating-ip-assigner.ts';
import {
  type ApiResponse,
  assignContext,
  type CallContext,
  COMMON_OPTION_KEYS,
  checkMs,
  checkRetry,
  checkToken,
  JsonApiClient,
  Lazy,
  pauseWithin,
  type RetryPolicy,
} from '../http-client.ts';
import { backoffDelay } from '../timing.ts';
import { apiError, DIGITALOCEAN_PROTOCOL, isPendingEvent } from './client.ts';
import { DIGITALOCEAN_DEFAULTS } from './defaults.ts';
import {
  DigitalOceanActionError,
  DigitalOceanApiError,
  DigitalOceanDeadlineError,
  DigitalOceanNetworkError,
} from './errors.ts';
import { readDropletId } from './metadata.ts';

const log = logger('digitalocean');

/** Retry policy of {@link DigitalOceanAssignerOptions.retry}. */
export interface DigitalOceanRetryOptions {
  /** Attempts per request for 429, 5xx and network errors, the first included. Default 5. */
  maxAttempts?: number | undefined;
  /** First backoff step in ms (doubles per attempt, equal jitter). Default 250. */
  baseDelayMs?: number | undefined;
  /** Largest backoff step in ms. Default 8000. */
  maxDelayMs?: number | undefined;
  /** A 429 whose `retry-after`/`ratelimit-reset` asks for a longer wait fails at once (retryable). Default 60000. */
  maxRateLimitWaitMs?: number | undefined;
}

/** Options of {@link DigitalOceanAssigner}. */
export interface DigitalOceanAssignerOptions {
  /** API token with `reserved_ip:read`, `reserved_ip:update` and `droplet:read` scopes. Sent only as a header. */
  token: string;
  /**
   * The reserved IP: an IPv4 (`'203.0.113.7'`, under `/v2/reserved_ips`) or an IPv6 (`'2001:db8::7'`, under
   * `/v2/reserved_ipv6`). The address family chooses the API.
   */
  ip: string;
  /** This machine's droplet ID. Default: read once from the metadata service. */
  dropletId?: number | undefined;
  /** API base URL. Default `https://api.digitalocean.com`. */
  baseUrl?: string | undefined;
  /** Metadata service base URL. Default `http://169.254.169.254`. */
  metadataUrl?: string | undefined;
  /**
   * API flavour. Default: `reserved_ips` for an IPv4, `reserved_ipv6` for an IPv6. An IPv4 may also use the legacy,
   * equivalent `floating_ips`; an IPv6 only has `reserved_ipv6`.
   */
  endpoint?: DigitalOceanEndpoint | undefined;
  /** Timeout of one HTTP request in ms. Default 10000. */
  requestTimeoutMs?: number | undefined;
  /** Overall deadline of one `assign()` call in ms, waits included. Default 60000. */
  assignTimeoutMs?: number | undefined;
  /**
   * First delay between polls of an action (or of a locked IP) in ms; grows ×1.5 per poll. Default 500: assign
   * actions usually finish in 1–3 s, and failovers are rare enough that a few extra reads cost nothing.
   */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls in ms. Default 4000. */
  maxPollIntervalMs?: number | undefined;
  /** Per-attempt timeout of the metadata request in ms (3 attempts). Default 1000. */
  metadataTimeoutMs?: number | undefined;
  /** Retries of one request on 429, 5xx and network errors; see {@link DigitalOceanRetryOptions} for defaults. */
  retry?: DigitalOceanRetryOptions | undefined;
  /** A `fetch` implementation (proxies, instrumentation, tests). Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch | undefined;
}

/** The API paths an assigner speaks: `/v2/reserved_ips`, `/v2/floating_ips` (legacy, IPv4) or `/v2/reserved_ipv6`. */
export type DigitalOceanEndpoint = 'reserved_ips' | 'floating_ips' | 'reserved_ipv6';

const KNOWN_KEYS = ['token', 'ip', 'dropletId', 'endpoint', ...COMMON_OPTION_KEYS] as const;

interface IpState {
  dropletId: number | null;
  locked: boolean;
}

/**
 * Moves a DigitalOcean reserved IP (formerly "floating IP") to this droplet.
 *
 * `assign()` reads the IP first and returns without any action when it is already here. Otherwise it posts an
 * `assign` action, polls it until `completed` and confirms by reading the IP again: three requests plus one per
 * poll (about 6 for a 3 s action with the default poll schedule). While the IP is locked by an earlier action (or
 * the post answers 422 "pending event") it polls the IP until unlocked and starts over.
 *
 * The address family chooses the API: an IPv4 uses `/v2/reserved_ips` (or the legacy `/v2/floating_ips`), an IPv6
 * `/v2/reserved_ipv6`, whose actions are polled through `/v2/actions/{id}` and whose IP object has no `locked`
 * flag (a 422 "pending event" is then the only sign of a foreign action; repeated ones are met with growing waits). A 422 for another reason (e.g. the droplet is in another region), 401, 403
 * and 404 fail at once. 429 waits as the response asks; 5xx and network errors back off and retry.
 *
 * Fencing: every `assign({ term })` is checked against the highest term this instance has been given. A lower
 * term is refused with `StaleTermError`, and a call that is overtaken by a newer term stops before its next
 * request. DigitalOcean itself cannot fence, so an action already posted still runs; `bindFloatingIp`'s
 * reconciliation corrects the IP if a late action moved it.
 */
export class DigitalOceanAssigner implements FloatingIpAssigner {
  /** The reserved IP this assigner moves (an IPv6 in its canonical, compressed form). */
  readonly ip: string;
  /** The address family of {@link ip}: it chose {@link endpoint}. */
  readonly family: 4 | 6;
  /** The API paths in use. */
  readonly endpoint: DigitalOceanEndpoint;
  readonly #client: JsonApiClient;
  readonly #fence = new TermFence();
  readonly #assignTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxPollIntervalMs: number;
  readonly #retry: RetryPolicy;
  readonly #self: Lazy<number>;

  constructor(options: DigitalOceanAssignerOptions) {
    const o = checkObject(options, 'options');
    checkKnownKeys(o, KNOWN_KEYS);
    // The options are checked in the order they have always been (the first bad one is the one named), so this
    // uses the shared single-option validators rather than checkCommonOptions, whose order differs.
    const token = checkToken(o.token, 'token');
    [this.ip, this.family] = checkIp(o.ip, 'ip');
    const dropletId = o.dropletId === undefined ? undefined : checkInt(o.dropletId, 'dropletId', 1);
    const baseUrl = checkHttpUrl(o.baseUrl ?? DIGITALOCEAN_DEFAULTS.baseUrl, 'baseUrl');
    const metadataUrl = checkHttpUrl(o.metadataUrl ?? DIGITALOCEAN_DEFAULTS.metadataUrl, 'metadataUrl');
    this.endpoint = checkEndpoint(o.endpoint, this.family);
    const requestTimeoutMs = checkMs(o.requestTimeoutMs, 'requestTimeoutMs', DIGITALOCEAN_DEFAULTS.requestTimeoutMs);
    this.#assignTimeoutMs = checkMs(o.assignTimeoutMs, 'assignTimeoutMs', DIGITALOCEAN_DEFAULTS.assignTimeoutMs);
    this.#pollIntervalMs = checkMs(o.pollIntervalMs, 'pollIntervalMs', DIGITALOCEAN_DEFAULTS.pollIntervalMs);
    this.#maxPollIntervalMs = checkMs(
      o.maxPollIntervalMs,
      'maxPollIntervalMs',
      Math.max(4000, this.#pollIntervalMs),
      this.#pollIntervalMs,
    );
    const metadataTimeoutMs = checkMs(
      o.metadataTimeoutMs,
      'metadataTimeoutMs',
      DIGITALOCEAN_DEFAULTS.metadataTimeoutMs,
    );
    this.#retry = checkRetry(o.retry);
    if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new ConfigError('fetch', 'expected a function');
    const fetch = o.fetch as typeof globalThis.fetch | undefined;
    this.#client = new JsonApiClient({
      token,
      baseUrl,
      requestTimeoutMs,
      retry: this.#retry,
      protocol: DIGITALOCEAN_PROTOCOL,
      fetch,
    });
    this.#self = new Lazy(
      () => readDropletId({ metadataUrl, timeoutMs: metadataTimeoutMs, attempts: 3, fetch }),
      dropletId,
    );
  }

  /** This droplet's ID: the `dropletId` option, or read once from the metadata service (then cached). */
  self(options: HolderOptions = {}): Promise<number> {
    return this.#self.get(options.signal);
  }

  /** The droplet holding the IP now, or `null`. One GET (retried on 429/5xx/network errors). */
  async holder(options: HolderOptions = {}): Promise<number | null> {
    const state = await this.#read({ signal: options.signal, idempotent: true });
    return state.dropletId;
  }

  /** Makes this droplet the holder; see the class description. Rejects with typed errors only. */
  async assign(options: AssignOptions = {}): Promise<void> {
    const { signal, term } = options;
    const ctx = assignContext(this.#fence, options, this.#assignTimeoutMs);
    const started = performance.now();
    const me = await this.self({ signal });
    log('assign %s to droplet %d (term %s)', this.ip, me, term);
    let state = await this.#read(ctx);
    let postFailures = 0;
    // Consecutive "pending event" answers wait longer each time: a reserved IPv6 shows no `locked` flag to poll,
    // so without this a long foreign action would be met by a POST every poll interval.
    let pendingDelay = this.#pollIntervalMs;
    for (;;) {
      if (state.locked) {
        state = await this.#waitUnlocked(ctx);
        continue;
      }
      if (state.dropletId === me) {
        log('%s is on droplet %d (term %s, %d ms)', this.ip, me, term, Math.round(performance.now() - started));
        return;
      }
      let response: ApiResponse;
      try {
        response = await this.#client.request(
          'POST',
          this.#actionsPath(),
          { ...ctx, idempotent: false },
          { type: 'assign', droplet_id: me },
        );
      } catch (error) {
        const transient = error instanceof DigitalOceanNetworkError || error instanceof DigitalOceanApiError;
        if (!(transient && error.retryable) || ++postFailures >= this.#retry.maxAttempts) throw error;
        // The action may have been created anyway: look at the IP before posting again.
        await this.#pauseFor(backoffDelay(postFailures, this.#retry.baseDelayMs, this.#retry.maxDelayMs), ctx);
        state = await this.#read(ctx);
        continue;
      }
      if (response.status === 201) {
        const actionId = readActionId(response.body);
        log('assign action %d posted (term %s)', actionId, term);
        state = await this.#followAction(actionId, me, ctx);
        continue;
      }
      if (isPendingEvent(response)) {
        log('pending event on %s; waiting (term %s)', this.ip, term);
        state = await this.#waitUnlocked(ctx, pendingDelay);
        pendingDelay = Math.min(pendingDelay * 1.5, this.#maxPollIntervalMs);
        continue;
      }
      const failure = apiError(response, 'POST', this.#actionsPath());
      if (!failure.retryable || ++postFailures >= this.#retry.maxAttempts) throw failure;
      await this.#pauseFor(backoffDelay(postFailures, this.#retry.baseDelayMs, this.#retry.maxDelayMs), ctx);
      state = await this.#read(ctx);
    }
  }

  // Polls the action until it ends, then returns the IP's (unlocked) state if it is here; throws otherwise.
  async #followAction(actionId: number, me: number, ctx: CallContext): Promise<IpState> {
    // Reserved IPv6 has no per-IP action path; the global one serves every action.
    const path = this.family === 6 ? `/v2/actions/${actionId}` : `${this.#actionsPath()}/${actionId}`;
    let delay = this.#pollIntervalMs;
    for (;;) {
      await this.#pauseFor(delay, ctx);
      delay = Math.min(delay * 1.5, this.#maxPollIntervalMs);
      const response = await this.#client.request('GET', path, ctx);
      if (response.status === 404) {
        // Some IPs' actions cannot be read back: the IP itself tells the outcome once it unlocks.
        log('action %d not found; reading the IP instead', actionId);
        return this.#settle(actionId, me, ctx, 'not-confirmed');
      }
      if (response.status !== 200) throw apiError(response, 'GET', path);
      const status = readActionStatus(response.body);
      if (status === 'completed') return this.#settle(actionId, me, ctx, 'not-confirmed');
      if (status === 'errored') return this.#settle(actionId, me, ctx, 'errored');
    }
  }

  async #settle(
    actionId: number,
    me: number,
    ctx: CallContext,
    outcome: 'errored' | 'not-confirmed',
  ): Promise<IpState> {
    let state = await this.#read(ctx);
    if (state.locked) state = await this.#waitUnlocked(ctx);
    if (state.dropletId === me) return state;
    throw new DigitalOceanActionError(outcome, actionId, state.dropletId);
  }

  // Polls the IP until no action holds it. Every caller has just learnt it is busy, so it waits before each read.
  async #waitUnlocked(ctx: CallContext, firstDelay = this.#pollIntervalMs): Promise<IpState> {
    let delay = firstDelay;
    for (;;) {
      await this.#pauseFor(delay, ctx);
      delay = Math.min(delay * 1.5, this.#maxPollIntervalMs);
      const state = await this.#read(ctx);
      if (!state.locked) return state;
    }
  }

  #pauseFor(ms: number, ctx: CallContext): Promise<void> {
    return pauseWithin(ms, ctx, (timeoutMs) => new DigitalOceanDeadlineError(timeoutMs, 'waiting for the IP'));
  }

  async #read(ctx: CallContext): Promise<IpState> {
    const path = `/v2/${this.endpoint}/${this.ip}`;
    const response = await this.#client.request('GET', path, ctx);
    if (response.status !== 200) throw apiError(response, 'GET', path);
    const key = { reserved_ips: 'reserved_ip', floating_ips: 'floating_ip', reserved_ipv6: 'reserved_ipv6' }[
      this.endpoint
    ];
    const record = (response.body as Record<string, unknown> | undefined)?.[key] as
      | { droplet?: { id?: unknown } | null; locked?: unknown }
      | undefined;
    const id = record?.droplet?.id;
    if (record === undefined || (record.droplet != null && typeof id !== 'number')) {
      throw new AssignerError('ERR_DO_BAD_RESPONSE', `unexpected body from GET ${path}`, { retryable: true });
    }
    return { dropletId: typeof id === 'number' ? id : null, locked: record.locked === true };
  }

  #actionsPath(): string {
    return `/v2/${this.endpoint}/${this.ip}/actions`;
  }
}

function readActionId(body: unknown): number {
  const id = (body as { action?: { id?: unknown } } | undefined)?.action?.id;
  if (typeof id !== 'number') {
    throw new AssignerError('ERR_DO_BAD_RESPONSE', 'the assign response carries no action ID', { retryable: true });
  }
  return id;
}

function readActionStatus(body: unknown): unknown {
  return (body as { action?: { status?: unknown } } | undefined)?.action?.status;
}

function checkIp(value: unknown, field: string): [string, 4 | 6] {
  const family = typeof value === 'string' ? isIP(value) : 0;
  if (family === 4) return [value as string, 4];
  if (family !== 6) throw new ConfigError(field, 'expected an IPv4 or IPv6 address');
  // A zone index (`fe80::1%eth0`) is no public address; the URL parser refuses it, and prints the canonical form.
  let canonical: string;
  try {
    canonical = new URL(`http://[${value as string}]/`).hostname.slice(1, -1);
  } catch {
    throw new ConfigError(field, 'expected an IPv6 address without a zone index');
  }
  return [canonical, 6];
}

function checkEndpoint(value: unknown, family: 4 | 6): DigitalOceanEndpoint {
  if (family === 6) {
    if (value !== undefined && value !== 'reserved_ipv6') {
      throw new ConfigError('endpoint', "an IPv6 address is only served by 'reserved_ipv6'");
    }
    return 'reserved_ipv6';
  }
  if (value === undefined) return 'reserved_ips';
  if (value === 'reserved_ipv6') throw new ConfigError('endpoint', "'reserved_ipv6' serves IPv6 addresses only");
  if (value !== 'reserved_ips' && value !== 'floating_ips') {
    throw new ConfigError('endpoint', "expected 'reserved_ips', 'floating_ips' or 'reserved_ipv6'");
  }
  return value;
}
