import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { FakeProviderServer, type FakeReply } from './fake-provider.ts';

/** A droplet the fake knows. */
export interface FakeDroplet {
  /** The droplet ID (what the metadata service and the assigner call it). */
  id: number;
  /** Region slug, e.g. `nyc3`. Assigning an IP of another region answers 422. */
  region: string;
  /** A name, for answers that include one. */
  name?: string | undefined;
}

/** A reserved IP the fake knows: an IPv4 (served under `/v2/reserved_ips` and `/v2/floating_ips`) or an IPv6 (under `/v2/reserved_ipv6`). */
export interface FakeReservedIp {
  /** The address; an IPv6 may be written in any form (the fake keys it by its canonical, compressed form). */
  ip: string;
  /** Region slug of the IP; only droplets of the same region can take it. */
  region: string;
  /** Initial holder. Default: unassigned. */
  dropletId?: number | null | undefined;
  /** Polling this IP's actions answers 404, as happens for some real IPs. */
  actionsNotFound?: boolean | undefined;
}

/** One request as the fake received it. The Authorization header is never kept, only whether it matched. */
export interface FakeRequestRecord {
  /** 1, 2, 3… in arrival order. */
  seq: number;
  /** `performance.now()` at arrival. */
  at: number;
  /** The HTTP method. */
  method: string;
  /** Path and query, e.g. `/v2/reserved_ips/203.0.113.10/actions/7`. */
  path: string;
  /** An API request, or one to the metadata service. */
  kind: 'api' | 'metadata';
  /** Parsed JSON body, if any. */
  body: unknown;
  /** Whether it carried an `Authorization` header (its value is never recorded). */
  hadAuthorization: boolean;
  /** The bearer token matched. */
  authorized: boolean;
  /** Set once answered: the HTTP status, or `'dropped'` when the connection was destroyed instead. */
  outcome: number | 'dropped' | undefined;
}

/** What a validator is shown of a request. */
export interface FakeValidatedRequest {
  /** The HTTP method. */
  method: string;
  /** Path without query. */
  pathname: string;
  /** The query parameters. */
  query: URLSearchParams;
  /** The request headers (as received; the token is among them: never log them). */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; `undefined` when there was none. */
  body: unknown;
  /** The body as received. */
  rawBody: string;
}

/** Returns the problems with a request (empty when it is fine). */
export type FakeRequestValidator = (request: FakeValidatedRequest) => string[];
/** Returns the problems with a response the fake is about to send (empty when it is fine). */
export type FakeResponseValidator = (request: FakeValidatedRequest, status: number, body: unknown) => string[];

/** Options of {@link FakeDigitalOcean.start}. */
export interface FakeDigitalOceanOptions {
  /** The only bearer token accepted. Default `'fake-do-token'`. */
  token?: string | undefined;
  /** Default: droplets 101, 102, 103 in `nyc3` and 201 in `ams3`. */
  droplets?: FakeDroplet[] | undefined;
  /** Default: `203.0.113.10` in `nyc3`, unassigned. */
  reservedIps?: FakeReservedIp[] | undefined;
  /** How long an action stays `in-progress` (and its IP `locked`). Default 30 ms. */
  actionDurationMs?: number | undefined;
  /** Sliding-window request budget; beyond it, 429 with `retry-after` and `ratelimit-*`. Default 250 per 60 s. */
  rateLimit?:
    | {
        /** Requests allowed per window. */
        limit: number;
        /** The sliding window, ms. */
        windowMs: number;
      }
    | undefined;
  /** What `/metadata/v1/id` answers; `null` answers 404. Settable later. Default `null`. */
  metadataDropletId?: number | null | undefined;
  /** Put `request_id` in error bodies (it is always in the `x-request-id` header). Default true. */
  requestIdInErrorBody?: boolean | undefined;
  /** Checks every API request; a problem is recorded in `violations` and answered with 400. Default: none. */
  validateRequest?: FakeRequestValidator | undefined;
  /** Checks every API response before it is sent; a problem is recorded in `violations`. Default: none. */
  validateResponse?: FakeResponseValidator | undefined;
  /**
   * Address to listen on. Default `127.0.0.1`. Give only an address of this machine, e.g. one that exists only
   * inside a network namespace the test created (the partition bench serves its nodes' namespaces from their bridge).
   */
  host?: string | undefined;
}

/** A scripted failure for the next matching request(s), see {@link FakeDigitalOcean.inject}. */
export interface FakeFault {
  /** Which requests: method and path (exact string, or a RegExp tested against the path). Default: any API request. */
  match?:
    | {
        /** The HTTP method; default any. */
        method?: string | undefined;
        /** The path: exact, or a RegExp tested against it; default any. */
        path?: string | RegExp | undefined;
      }
    | undefined;
  /** How many matching requests it hits. Default 1. */
  times?: number | undefined;
  /** `drop` destroys the connection without an answer. */
  kind: 'status' | 'drop';
  /** For `status`: the HTTP status. */
  status?: number | undefined;
  /** For `status`: the JSON body. Default: a DigitalOcean-style error body for the status. */
  body?: unknown;
  /** Extra response headers (e.g. `retry-after` with a 429). */
  headers?: Record<string, string> | undefined;
}

/** An action the fake runs (from a client or started with {@link FakeDigitalOcean.startAction}). */
export interface FakeAction {
  /** The action ID the API answered with. */
  readonly id: number;
  /** The reserved IP it moves. */
  readonly ip: string;
  /** Assign to a droplet, or unassign. */
  readonly type: 'assign' | 'unassign';
  /** The target droplet (null for unassign). */
  readonly dropletId: number | null;
  /** `in-progress` until `actionDurationMs` has passed (or `finishPendingActions()`), then final. */
  status: 'in-progress' | 'completed' | 'errored';
  /** Resolves when the action completes or errors. */
  readonly settled: Promise<void>;
}

interface IpRecord {
  ip: string;
  family: 4 | 6;
  region: string;
  dropletId: number | null;
  actionsNotFound: boolean;
  pending: FakeAction | undefined;
  failNextAction: boolean;
}

interface ActionRecord extends FakeAction {
  startedAt: string;
  completedAt: string | null;
}

type Reply = [status: number, payload: unknown];

const IP_PATH = /^\/v2\/(reserved_ips|floating_ips|reserved_ipv6)\/([^/]+)$/;
// Reserved IPv6 has no per-IP action path: its actions are read back through /v2/actions/{id}.
const ACTIONS_PATH = /^\/v2\/(reserved_ips|floating_ips|reserved_ipv6)\/([^/]+)\/actions$/;
const ACTION_PATH = /^\/v2\/(reserved_ips|floating_ips)\/([^/]+)\/actions\/([^/]+)$/;
const GLOBAL_ACTION_PATH = /^\/v2\/actions\/([^/]+)$/;

/**
 * A fake DigitalOcean API on a real HTTP server (127.0.0.1, random port), for testing code that uses
 * `DigitalOceanAssigner` without a cloud account. It behaves like the real API where it matters for failover:
 * asynchronous actions (`in-progress` → `completed`), `locked: true` while one is in flight, 422 "pending event"
 * for a second one, 422 for a droplet in another region, 401 on a bad token, 404 for unknown IPs, 429 past a
 * sliding request budget, the legacy `/v2/floating_ips` paths and the metadata service's `/metadata/v1/id`.
 * Failures can be scripted ({@link inject}, {@link failNextAction}) and the IP moved behind the client's back
 * ({@link moveIp}, {@link startAction}). Every request is logged in {@link requests}.
 */
export class FakeDigitalOcean extends FakeProviderServer {
  /** Every action, by ID order. */
  readonly actions: FakeAction[] = [];
  /** What `/metadata/v1/id` answers (`null`: 404). */
  metadataDropletId: number | null;

  readonly #token: string;
  readonly #droplets = new Map<number, FakeDroplet>();
  readonly #ips = new Map<string, IpRecord>();
  readonly #actions = new Map<number, ActionRecord>();
  readonly #finishers = new Map<NodeJS.Timeout, () => void>();
  readonly #window: number[] = [];
  readonly #options: FakeDigitalOceanOptions;
  #nextActionId = 1000;

  private constructor(options: FakeDigitalOceanOptions) {
    super(options);
    this.#options = options;
    this.#token = options.token ?? 'fake-do-token';
    this.metadataDropletId = options.metadataDropletId ?? null;
    const droplets = options.droplets ?? [
      { id: 101, region: 'nyc3' },
      { id: 102, region: 'nyc3' },
      { id: 103, region: 'nyc3' },
      { id: 201, region: 'ams3' },
    ];
    for (const droplet of droplets) this.#droplets.set(droplet.id, droplet);
    for (const ip of options.reservedIps ?? [{ ip: '203.0.113.10', region: 'nyc3' }]) {
      const family = isIP(ip.ip);
      if (family !== 4 && family !== 6) throw new Error(`not an IP address: ${ip.ip}`);
      const canonical = canonicalIp(ip.ip);
      this.#ips.set(canonical, {
        ip: canonical,
        family,
        region: ip.region,
        dropletId: ip.dropletId ?? null,
        actionsNotFound: ip.actionsNotFound ?? false,
        pending: undefined,
        failNextAction: false,
      });
    }
  }

  /** Starts a fake on 127.0.0.1 (or `options.host`) and a free port. */
  static async start(options: FakeDigitalOceanOptions = {}): Promise<FakeDigitalOcean> {
    const fake = new FakeDigitalOcean(options);
    await fake.listen(options.host);
    return fake;
  }

  /** The next action on `ip` ends `errored` (the IP stays where it was). */
  failNextAction(ip: string): void {
    this.#ip(ip).failNextAction = true;
  }

  /** Makes polling `ip`'s actions answer 404 (or stop doing so). */
  setActionsNotFound(ip: string, notFound: boolean): void {
    this.#ip(ip).actionsNotFound = notFound;
  }

  /** Ends every in-flight action now, as if its duration had elapsed (for tests that must not race a timer). */
  finishPendingActions(): void {
    for (const finish of [...this.#finishers.values()]) finish();
  }

  /** Who holds `ip` now (droplet ID or null). */
  holder(ip: string): number | null {
    return this.#ip(ip).dropletId;
  }

  /** Whether an action on `ip` is in flight. */
  isLocked(ip: string): boolean {
    return this.#ip(ip).pending !== undefined;
  }

  /** Moves `ip` at once, as a person in the control panel would. */
  moveIp(ip: string, dropletId: number | null): void {
    if (dropletId !== null && !this.#droplets.has(dropletId)) throw new Error(`unknown droplet ${dropletId}`);
    this.#ip(ip).dropletId = dropletId;
  }

  /** Starts an action on `ip` as another client would (it locks the IP for `durationMs`). */
  startAction(
    ip: string,
    dropletId: number | null,
    options: { durationMs?: number; outcome?: 'completed' | 'errored' } = {},
  ): FakeAction {
    const record = this.#ip(ip);
    if (record.pending !== undefined) throw new Error(`${ip} already has a pending action`);
    return this.#createAction(record, dropletId === null ? 'unassign' : 'assign', dropletId, options);
  }

  #ip(ip: string): IpRecord {
    const record = this.#lookup(ip);
    if (record === undefined) throw new Error(`unknown reserved IP ${ip}`);
    return record;
  }

  #createAction(
    record: IpRecord,
    type: 'assign' | 'unassign',
    dropletId: number | null,
    options: { durationMs?: number | undefined; outcome?: 'completed' | 'errored' | undefined } = {},
  ): ActionRecord {
    const outcome = options.outcome ?? (record.failNextAction ? 'errored' : 'completed');
    record.failNextAction = false;
    let settle: () => void = () => {};
    const action: ActionRecord = {
      id: this.#nextActionId++,
      ip: record.ip,
      type,
      dropletId,
      status: 'in-progress',
      settled: new Promise<void>((resolve) => {
        settle = resolve;
      }),
      startedAt: new Date().toISOString(),
      completedAt: null,
    };
    this.#actions.set(action.id, action);
    this.actions.push(action);
    record.pending = action;
    const finish = (): void => {
      clearTimeout(timer);
      this.#finishers.delete(timer);
      action.status = outcome;
      action.completedAt = new Date().toISOString();
      if (outcome === 'completed') record.dropletId = dropletId;
      record.pending = undefined;
      settle();
    };
    const timer = setTimeout(finish, options.durationMs ?? this.#options.actionDurationMs ?? 30);
    this.#finishers.set(timer, finish);
    return action;
  }

  protected isMetadata(pathname: string): boolean {
    return pathname.startsWith('/metadata/');
  }

  protected metadata(pathname: string): FakeReply {
    const id = this.metadataDropletId;
    const droplet = id === null ? undefined : this.#droplets.get(id);
    let text: string | undefined;
    if (id !== null && pathname === '/metadata/v1/id') text = String(id);
    if (droplet !== undefined && pathname === '/metadata/v1/region') text = droplet.region;
    return text === undefined ? { status: 404, body: 'not found' } : { status: 200, body: text };
  }

  protected authorized(headers: IncomingHttpHeaders): boolean {
    return headers.authorization === `Bearer ${this.#token}`;
  }

  protected unauthorized(): FakeReply {
    return { status: 401, body: this.#error('unauthorized', 'Unable to authenticate you') };
  }

  // DigitalOcean's 400 names what was wrong with the request.
  protected override badRequest(problems: string[]): FakeReply {
    return {
      status: 400,
      body: this.#error('bad_request', `request does not match the API: ${problems.join('; ')}`),
    };
  }

  protected override crashReply(): FakeReply {
    return {
      status: 500,
      body: { id: 'server_error', message: 'fake crashed' },
      headers: { 'x-request-id': randomUUID() },
    };
  }

  protected stopTimers(): void {
    for (const timer of this.#finishers.keys()) clearTimeout(timer);
    this.#finishers.clear();
  }

  protected api(request: FakeValidatedRequest): FakeReply {
    const [status, body] = this.#api(request.method, request.pathname, request.body);
    return { status, body };
  }

  #api(method: string, pathname: string, body: unknown): Reply {
    const notFound = (): Reply => [
      404,
      this.#error('not_found', 'The resource you were accessing could not be found.'),
    ];
    const ipMatch = IP_PATH.exec(pathname);
    if (method === 'GET' && ipMatch !== null) {
      const record = this.#find(ipMatch[1]!, ipMatch[2]!);
      if (record === undefined) return notFound();
      return [200, { [singular(ipMatch[1]!)]: this.#ipJson(record) }];
    }
    const actionsMatch = ACTIONS_PATH.exec(pathname);
    if (method === 'POST' && actionsMatch !== null) {
      const kind = actionsMatch[1]!;
      const record = this.#find(kind, actionsMatch[2]!);
      if (record === undefined) return notFound();
      return this.#postAction(record, kind, body);
    }
    const actionMatch = ACTION_PATH.exec(pathname);
    if (method === 'GET' && actionMatch !== null) {
      const record = this.#find(actionMatch[1]!, actionMatch[2]!);
      const action = this.#actions.get(Number(actionMatch[3]));
      if (record === undefined || record.actionsNotFound || action === undefined || action.ip !== record.ip) {
        return notFound();
      }
      return [200, { action: this.#actionJson(action, actionMatch[1]!) }];
    }
    const globalMatch = GLOBAL_ACTION_PATH.exec(pathname);
    if (method === 'GET' && globalMatch !== null) {
      const action = this.#actions.get(Number(globalMatch[1]));
      if (action === undefined) return notFound();
      const family = this.#ips.get(action.ip)?.family;
      return [200, { action: this.#actionJson(action, family === 6 ? 'reserved_ipv6' : 'reserved_ips') }];
    }
    return notFound();
  }

  #postAction(record: IpRecord, kind: string, body: unknown): Reply {
    const request = (body ?? {}) as { type?: unknown; droplet_id?: unknown };
    const unprocessable = (message: string): Reply => [422, this.#error('unprocessable_entity', message)];
    if (request.type === 'assign') {
      const droplet = typeof request.droplet_id === 'number' ? this.#droplets.get(request.droplet_id) : undefined;
      if (droplet === undefined) return unprocessable('Droplet could not be found.');
      if (record.pending !== undefined) return unprocessable('The floating IP already has a pending event.');
      if (this.#dropletLocked(droplet.id)) return unprocessable('Droplet already has a pending event.');
      if (droplet.region !== record.region) {
        return unprocessable(
          `Droplet is in region ${droplet.region}, but the reserved IP is in region ${record.region}.`,
        );
      }
      const action = this.#createAction(record, 'assign', droplet.id);
      return [201, { action: this.#actionJson(action, kind) }];
    }
    if (request.type === 'unassign') {
      if (record.pending !== undefined) return unprocessable('The floating IP already has a pending event.');
      if (record.dropletId === null) return unprocessable('The floating IP is not assigned.');
      const action = this.#createAction(record, 'unassign', null);
      return [201, { action: this.#actionJson(action, kind) }];
    }
    return unprocessable('Unknown action type.');
  }

  // Sliding window, like DigitalOcean's per-minute limit. Returns the 429 when the budget is spent.
  protected spendBudget(): FakeReply | undefined {
    const { limit, windowMs } = this.#options.rateLimit ?? { limit: 250, windowMs: 60_000 };
    const now = performance.now();
    while (this.#window.length > 0 && this.#window[0]! <= now - windowMs) this.#window.shift();
    if (this.#window.length < limit) {
      this.#window.push(now);
      return undefined;
    }
    const waitMs = this.#window[0]! + windowMs - now;
    return {
      status: 429,
      body: this.#error('too_many_requests', 'API Rate limit exceeded.'),
      headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    };
  }

  // The request ID (the error body's, when it has one) and the rate-limit state.
  protected commonHeaders(reply: FakeReply): Record<string, string> {
    const requestId = (reply.body as { request_id?: unknown } | null | undefined)?.request_id;
    const { limit, windowMs } = this.#options.rateLimit ?? { limit: 250, windowMs: 60_000 };
    const now = performance.now();
    const oldest = this.#window.find((t) => t > now - windowMs);
    const resetInMs = oldest === undefined ? 0 : oldest + windowMs - now;
    return {
      'x-request-id': typeof requestId === 'string' ? requestId : randomUUID(),
      'ratelimit-limit': String(limit),
      'ratelimit-remaining': String(Math.max(0, limit - this.#window.length)),
      // Unix seconds, as DigitalOcean sends it: a wall-clock instant.
      'ratelimit-reset': String(Math.ceil((Date.now() + resetInMs) / 1000)),
    };
  }

  #error(id: string, message: string): Record<string, string> {
    return this.#options.requestIdInErrorBody === false ? { id, message } : { id, message, request_id: randomUUID() };
  }

  protected defaultError(status: number): Record<string, string> {
    if (status === 401) return this.#error('unauthorized', 'Unable to authenticate you');
    if (status === 403) return this.#error('forbidden', 'You do not have access for the attempted action.');
    if (status === 404) return this.#error('not_found', 'The resource you were accessing could not be found.');
    if (status === 429) return this.#error('too_many_requests', 'API Rate limit exceeded.');
    return this.#error('server_error', 'Server was unable to give you a response.');
  }

  // An IP by the address in a request path, under the paths of its family only.
  #find(kind: string, encoded: string): IpRecord | undefined {
    let address: string;
    try {
      address = decodeURIComponent(encoded);
    } catch {
      return undefined;
    }
    const record = this.#lookup(address);
    return record !== undefined && (record.family === 6) === (kind === 'reserved_ipv6') ? record : undefined;
  }

  #lookup(address: string): IpRecord | undefined {
    return isIP(address) === 0 ? undefined : this.#ips.get(canonicalIp(address));
  }

  #ipJson(record: IpRecord): Record<string, unknown> {
    const droplet = record.dropletId === null ? undefined : this.#droplets.get(record.dropletId);
    if (record.family === 6) {
      // The reserved IPv6 object: no `locked` flag and a bare `region_slug`, as the API description has it.
      return {
        ip: record.ip,
        region_slug: record.region,
        reserved_at: '2024-11-20T11:08:30Z',
        droplet: droplet === undefined ? null : dropletJson(droplet, this.#dropletLocked(droplet.id)),
      };
    }
    return {
      ip: record.ip,
      region: regionJson(record.region),
      droplet: droplet === undefined ? null : dropletJson(droplet, this.#dropletLocked(droplet.id)),
      locked: record.pending !== undefined,
      project_id: '746c6152-2fa2-11ed-92d3-27aaa54e4988',
    };
  }

  #dropletLocked(id: number): boolean {
    return [...this.#ips.values()].some((ip) => ip.pending?.dropletId === id);
  }

  #actionJson(action: ActionRecord, kind: string): Record<string, unknown> {
    const record = this.#ips.get(action.ip);
    const region = record?.region ?? 'nyc3';
    return {
      id: action.id,
      status: action.status,
      type: `${action.type}_ip`,
      started_at: action.startedAt,
      completed_at: action.completedAt,
      resource_id: ipToInt(action.ip),
      resource_type: singular(kind),
      region: regionJson(region),
      region_slug: region,
    };
  }
}

function singular(kind: string): string {
  if (kind === 'reserved_ipv6') return 'reserved_ipv6';
  return kind === 'floating_ips' ? 'floating_ip' : 'reserved_ip';
}

// The canonical text of an address: IPv6 compressed and lower-case (what the WHATWG URL parser prints).
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

// The description wants an integer resource ID: an IPv4 as a number, an IPv6 by its last 32 bits.
function ipToInt(ip: string): number {
  if (ip.includes(':')) return Number.parseInt(ip.split(':').at(-1) || '0', 16) || 1;
  return ip.split('.').reduce((n, part) => n * 256 + (Number(part) || 0), 0);
}

function regionJson(slug: string): Record<string, unknown> {
  return {
    name: slug.toUpperCase(),
    slug,
    features: ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'],
    available: true,
    sizes: ['s-1vcpu-1gb', 's-1vcpu-2gb'],
  };
}

// The fields the API description requires of a droplet, with plausible values.
function dropletJson(droplet: FakeDroplet, locked: boolean): Record<string, unknown> {
  return {
    id: droplet.id,
    name: droplet.name ?? `droplet-${droplet.id}`,
    memory: 1024,
    vcpus: 1,
    disk: 25,
    locked,
    status: 'active',
    kernel: null,
    created_at: '2024-01-01T00:00:00Z',
    features: ['private_networking'],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: {
      id: 63663980,
      name: '24.04 (LTS) x64',
      type: 'base',
      distribution: 'Ubuntu',
      slug: 'ubuntu-24-04-x64',
      public: true,
      regions: ['nyc3', 'ams3'],
      created_at: '2024-01-01T00:00:00Z',
      min_disk_size: 20,
      size_gigabytes: 2.36,
      description: '',
      tags: [],
      status: 'available',
      error_message: '',
    },
    volume_ids: [],
    size: {
      slug: 's-1vcpu-1gb',
      memory: 1024,
      vcpus: 1,
      disk: 25,
      transfer: 1,
      price_monthly: 6,
      price_hourly: 0.00893,
      regions: ['nyc3', 'ams3'],
      available: true,
      description: 'Basic',
    },
    size_slug: 's-1vcpu-1gb',
    networks: {
      v4: [{ ip_address: '10.10.0.5', netmask: '255.255.0.0', gateway: '10.10.0.1', type: 'private' }],
      v6: [],
    },
    region: regionJson(droplet.region),
    tags: [],
    vpc_uuid: '760e09ef-dc84-11e8-981e-3cfdfeaae000',
  };
}
