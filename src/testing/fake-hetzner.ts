import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FakeValidatedRequest } from './fake-digitalocean.ts';
import { FakeProviderServer, type FakeReply, type FakeValidationOptions, TokenBucket } from './fake-provider.ts';

/** A Floating IP the Hetzner fake knows. */
export interface FakeHetznerFloatingIp {
  /** Numeric ID. */
  id: number;
  /** The address; for an IPv6 Floating IP, its `/64` network as Hetzner shows it, e.g. `2001:db8:1::/64`. */
  ip: string;
  /** Initial holder (server ID). Default: unassigned. */
  server?: number | null | undefined;
}

/** Options of {@link FakeHetzner.start}. */
export interface FakeHetznerOptions extends FakeValidationOptions {
  /** The only bearer token accepted. Default `'fake-hetzner-token'`. */
  token?: string | undefined;
  /** Server IDs. Default 1001, 1002, 1003. */
  servers?: number[] | undefined;
  /** Default: 4711 = `198.51.100.20`, unassigned. */
  floatingIps?: FakeHetznerFloatingIp[] | undefined;
  /** How long an action stays `running` (and its Floating IP locked). Default 30 ms. */
  actionDurationMs?: number | undefined;
  /** Token bucket: `limit` requests, one refilled every `refillMs`. Default 3600 and 1000 ms, as Hetzner's. */
  rateLimit?:
    | {
        /** Requests the bucket holds when full. */
        limit: number;
        /** Time to refill one request, ms. */
        refillMs: number;
      }
    | undefined;
  /** What `/hetzner/v1/metadata/instance-id` answers; `null` answers 404. Settable later. Default `null`. */
  metadataServerId?: number | null | undefined;
}

/** An action the Hetzner fake runs. */
export interface FakeHetznerAction {
  /** The action ID the API answered with. */
  readonly id: number;
  /** The Floating IP it acts on. */
  readonly floatingIpId: number;
  /** What it does (`assign_floating_ip`, `unassign_floating_ip`). */
  readonly command: 'assign_floating_ip' | 'unassign_floating_ip';
  /** The target server (null for unassign). */
  readonly server: number | null;
  /** `running` until it completes, then `success` or `error`. */
  status: 'running' | 'success' | 'error';
  /** Resolves when the action ends. */
  readonly settled: Promise<void>;
}

interface IpRecord {
  id: number;
  ip: string;
  server: number | null;
  pending: FakeHetznerAction | undefined;
  failNext: string | undefined;
}

interface ActionRecord extends FakeHetznerAction {
  started: string;
  finished: string | null;
  error: { code: string; message: string } | null;
}

const LIST = /^\/v1\/floating_ips$/;
const ONE = /^\/v1\/floating_ips\/(\d+)$/;
const ACTION_POST = /^\/v1\/floating_ips\/(\d+)\/actions\/(assign|unassign)$/;
const IP_ACTION = /^\/v1\/floating_ips\/(\d+)\/actions\/(\d+)$/;
const ACTION = /^\/v1\/actions\/(\d+)$/;

/**
 * A fake Hetzner Cloud API (Floating IPs and actions) on a real HTTP server (127.0.0.1, random port), with the
 * metadata service. Like the real API: assign returns 201 with a `running` action that ends `success` or `error`
 * (`failNextAction`); a second action while one runs answers 423 `locked`; assigning to the current holder answers
 * 422 `floating_ip_assigned`; a token bucket answers 429 `rate_limit_exceeded`, and every answer carries
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (when the bucket is full again) and
 * `X-Correlation-Id`; listing pages 25 by default, 50 at most. Faults (`conflict`, 5xx, dropped connections) are
 * scripted with `inject`. Every request is logged in `requests`; the token is never kept.
 */
export class FakeHetzner extends FakeProviderServer {
  /** Every action, by ID order. */
  readonly actions: FakeHetznerAction[] = [];
  /** What the metadata service's `instance-id` answers (`null`: 404). */
  metadataServerId: number | null;
  readonly #token: string;
  readonly #servers: Set<number>;
  readonly #ips = new Map<number, IpRecord>();
  readonly #actions = new Map<number, ActionRecord>();
  readonly #finishers = new Map<NodeJS.Timeout, () => void>();
  readonly #bucket: TokenBucket;
  readonly #actionDurationMs: number;
  #nextActionId = 9000;

  private constructor(options: FakeHetznerOptions) {
    super(options);
    this.#token = options.token ?? 'fake-hetzner-token';
    this.#servers = new Set(options.servers ?? [1001, 1002, 1003]);
    for (const ip of options.floatingIps ?? [{ id: 4711, ip: '198.51.100.20' }]) {
      this.#ips.set(ip.id, {
        id: ip.id,
        ip: ip.ip,
        server: ip.server ?? null,
        pending: undefined,
        failNext: undefined,
      });
    }
    this.#actionDurationMs = options.actionDurationMs ?? 30;
    const rate = options.rateLimit ?? { limit: 3600, refillMs: 1000 };
    this.#bucket = new TokenBucket(rate.limit, rate.refillMs);
    this.metadataServerId = options.metadataServerId ?? null;
  }

  /** Starts a fake on 127.0.0.1 and a free port. */
  static async start(options: FakeHetznerOptions = {}): Promise<FakeHetzner> {
    const fake = new FakeHetzner(options);
    await fake.listen();
    return fake;
  }

  /** Who holds the Floating IP with this address (server ID or null). */
  holder(ip: string): number | null {
    return this.#byIp(ip).server;
  }

  /** Whether an action on the Floating IP is running. */
  isLocked(ip: string): boolean {
    return this.#byIp(ip).pending !== undefined;
  }

  /** Moves it at once, as a person in the console would. */
  moveIp(ip: string, server: number | null): void {
    if (server !== null && !this.#servers.has(server)) throw new Error(`unknown server ${server}`);
    this.#byIp(ip).server = server;
  }

  /** The next action on the Floating IP ends `error` with this code (default `action_failed`). */
  failNextAction(ip: string, code = 'action_failed'): void {
    this.#byIp(ip).failNext = code;
  }

  /** Starts an action as another client would (it locks the Floating IP for `durationMs`). */
  startAction(ip: string, server: number | null, options: { durationMs?: number } = {}): FakeHetznerAction {
    const record = this.#byIp(ip);
    if (record.pending !== undefined) throw new Error(`${ip} already has a running action`);
    return this.#createAction(record, server, options.durationMs);
  }

  /** Ends every running action now, as if its duration had elapsed. */
  finishPendingActions(): void {
    for (const finish of [...this.#finishers.values()]) finish();
  }

  #byIp(ip: string): IpRecord {
    for (const record of this.#ips.values()) if (record.ip === ip) return record;
    throw new Error(`unknown Floating IP ${ip}`);
  }

  #createAction(record: IpRecord, server: number | null, durationMs?: number): ActionRecord {
    const failure = record.failNext;
    record.failNext = undefined;
    let settle: () => void = () => {};
    const action: ActionRecord = {
      id: this.#nextActionId++,
      floatingIpId: record.id,
      command: server === null ? 'unassign_floating_ip' : 'assign_floating_ip',
      server,
      status: 'running',
      settled: new Promise<void>((resolve) => {
        settle = resolve;
      }),
      started: new Date().toISOString(),
      finished: null,
      error: null,
    };
    this.#actions.set(action.id, action);
    this.actions.push(action);
    record.pending = action;
    const finish = (): void => {
      clearTimeout(timer);
      this.#finishers.delete(timer);
      action.finished = new Date().toISOString();
      if (failure === undefined) {
        action.status = 'success';
        record.server = server;
      } else {
        action.status = 'error';
        action.error = { code: failure, message: 'Action failed' };
      }
      record.pending = undefined;
      settle();
    };
    const timer = setTimeout(finish, durationMs ?? this.#actionDurationMs);
    this.#finishers.set(timer, finish);
    return action;
  }

  protected isMetadata(pathname: string): boolean {
    return pathname.startsWith('/hetzner/');
  }

  protected metadata(pathname: string): FakeReply {
    if (pathname === '/hetzner/v1/metadata/instance-id' && this.metadataServerId !== null) {
      return { status: 200, body: String(this.metadataServerId) };
    }
    return { status: 404, body: 'not found' };
  }

  protected authorized(headers: IncomingMessage['headers']): boolean {
    return headers.authorization === `Bearer ${this.#token}`;
  }

  protected unauthorized(): FakeReply {
    return { status: 401, body: error('unauthorized', 'unable to authenticate') };
  }

  protected defaultError(status: number): unknown {
    const [code, message] = DEFAULT_ERRORS[status] ?? ['server_error', 'internal server error'];
    return error(code, message);
  }

  protected spendBudget(): FakeReply | undefined {
    if (this.#bucket.take()) return undefined;
    return { status: 429, body: error('rate_limit_exceeded', 'limit of 3600 requests per hour reached') };
  }

  protected commonHeaders(): Record<string, string> {
    return {
      'ratelimit-limit': String(this.#bucket.limit),
      'ratelimit-remaining': String(this.#bucket.remaining()),
      // Unix seconds at which the bucket is full again (not when the next request is allowed).
      'ratelimit-reset': String(Math.ceil((Date.now() + this.#bucket.msToFull()) / 1000)),
      'x-correlation-id': randomBytes(8).toString('hex'),
    };
  }

  protected stopTimers(): void {
    for (const timer of this.#finishers.keys()) clearTimeout(timer);
    this.#finishers.clear();
  }

  protected api(request: FakeValidatedRequest): FakeReply {
    const { method, pathname } = request;
    const notFound = (what: string): FakeReply => ({ status: 404, body: error('not_found', `${what} not found`) });
    if (method === 'GET' && LIST.test(pathname)) return this.#list(request.query);
    let m = ONE.exec(pathname);
    if (method === 'GET' && m !== null) {
      const record = this.#ips.get(Number(m[1]));
      return record === undefined ? notFound('Floating IP') : { status: 200, body: { floating_ip: ipJson(record) } };
    }
    m = ACTION_POST.exec(pathname);
    if (method === 'POST' && m !== null) {
      const record = this.#ips.get(Number(m[1]));
      if (record === undefined) return notFound('Floating IP');
      if (record.pending !== undefined) {
        return { status: 423, body: error('locked', 'Floating IP is locked by a running action') };
      }
      if (m[2] === 'unassign') {
        return { status: 201, body: { action: this.#actionJson(this.#createAction(record, null)) } };
      }
      const server = (request.body as { server?: unknown } | undefined)?.server;
      if (typeof server !== 'number' || !this.#servers.has(server)) {
        return { status: 404, body: error('not_found', `server with ID ${String(server)} not found`) };
      }
      if (record.server === server) {
        return { status: 422, body: error('floating_ip_assigned', 'Floating IP is already assigned to this server') };
      }
      return { status: 201, body: { action: this.#actionJson(this.#createAction(record, server)) } };
    }
    m = ACTION.exec(pathname) ?? IP_ACTION.exec(pathname);
    if (method === 'GET' && m !== null) {
      const action = this.#actions.get(Number(m.length === 3 ? m[2] : m[1]));
      if (action === undefined || (m.length === 3 && action.floatingIpId !== Number(m[1]))) return notFound('action');
      return { status: 200, body: { action: this.#actionJson(action) } };
    }
    return notFound('resource');
  }

  #list(query: URLSearchParams): FakeReply {
    const page = Number(query.get('page') ?? 1);
    const perPage = Number(query.get('per_page') ?? 25);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1 || perPage > 50) {
      return { status: 400, body: error('invalid_input', 'invalid page or per_page') };
    }
    const all = [...this.#ips.values()].sort((a, b) => a.id - b.id);
    const lastPage = Math.max(1, Math.ceil(all.length / perPage));
    return {
      status: 200,
      body: {
        floating_ips: all.slice((page - 1) * perPage, page * perPage).map(ipJson),
        meta: {
          pagination: {
            page,
            per_page: perPage,
            previous_page: page > 1 ? page - 1 : null,
            next_page: page < lastPage ? page + 1 : null,
            last_page: lastPage,
            total_entries: all.length,
          },
        },
      },
    };
  }

  #actionJson(action: ActionRecord): Record<string, unknown> {
    return {
      id: action.id,
      command: action.command,
      status: action.status,
      progress: action.status === 'running' ? 50 : 100,
      started: action.started,
      finished: action.finished,
      resources: [
        ...(action.server === null ? [] : [{ id: action.server, type: 'server' }]),
        { id: action.floatingIpId, type: 'floating_ip' },
      ],
      error: action.error,
    };
  }
}

const DEFAULT_ERRORS: Record<number, [string, string]> = {
  400: ['invalid_input', 'invalid input in request'],
  401: ['unauthorized', 'unable to authenticate'],
  403: ['forbidden', 'insufficient permissions for this request'],
  404: ['not_found', 'resource not found'],
  409: ['conflict', 'the resource has changed during the request, please retry'],
  422: ['unprocessable_entity', 'unprocessable entity'],
  423: ['locked', 'the resource is locked by a running action'],
  429: ['rate_limit_exceeded', 'limit of 3600 requests per hour reached'],
  500: ['server_error', 'internal server error'],
  502: ['server_error', 'bad gateway'],
  503: ['unavailable', 'service temporarily unavailable'],
  504: ['timeout', 'request timed out'],
};

function error(code: string, message: string): Record<string, unknown> {
  return { error: { code, message, details: null } };
}

function ipJson(record: IpRecord): Record<string, unknown> {
  return {
    id: record.id,
    name: `floating-ip-${record.id}`,
    description: null,
    ip: record.ip,
    type: record.ip.includes(':') ? 'ipv6' : 'ipv4',
    server: record.server,
    dns_ptr: record.ip.includes(':') ? [] : [{ ip: record.ip, dns_ptr: `static.${record.ip}.clients.example` }],
    home_location: {
      id: 1,
      name: 'fsn1',
      description: 'Falkenstein DC Park 1',
      country: 'DE',
      city: 'Falkenstein',
      latitude: 50.47612,
      longitude: 12.370071,
      network_zone: 'eu-central',
    },
    blocked: false,
    protection: { delete: false },
    labels: {},
    created: '2024-01-01T00:00:00Z',
  };
}
