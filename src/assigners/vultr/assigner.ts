import { BlockList, isIP } from 'node:net';
import { AssignerError, ConfigError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { checkInt, checkKnownKeys, checkObject, checkString } from '../../util/validate.ts';
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
  isAttachRace,
  VultrApiError,
  VultrAttachError,
  VultrDeadlineError,
  VultrIpNotFoundError,
  VultrMetadataError,
  VultrNetworkError,
} from './errors.ts';

const log = logger('vultr');

/** Options of {@link VultrAssigner}. */
export interface VultrAssignerOptions {
  /** Vultr API key (Account → API). Sent only as a header. */
  token: string;
  /** The reserved IP's address: an IPv4 address, or for a reserved IPv6 subnet, its network or any address in it. */
  ip: string;
  /** This instance's ID (a UUID, as API v2 and `instance-v2-id` have it). Default: read once from the metadata service. */
  instanceId?: string | undefined;
  /** The reserved IP's ID. Default: found once by listing the account's reserved IPs. */
  reservedIpId?: string | undefined;
  /** API base URL (without `/v2`). Default `https://api.vultr.com`. */
  baseUrl?: string | undefined;
  /** Metadata service base URL. Default `http://169.254.169.254`. */
  metadataUrl?: string | undefined;
  /** Timeout of one HTTP request in ms. Default 10000. */
  requestTimeoutMs?: number | undefined;
  /** Overall deadline of one `assign()` call in ms, waits included. Default 60000. */
  assignTimeoutMs?: number | undefined;
  /** First delay between confirming reads (and after an "already attached" race) in ms; ×1.5 per read. Default 500. */
  pollIntervalMs?: number | undefined;
  /** Largest delay between reads in ms. Default 4000. */
  maxPollIntervalMs?: number | undefined;
  /** How long reads may show the IP unattached after an accepted attach before it is sent again, in ms. Default 15000. */
  confirmTimeoutMs?: number | undefined;
  /** Attach requests per `assign()` (races and unconfirmed attaches included). Default 10. */
  maxAttachAttempts?: number | undefined;
  /** Per-attempt timeout of the metadata request in ms (3 attempts). Default 1000. */
  metadataTimeoutMs?: number | undefined;
  /** Retries of one request on 429, 5xx and network errors (defaults: 5 attempts, 250 ms → 8 s, 60 s cap). */
  retry?: RetryOptions | undefined;
  /** A `fetch` implementation (proxies, instrumentation, tests). Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch | undefined;
}

const KNOWN_KEYS = [
  'token',
  'ip',
  'instanceId',
  'reservedIpId',
  'confirmTimeoutMs',
  'maxAttachAttempts',
  ...COMMON_OPTION_KEYS,
] as const;

/** Default address of the Vultr metadata service (link-local, no token). */
export const VULTR_METADATA_URL = 'http://169.254.169.254';

const PROTOCOL: ProviderProtocol = {
  name: 'vultr',
  requestIdHeader: 'x-request-id',
  rateLimitWaitMs: retryAfterMs,
  apiError: vultrApiError,
  networkError: (method, path, timedOut, cause) => new VultrNetworkError(method, path, timedOut, cause),
  deadlineError: (timeoutMs, doing) => new VultrDeadlineError(timeoutMs, doing),
};

/**
 * Moves a Vultr reserved IP to this instance.
 *
 * The first call finds the reserved IP's ID by listing the account's reserved IPs (500 a page, cursor paging) and
 * keeps it. `assign()` reads the IP (`instance_id`, empty when unattached) and returns at once when it is already
 * here. Otherwise, if another instance holds it, it detaches it; then it attaches it here. The attach answers 204
 * before it is done, so the assigner confirms by reading until `instance_id` is this instance (3–4 requests and
 * a few reads per failover). A detach finishes in the background: an attach right after it can fail with 400
 * "…is already attached to another server", which waits a poll interval, re-reads and tries again, at most
 * `maxAttachAttempts` attaches. 429 waits as `Retry-After` says; 5xx and network errors back off, and after a
 * failed attach or detach the IP is re-read before anything is sent again.
 *
 * Vultr only routes the address: the instance must also configure it on an interface.
 */
export class VultrAssigner implements FloatingIpAssigner {
  /** The reserved IP's address as configured. */
  readonly ip: string;
  readonly #matches: (subnet: string, size: number | undefined) => boolean;
  readonly #client: JsonApiClient;
  readonly #fence = new TermFence();
  readonly #assignTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxPollIntervalMs: number;
  readonly #confirmTimeoutMs: number;
  readonly #maxAttachAttempts: number;
  readonly #retry: RetryPolicy;
  readonly #self: Lazy<string>;
  #reservedIpId: string | undefined;

  constructor(options: VultrAssignerOptions) {
    const o = checkObject(options, 'options');
    checkKnownKeys(o, KNOWN_KEYS);
    const token = checkToken(o.token, 'token');
    const { ip, matches } = checkVultrIp(o.ip, 'ip');
    this.ip = ip;
    this.#matches = matches;
    const instanceId = o.instanceId === undefined ? undefined : checkId(o.instanceId, 'instanceId');
    this.#reservedIpId = o.reservedIpId === undefined ? undefined : checkId(o.reservedIpId, 'reservedIpId');
    const c = checkCommonOptions(o, { baseUrl: 'https://api.vultr.com', metadataUrl: VULTR_METADATA_URL });
    this.#assignTimeoutMs = c.assignTimeoutMs;
    this.#pollIntervalMs = c.pollIntervalMs;
    this.#maxPollIntervalMs = c.maxPollIntervalMs;
    this.#retry = c.retry;
    this.#confirmTimeoutMs = checkInt(o.confirmTimeoutMs ?? 15_000, 'confirmTimeoutMs', 1, 2_147_483_647);
    this.#maxAttachAttempts = checkInt(o.maxAttachAttempts ?? 10, 'maxAttachAttempts', 1, 1000);
    this.#client = new JsonApiClient({ token, ...c, protocol: PROTOCOL });
    const { metadataUrl, metadataTimeoutMs, fetch } = c;
    this.#self = new Lazy(
      () =>
        readMetadataText({
          url: `${metadataUrl}/v1.json`,
          timeoutMs: metadataTimeoutMs,
          attempts: 3,
          fetch,
          name: 'vultr',
          parse: instanceV2Id,
          fail: (url, reason, cause) => new VultrMetadataError(url, reason, cause),
        }),
      instanceId,
    );
  }

  /** This instance's ID: the `instanceId` option, or `instance-v2-id` read once from the metadata service. */
  self(options: HolderOptions = {}): Promise<string> {
    return this.#self.get(options.signal);
  }

  /** The instance holding the IP now, or `null`. Lists reserved IPs once to find the ID, then one GET. */
  async holder(options: HolderOptions = {}): Promise<string | null> {
    const ctx: CallContext = { signal: options.signal, idempotent: true };
    return this.#read(await this.#id(ctx), ctx);
  }

  /** Makes this instance the holder; see the class description. Rejects with typed errors only. */
  async assign(options: AssignOptions = {}): Promise<void> {
    const ctx = assignContext(this.#fence, options, this.#assignTimeoutMs);
    const { signal, term } = options;
    const started = performance.now();
    const me = await this.self({ signal });
    const id = await this.#id(ctx);
    log('assign %s (%s) to instance %s (term %s)', this.ip, id, me, term);
    let holder = await this.#read(id, ctx);
    // Whom this call detached the IP from: reads may still show them while the detach finishes.
    let detachedFrom: string | null = null;
    let attaches = 0;
    let failures = 0;
    let raceDelay = this.#pollIntervalMs;
    for (;;) {
      if (holder === me) {
        log('%s is on instance %s (term %s, %d ms)', this.ip, me, term, Math.round(performance.now() - started));
        return;
      }
      const step = holder === null || holder === detachedFrom ? 'attach' : 'detach';
      if (step === 'attach' && attaches >= this.#maxAttachAttempts) throw new VultrAttachError(holder, attaches);
      const path = `/v2/reserved-ips/${id}/${step}`;
      let response: ApiResponse;
      try {
        if (step === 'attach') attaches++;
        response = await this.#client.request(
          'POST',
          path,
          { ...ctx, idempotent: false },
          step === 'attach' ? { instance_id: me } : undefined,
        );
      } catch (error) {
        if (!(error instanceof VultrNetworkError || error instanceof VultrApiError) || !error.retryable) throw error;
        if (++failures >= this.#retry.maxAttempts) throw error;
        // It may have happened anyway: look at the IP before sending anything again.
        await this.#pause(this.#backoff(failures), ctx);
        holder = await this.#read(id, ctx);
        continue;
      }
      if (response.status === 204) {
        log('%s accepted (term %s)', step, term);
        if (step === 'detach') detachedFrom = holder;
        else holder = await this.#confirm(id, me, detachedFrom, ctx);
        continue;
      }
      const failure = vultrApiError(response, 'POST', path);
      if (isAttachRace(response.status, failure.apiMessage)) {
        // The previous attachment is still being torn down in the background: wait, re-read, try again.
        log('attach raced a detach; waiting %d ms (term %s)', Math.round(raceDelay), term);
        await this.#pause(raceDelay, ctx);
        raceDelay = Math.min(raceDelay * 1.5, this.#maxPollIntervalMs);
        holder = await this.#read(id, ctx);
        continue;
      }
      if (!failure.retryable || ++failures >= this.#retry.maxAttempts) throw failure;
      await this.#pause(this.#backoff(failures), ctx);
      holder = await this.#read(id, ctx);
    }
  }

  // After an accepted attach: read until the IP shows up here. Another holder means someone else won; nothing
  // within confirmTimeoutMs means the attach did not take, and the caller sends it again.
  async #confirm(id: string, me: string, detachedFrom: string | null, ctx: CallContext): Promise<string | null> {
    const until = performance.now() + this.#confirmTimeoutMs;
    let delay = this.#pollIntervalMs;
    for (;;) {
      await this.#pause(delay, ctx);
      delay = Math.min(delay * 1.5, this.#maxPollIntervalMs);
      const holder = await this.#read(id, ctx);
      if (holder === me) return holder;
      if (holder !== null && holder !== detachedFrom) throw new VultrAttachError(holder, 1);
      if (performance.now() + delay > until) {
        log('attach not visible after %d ms; sending it again', this.#confirmTimeoutMs);
        return holder;
      }
    }
  }

  #pause(ms: number, ctx: CallContext): Promise<void> {
    return pauseWithin(ms, ctx, (timeoutMs) => new VultrDeadlineError(timeoutMs, 'waiting for the reserved IP'));
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
  }

  async #read(id: string, ctx: CallContext): Promise<string | null> {
    const path = `/v2/reserved-ips/${id}`;
    const response = await this.#client.request('GET', path, ctx);
    if (response.status === 404) this.#reservedIpId = undefined;
    if (response.status !== 200) throw vultrApiError(response, 'GET', path);
    const instance = (response.body as { reserved_ip?: { instance_id?: unknown } } | undefined)?.reserved_ip
      ?.instance_id;
    // An unattached reserved IP has `instance_id: ""` (some responses say null).
    if (instance === '' || instance === null) return null;
    if (typeof instance !== 'string') throw badResponse(`GET ${path}`);
    return instance;
  }

  // The reserved IP's ID: given, found before, or found now by listing every page once.
  async #id(ctx: CallContext): Promise<string> {
    if (this.#reservedIpId !== undefined) return this.#reservedIpId;
    let scanned = 0;
    for (let cursor: string | null = ''; cursor !== null; ) {
      const path = `/v2/reserved-ips?per_page=500${cursor === '' ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const response = await this.#client.request('GET', path, ctx);
      if (response.status !== 200) throw vultrApiError(response, 'GET', path);
      const body = response.body as {
        reserved_ips?: Array<{ id?: unknown; subnet?: unknown; subnet_size?: unknown }>;
        meta?: { links?: { next?: unknown } };
      };
      if (!Array.isArray(body?.reserved_ips)) throw badResponse(`GET ${path}`);
      for (const entry of body.reserved_ips) {
        scanned++;
        const size = typeof entry.subnet_size === 'number' ? entry.subnet_size : undefined;
        if (typeof entry.id === 'string' && typeof entry.subnet === 'string' && this.#matches(entry.subnet, size)) {
          log('reserved IP %s has ID %s', this.ip, entry.id);
          this.#reservedIpId = entry.id;
          return entry.id;
        }
      }
      const next = body.meta?.links?.next;
      cursor = typeof next === 'string' && next !== '' && next !== cursor ? next : null;
    }
    throw new VultrIpNotFoundError(this.ip, scanned);
  }
}

/** Builds the typed error for a non-success response (`{"error": "...", "status": N}`). */
function vultrApiError(result: ApiResponse, method: string, path: string): VultrApiError {
  const message = (result.body as { error?: unknown } | undefined)?.error;
  return new VultrApiError({
    status: result.status,
    apiMessage: typeof message === 'string' && message !== '' ? message : undefined,
    requestId: result.requestId,
    method,
    path: path.split('?')[0]!,
  });
}

// `instance-v2-id` from the metadata document; the legacy numeric `instanceid` does not work with API v2.
function instanceV2Id(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { 'instance-v2-id'?: unknown })['instance-v2-id'];
    return typeof id === 'string' && /^[0-9a-f-]{8,64}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

function badResponse(what: string): AssignerError {
  return new AssignerError('ERR_VULTR_BAD_RESPONSE', `unexpected body from ${what}`, { retryable: true });
}

function checkId(value: unknown, field: string): string {
  const id = checkString(value, field, 64);
  if (!/^[0-9A-Za-z-]+$/.test(id)) throw new ConfigError(field, 'expected a Vultr ID (letters, digits, dashes)');
  return id;
}

/** Validates the `ip` option; returns how to recognise it among reserved IPs (`subnet` + `subnet_size`). */
function checkVultrIp(
  value: unknown,
  field: string,
): { ip: string; matches: (subnet: string, size: number | undefined) => boolean } {
  if (typeof value !== 'string' || isIP(value) === 0) throw new ConfigError(field, 'expected an IPv4 or IPv6 address');
  if (isIP(value) === 4) return { ip: value, matches: (subnet) => subnet === value };
  return {
    ip: value,
    matches: (subnet, size) => {
      if (isIP(subnet) !== 6) return false;
      const block = new BlockList();
      block.addSubnet(subnet, size ?? 64, 'ipv6');
      return block.check(value, 'ipv6');
    },
  };
}
