import type { IncomingMessage } from 'node:http';
import type { FakeValidatedRequest } from './fake-digitalocean.ts';
import { FakeProviderServer, type FakeReply, type FakeValidationOptions, TokenBucket } from './fake-provider.ts';

/** A reserved IP the Vultr fake knows. */
export interface FakeVultrReservedIp {
  /** Its ID (Vultr uses UUIDs). */
  id: string;
  /** The address (`subnet`); for IPv6, the network. */
  ip: string;
  /** `subnet_size`. Default 32 for IPv4, 64 for IPv6. */
  subnetSize?: number | undefined;
  /** Initial holder (instance ID). Default: unattached. */
  instanceId?: string | null | undefined;
}

/** Options of {@link FakeVultr.start}. */
export interface FakeVultrOptions extends FakeValidationOptions {
  /** The only API key accepted. Default `'fake-vultr-key'`. */
  token?: string | undefined;
  /** Instance IDs. Default three UUIDs, `FakeVultr.INSTANCES`. */
  instances?: string[] | undefined;
  /** Default: `FakeVultr.RESERVED_IP_ID` = `192.0.2.50`, unattached. */
  reservedIps?: FakeVultrReservedIp[] | undefined;
  /** How long after an accepted attach reads still show the IP unattached. Default 30 ms. */
  attachDurationMs?: number | undefined;
  /** How long after an accepted detach an attach still fails with 400 "already attached". Default 30 ms. */
  detachDurationMs?: number | undefined;
  /** Requests per second before 429 with `Retry-After`. Default 30, as Vultr's. */
  requestsPerSecond?: number | undefined;
  /** What the metadata document's `instance-v2-id` is; `null` answers 404. Settable later. Default `null`. */
  metadataInstanceId?: string | null | undefined;
}

interface IpRecord {
  id: string;
  ip: string;
  subnetSize: number;
  /** Attached instance, as reads show it. */
  instanceId: string | null;
  /** An accepted attach not yet visible. */
  attaching: { instanceId: string; timer: NodeJS.Timeout } | undefined;
  /** Until when (performance.now()) a finished detach is still being torn down. */
  detachingUntil: number;
  /** The next attach is accepted but never takes effect. */
  loseNextAttach: boolean;
}

const LIST = /^\/v2\/reserved-ips$/;
const ONE = /^\/v2\/reserved-ips\/([^/]+)$/;
const ACTION = /^\/v2\/reserved-ips\/([^/]+)\/(attach|detach)$/;
const ALREADY_ATTACHED = 'Reserved IP is already attached to another server';

/**
 * A fake Vultr API v2 (reserved IPs) on a real HTTP server (127.0.0.1, random port), with the metadata service.
 * Like the real API: attach and detach answer 204 before they are done — an attach shows in reads only after
 * `attachDurationMs`, and a detach keeps the old attachment in the background for `detachDurationMs`, during which
 * an attach fails with 400 "…is already attached to another server" (as it does while another instance holds the
 * IP); an unattached IP has `instance_id: ""`; errors are `{"error", "status"}`; more than `requestsPerSecond`
 * requests answer 429 with `Retry-After`; listing is cursor-paged; `/v1.json` has `instanceid` (legacy, numeric)
 * and `instance-v2-id`. Faults are scripted with `inject`; every request is logged in `requests`.
 */
export class FakeVultr extends FakeProviderServer {
  /** The default instances. */
  static readonly INSTANCES: readonly string[] = [
    'a1b2c3d4-0001-4000-8000-000000000001',
    'a1b2c3d4-0002-4000-8000-000000000002',
    'a1b2c3d4-0003-4000-8000-000000000003',
  ];
  /** The default reserved IP's ID. */
  static readonly RESERVED_IP_ID = 'e5f6a7b8-1000-4000-8000-00000000rip1';
  /** What the metadata document's `instance-v2-id` answers (`null`: 404). */
  metadataInstanceId: string | null;
  readonly #token: string;
  readonly #instances: Set<string>;
  readonly #ips = new Map<string, IpRecord>();
  readonly #attachDurationMs: number;
  readonly #detachDurationMs: number;
  readonly #bucket: TokenBucket;

  private constructor(options: FakeVultrOptions) {
    super(options);
    this.#token = options.token ?? 'fake-vultr-key';
    this.#instances = new Set(options.instances ?? FakeVultr.INSTANCES);
    for (const ip of options.reservedIps ?? [{ id: FakeVultr.RESERVED_IP_ID, ip: '192.0.2.50' }]) {
      this.#ips.set(ip.id, {
        id: ip.id,
        ip: ip.ip,
        subnetSize: ip.subnetSize ?? (ip.ip.includes(':') ? 64 : 32),
        instanceId: ip.instanceId ?? null,
        attaching: undefined,
        detachingUntil: 0,
        loseNextAttach: false,
      });
    }
    this.#attachDurationMs = options.attachDurationMs ?? 30;
    this.#detachDurationMs = options.detachDurationMs ?? 30;
    const perSecond = options.requestsPerSecond ?? 30;
    this.#bucket = new TokenBucket(perSecond, 1000 / perSecond);
    this.metadataInstanceId = options.metadataInstanceId ?? null;
  }

  /** Starts a fake on 127.0.0.1 and a free port. */
  static async start(options: FakeVultrOptions = {}): Promise<FakeVultr> {
    const fake = new FakeVultr(options);
    await fake.listen();
    return fake;
  }

  /** Who holds the reserved IP with this address, as reads show it (instance ID or null). */
  holder(ip: string): string | null {
    return this.#byIp(ip).instanceId;
  }

  /** Attaches it at once (or detaches, with null), as a person in the portal would; no background work. */
  moveIp(ip: string, instanceId: string | null): void {
    if (instanceId !== null && !this.#instances.has(instanceId)) throw new Error(`unknown instance ${instanceId}`);
    const record = this.#byIp(ip);
    clearTimeout(record.attaching?.timer);
    record.attaching = undefined;
    record.instanceId = instanceId;
  }

  /** The next attach of this IP answers 204 but never takes effect. */
  loseNextAttach(ip: string): void {
    this.#byIp(ip).loseNextAttach = true;
  }

  /**
   * Ends the background work now, as if its time had elapsed: accepted attaches become visible and detaches finish
   * (so a test need not race a timer).
   */
  finishBackgroundWork(): void {
    for (const record of this.#ips.values()) {
      record.detachingUntil = 0;
      if (record.attaching === undefined) continue;
      clearTimeout(record.attaching.timer);
      record.instanceId = record.attaching.instanceId;
      record.attaching = undefined;
    }
  }

  /** Whether a detach of this IP is still finishing in the background. */
  isDetaching(ip: string): boolean {
    return this.#byIp(ip).detachingUntil > performance.now();
  }

  #byIp(ip: string): IpRecord {
    for (const record of this.#ips.values()) if (record.ip === ip) return record;
    throw new Error(`unknown reserved IP ${ip}`);
  }

  protected isMetadata(pathname: string): boolean {
    return pathname === '/v1.json' || pathname.startsWith('/v1/');
  }

  protected metadata(pathname: string): FakeReply {
    const id = this.metadataInstanceId;
    if (pathname !== '/v1.json' || id === null) return { status: 404, body: 'not found' };
    return {
      status: 200,
      body: { hostname: 'node-1', instanceid: '43210987', 'instance-v2-id': id, region: { regioncode: 'EWR' } },
    };
  }

  protected authorized(headers: IncomingMessage['headers']): boolean {
    return headers.authorization === `Bearer ${this.#token}`;
  }

  protected unauthorized(): FakeReply {
    return { status: 401, body: error(401, 'Invalid API token.') };
  }

  protected defaultError(status: number): unknown {
    return error(status, DEFAULT_MESSAGES[status] ?? 'Internal server error');
  }

  protected spendBudget(): FakeReply | undefined {
    if (this.#bucket.take()) return undefined;
    return {
      status: 429,
      body: error(429, 'Rate limit reached - please try your request again later.'),
      headers: { 'retry-after': String(Math.max(1, Math.ceil(this.#bucket.msToNext() / 1000))) },
    };
  }

  protected commonHeaders(): Record<string, string> {
    return {};
  }

  protected stopTimers(): void {
    for (const record of this.#ips.values()) clearTimeout(record.attaching?.timer);
  }

  protected api(request: FakeValidatedRequest): FakeReply {
    const { method, pathname } = request;
    const notFound: FakeReply = { status: 404, body: error(404, 'Reserved IP not found.') };
    if (method === 'GET' && LIST.test(pathname)) return this.#list(request.query);
    let m = ONE.exec(pathname);
    if (method === 'GET' && m !== null) {
      const record = this.#ips.get(decodeURIComponent(m[1]!));
      return record === undefined ? notFound : { status: 200, body: { reserved_ip: ipJson(record) } };
    }
    m = ACTION.exec(pathname);
    if (method === 'POST' && m !== null) {
      const record = this.#ips.get(decodeURIComponent(m[1]!));
      if (record === undefined) return notFound;
      return m[2] === 'attach' ? this.#attach(record, request.body) : this.#detach(record);
    }
    return { status: 404, body: error(404, 'Not found.') };
  }

  #attach(record: IpRecord, body: unknown): FakeReply {
    const instanceId = (body as { instance_id?: unknown } | undefined)?.instance_id;
    if (typeof instanceId !== 'string' || !this.#instances.has(instanceId)) {
      return { status: 400, body: error(400, 'Invalid instance_id.') };
    }
    const busy =
      (record.instanceId !== null && record.instanceId !== instanceId) ||
      (record.attaching !== undefined && record.attaching.instanceId !== instanceId) ||
      record.detachingUntil > performance.now();
    if (busy) return { status: 400, body: error(400, ALREADY_ATTACHED) };
    if (record.instanceId === instanceId || record.attaching !== undefined) return { status: 204 };
    if (record.loseNextAttach) {
      record.loseNextAttach = false;
      return { status: 204 };
    }
    const timer = setTimeout(() => {
      record.attaching = undefined;
      record.instanceId = instanceId;
    }, this.#attachDurationMs);
    record.attaching = { instanceId, timer };
    return { status: 204 };
  }

  #detach(record: IpRecord): FakeReply {
    if (record.instanceId === null) return { status: 400, body: error(400, 'Reserved IP is not attached.') };
    record.instanceId = null;
    record.detachingUntil = performance.now() + this.#detachDurationMs;
    return { status: 204 };
  }

  #list(query: URLSearchParams): FakeReply {
    const perPage = Number(query.get('per_page') ?? 100);
    const cursor = query.get('cursor');
    const offset = cursor === null || cursor === '' ? 0 : Number(Buffer.from(cursor, 'base64url').toString());
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 500 || !Number.isInteger(offset) || offset < 0) {
      return { status: 400, body: error(400, 'Invalid per_page or cursor.') };
    }
    const all = [...this.#ips.values()];
    const next = offset + perPage < all.length ? Buffer.from(String(offset + perPage)).toString('base64url') : '';
    const prev = offset > 0 ? Buffer.from(String(Math.max(0, offset - perPage))).toString('base64url') : '';
    return {
      status: 200,
      body: {
        reserved_ips: all.slice(offset, offset + perPage).map(ipJson),
        meta: { total: all.length, links: { next, prev } },
      },
    };
  }
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Bad request.',
  401: 'Invalid API token.',
  403: 'Unauthorized IP address.',
  404: 'Not found.',
  429: 'Rate limit reached - please try your request again later.',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

function error(status: number, message: string): Record<string, unknown> {
  return { error: message, status };
}

function ipJson(record: IpRecord): Record<string, unknown> {
  return {
    id: record.id,
    region: 'ewr',
    ip_type: record.ip.includes(':') ? 'v6' : 'v4',
    subnet: record.ip,
    subnet_size: record.subnetSize,
    label: `reserved-${record.id.slice(0, 8)}`,
    instance_id: record.instanceId ?? '',
  };
}
