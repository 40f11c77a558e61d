import { ConfigError } from '../../errors.ts';
import type { HealthOptions } from '../../health/health-options.ts';
import {
  LEADERSHIP_KEYS,
  type LeadershipOptions,
  resolveLeadershipOptions,
} from '../../leadership/leadership-options.ts';
import { checkInt, checkKnownKeys, checkNumber, checkObject, checkString } from '../../util/validate.ts';

/**
 * Options of `EtcdElection`, their defaults and their validator, kept together so the documented rules and the
 * checks cannot drift apart.
 * @module
 */

/** TLS towards etcd (`https://` endpoints). PEM text or buffers, as etcd's own `--cacert/--cert/--key`. */
export interface EtcdTlsOptions {
  /** CA certificate(s) that signed the etcd servers' certificates. Default: the system's roots. */
  ca?: string | Buffer | undefined;
  /** Client certificate, for etcd's `--client-cert-auth`; needs `key`. */
  cert?: string | Buffer | undefined;
  /** Client private key (a secret: never logged or serialised). */
  key?: string | Buffer | undefined;
}

/** etcd user/password authentication (etcd's `--user`). */
export interface EtcdAuthOptions {
  /** The etcd user name (with its password: etcd's own authentication). */
  username: string;
  /** A secret: never logged, echoed in errors or serialised. */
  password: string;
}

/**
 * Options of `EtcdElection`. Every optional field also accepts `undefined` (its default). The leadership options
 * (`voterOnly`, `health`) are the same as `ElectionNode`'s, validated by the same code; `preempt` and
 * `preemptDelayMs` accept only `false` / `0`: this backend elects first come (docs/protocol.md §13.1).
 */
export interface EtcdElectionOptions extends LeadershipOptions {
  /** This node's ID, a positive integer unique in the election; what other nodes see as `leaderId`. */
  id: number;
  /** etcd client URLs, `http://host:2379` or `https://host:2379`: one, a list, or a comma-separated string. */
  endpoints: string | readonly string[];
  /** The election's name: nodes with the same name (and `keyPrefix`) elect one leader. `[A-Za-z0-9._-]`, ≤ 128. */
  name: string;
  /** Prefix of the election's key in etcd: the leader key is `keyPrefix + name`. Default `'leader-ip/election/'`. */
  keyPrefix?: string | undefined;
  /**
   * The etcd lease TTL, in ms: a crashed leader is replaced about this long after its last keep-alive. etcd counts
   * leases in whole seconds, so a multiple of 1000, and at least etcd's own minimum (1.5 × its election timeout,
   * rounded up: 2 s with etcd's defaults; etcd silently grants that minimum when asked for less). Default 3000.
   */
  leaseMs?: number | undefined;
  /** How often the lease is kept alive; below `leaseMs / 2` so one lost keep-alive costs nothing. Default `leaseMs / 4`. */
  keepAliveIntervalMs?: number | undefined;
  /** Bound on the drift rate between this host's clock and etcd's; the leader stops believing that much early. Default 0.01. */
  maxDriftRate?: number | undefined;
  /** Deadline of each etcd request (campaign, read, resign). Default `leaseMs / 2`. */
  requestTimeoutMs?: number | undefined;
  /** TLS settings for `https://` endpoints. */
  tls?: EtcdTlsOptions | undefined;
  /** etcd user/password authentication. */
  auth?: EtcdAuthOptions | undefined;
}

/** Every fixed default of {@link EtcdElectionOptions}; `keepAliveIntervalMs` and `requestTimeoutMs` derive from `leaseMs`. */
export const ETCD_ELECTION_DEFAULTS = {
  /** Leader key prefix. */
  keyPrefix: 'leader-ip/election/',
  /** 3 s: above etcd's default minimum TTL (2 s) with room for a keep-alive period of 750 ms. */
  leaseMs: 3000,
  /** Same bound as the built-in protocol's. */
  maxDriftRate: 0.01,
} as const;

/** Validated options with every default filled in. Holds secrets: never log or serialise it. */
export interface ResolvedEtcdOptions {
  id: number;
  endpoints: string[];
  name: string;
  key: string;
  leaseMs: number;
  keepAliveIntervalMs: number;
  maxDriftRate: number;
  requestTimeoutMs: number;
  voterOnly: boolean;
  health: HealthOptions | undefined;
  tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined } | undefined;
  auth: { username: string; password: string } | undefined;
}

const KNOWN = [
  ...LEADERSHIP_KEYS,
  'id',
  'endpoints',
  'name',
  'keyPrefix',
  'leaseMs',
  'keepAliveIntervalMs',
  'maxDriftRate',
  'requestTimeoutMs',
  'tls',
  'auth',
] as const;
const MAX_LEASE_MS = 3_600_000;

function checkEndpoints(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('endpoints', 'expected one or more etcd URLs (http://host:port or https://host:port)');
  }
  return list.map((entry: unknown, i) => {
    const field = `endpoints[${i}]`;
    const text = checkString(entry, field);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(field, 'expected a URL like http://127.0.0.1:2379');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(field, `expected http:// or https://, got ${url.protocol}`);
    }
    // Credentials belong in `auth`, where they are kept out of logs and errors.
    if (url.username !== '' || url.password !== '')
      throw new ConfigError(field, 'put credentials in auth, not the URL');
    if (url.port === '' || (url.pathname !== '/' && url.pathname !== '')) {
      throw new ConfigError(field, 'expected scheme://host:port with no path');
    }
    return `${url.protocol}//${url.host}`;
  });
}

function toBuffer(value: unknown, field: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0) return Buffer.from(value);
  if (Buffer.isBuffer(value) && value.length > 0) return value;
  throw new ConfigError(field, 'expected PEM text or a Buffer');
}

/** Validates `input`; throws a {@link ConfigError} naming the first invalid field by its full path. */
export function resolveEtcdOptions(input: EtcdElectionOptions): ResolvedEtcdOptions {
  const o = checkObject(input, 'options');
  checkKnownKeys(o, KNOWN);
  const id = checkInt(o.id, 'id', 1);
  const endpoints = checkEndpoints(o.endpoints);
  const name = checkString(o.name, 'name', 128);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ConfigError('name', 'expected letters, digits, ".", "_" or "-"');
  const keyPrefix =
    o.keyPrefix === undefined ? ETCD_ELECTION_DEFAULTS.keyPrefix : checkString(o.keyPrefix, 'keyPrefix');
  const leaseMs = checkInt(o.leaseMs ?? ETCD_ELECTION_DEFAULTS.leaseMs, 'leaseMs', 1000, MAX_LEASE_MS);
  if (leaseMs % 1000 !== 0)
    throw new ConfigError('leaseMs', 'etcd leases are whole seconds: expected a multiple of 1000');
  const keepAliveIntervalMs = checkInt(
    o.keepAliveIntervalMs ?? Math.floor(leaseMs / 4),
    'keepAliveIntervalMs',
    10,
    Math.floor(leaseMs / 2) - 1,
  );
  const maxDriftRate = checkNumber(o.maxDriftRate ?? ETCD_ELECTION_DEFAULTS.maxDriftRate, 'maxDriftRate', 0, 0.2);
  const requestTimeoutMs = checkInt(
    o.requestTimeoutMs ?? Math.floor(leaseMs / 2),
    'requestTimeoutMs',
    10,
    MAX_LEASE_MS,
  );
  const leadership = resolveLeadershipOptions({ ...o, preempt: o.preempt ?? false }, undefined);
  if (leadership.preempt) {
    throw new ConfigError('preempt', 'the etcd backend elects first come (docs/protocol.md §13.1): expected false');
  }
  if (leadership.preemptDelayMs !== 0) {
    throw new ConfigError('preemptDelayMs', 'the etcd backend elects first come and never preempts: expected 0');
  }
  const voterOnly = leadership.voterOnly;
  let tls: ResolvedEtcdOptions['tls'];
  if (o.tls !== undefined) {
    const t = checkObject(o.tls, 'tls');
    checkKnownKeys(t, ['ca', 'cert', 'key'], 'tls.');
    tls = { ca: toBuffer(t.ca, 'tls.ca'), cert: toBuffer(t.cert, 'tls.cert'), key: toBuffer(t.key, 'tls.key') };
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new ConfigError(tls.cert === undefined ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key go together');
    }
  }
  let auth: ResolvedEtcdOptions['auth'];
  if (o.auth !== undefined) {
    const a = checkObject(o.auth, 'auth');
    checkKnownKeys(a, ['username', 'password'], 'auth.');
    auth = { username: checkString(a.username, 'auth.username'), password: checkString(a.password, 'auth.password') };
  }
  return {
    id,
    endpoints,
    name,
    key: `${keyPrefix}${name}`,
    leaseMs,
    keepAliveIntervalMs,
    maxDriftRate,
    requestTimeoutMs,
    voterOnly,
    health: o.health as HealthOptions | undefined,
    tls,
    auth,
  };
}
