import { MAX_SEES } from '../core/codec.ts';
import { timingProblem } from '../core/config.ts';
import { ConfigError } from '../errors.ts';
import { type Endpoint, formatEndpoint, parseEndpoint } from '../util/address.ts';
import { checkBoolean, checkInt, checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.ts';

/** Options of {@link ElectionNode}. Only `id` and `listen` are required. */
export interface ElectionNodeOptions {
  /** This node's ID: a positive safe integer, unique in the cluster. Lower IDs win; see docs/operations.md. */
  id: number;
  /** Where to listen: `'host:port'` or `'[v6]:port'`. Port 0 picks a free port (see `node.address`). */
  listen: string;
  /**
   * The other members' addresses. Their IDs are learned at the handshake. More can be added with `addPeer`.
   * Default: none (a cluster of one, until peers are added).
   */
  peers?: readonly string[];
  /** Voting members, this node included. Default: `peers.length + 1`. A majority is `floor(clusterSize / 2) + 1`. */
  clusterSize?: number;
  /** Cluster name; both ends of every link must agree. Default `'leader-ip'`. */
  cluster?: string;
  /**
   * Shared secret, at least 32 bytes (a string is taken as UTF-8; generate one with
   * `openssl rand -base64 32`). With it every link is mutually authenticated and every frame carries a MAC.
   * Default: none, which is allowed only on a loopback `listen` address unless `insecure` is set.
   */
  secret?: string | Uint8Array;
  /** Encrypt frames too (AES-256-GCM); needs `secret`. Default false. */
  encrypt?: boolean;
  /** Allow listening on a non-loopback address without a secret. Default false. */
  insecure?: boolean;
  /** Heartbeat and lease-renewal period. Default 100 ms. */
  heartbeatIntervalMs?: number;
  /** Vote-lease length: a crashed leader is replaced about one lease later. Default 1000 ms. */
  leaseMs?: number;
  /** Silence after which a peer counts as down. Default `4 * heartbeatIntervalMs`, below `leaseMs`. */
  peerTimeoutMs?: number;
  /** Bound on clock drift rate between any two nodes. Default 0.01 (1 %). */
  maxDriftRate?: number;
  /**
   * Directory for the small state file that makes terms survive restarts (highest granted term). Optional; without
   * it terms still only grow as long as a majority keeps running. See docs/protocol.md. Default: none.
   */
  stateDir?: string;
  /** Transport tuning; defaults suit a LAN. */
  transport?: TransportTuning;
}

/** Low-level transport knobs (all optional). */
export interface TransportTuning {
  /** Time a connection may take to complete the handshake (`handshake-timeout`). Default 2000 ms. */
  handshakeTimeoutMs?: number;
  /** Largest frame accepted or sent, header included (`frame-too-large`). Default 65536 bytes. */
  maxFrameBytes?: number;
  /** Simultaneous connections accepted from one remote address (`too-many-connections`). Default `max(8, 2 * clusterSize + 4)`. */
  maxConnectionsPerAddress?: number;
  /** First delay before redialing a peer; doubles per failure, jittered. Default 50 ms. */
  reconnectMinMs?: number;
  /** Largest delay between redials of a peer. Default 2000 ms. */
  reconnectMaxMs?: number;
  /** Close a link silent for this long (`idle-timeout`). Default 5000 ms. */
  idleTimeoutMs?: number;
  /** Address peers are told, `'host:port'` (informational). Default: the bound listen address. */
  advertise?: string;
}

/** Defaults of the timing options, in one place for docs and code. */
export const ELECTION_DEFAULTS = {
  heartbeatIntervalMs: 100,
  leaseMs: 1000,
  maxDriftRate: 0.01,
  cluster: 'leader-ip',
} as const;

export interface ResolvedOptions {
  id: number;
  listen: Endpoint;
  peers: Endpoint[];
  clusterSize: number;
  clusterSizeExplicit: boolean;
  cluster: string;
  secret: Uint8Array | undefined;
  encrypt: boolean;
  insecure: boolean;
  heartbeatIntervalMs: number;
  leaseMs: number;
  peerTimeoutMs: number;
  maxDriftRate: number;
  stateDir: string | undefined;
  transport: Omit<TransportTuning, 'advertise'> & { advertise?: Endpoint };
}

const KNOWN = [
  'id',
  'listen',
  'peers',
  'clusterSize',
  'cluster',
  'secret',
  'encrypt',
  'insecure',
  'heartbeatIntervalMs',
  'leaseMs',
  'peerTimeoutMs',
  'maxDriftRate',
  'stateDir',
  'transport',
] as const;

const TRANSPORT_KNOWN = [
  'handshakeTimeoutMs',
  'maxFrameBytes',
  'maxConnectionsPerAddress',
  'reconnectMinMs',
  'reconnectMaxMs',
  'idleTimeoutMs',
  'advertise',
] as const;

const MIN_SECRET_BYTES = 32;

/** Validates user options; throws a {@link ConfigError} naming the first bad field. Never echoes the secret. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const options = checkObject(input, 'options');
  checkKnownKeys(options, KNOWN);
  const id = checkInt(options.id, 'id', 1);
  const listen = parseEndpoint(options.listen, 'listen', true);
  const peers = checkPeers(options.peers ?? [], listen);
  const clusterSizeExplicit = options.clusterSize !== undefined;
  const clusterSize = checkInt(options.clusterSize ?? peers.length + 1, 'clusterSize', 1, MAX_SEES);
  if (clusterSize < peers.length + 1) {
    throw new ConfigError(
      'clusterSize',
      `is ${clusterSize} but ${peers.length} peers plus this node make ${peers.length + 1}`,
    );
  }
  const heartbeatIntervalMs = checkInt(
    options.heartbeatIntervalMs ?? ELECTION_DEFAULTS.heartbeatIntervalMs,
    'heartbeatIntervalMs',
    5,
    60_000,
  );
  const leaseMs = checkInt(options.leaseMs ?? ELECTION_DEFAULTS.leaseMs, 'leaseMs', 10, 600_000);
  const peerTimeoutMs = checkInt(
    options.peerTimeoutMs ?? Math.min(4 * heartbeatIntervalMs, Math.floor(leaseMs / 2)),
    'peerTimeoutMs',
    1,
  );
  const maxDriftRate = checkNumber(options.maxDriftRate ?? ELECTION_DEFAULTS.maxDriftRate, 'maxDriftRate', 0, 0.2);
  const problem = timingProblem({
    id,
    clusterSize,
    heartbeatIntervalMs,
    leaseMs,
    peerTimeoutMs,
    maxDriftRate,
    incarnation: 1,
  });
  if (problem) throw new ConfigError(problem.field, problem.message);
  const secret = checkSecret(options.secret);
  const encrypt = checkBoolean(options.encrypt ?? false, 'encrypt');
  if (encrypt && secret === undefined) throw new ConfigError('encrypt', 'needs a secret');
  return {
    id,
    listen,
    peers,
    clusterSize,
    clusterSizeExplicit,
    cluster: checkString(options.cluster ?? ELECTION_DEFAULTS.cluster, 'cluster', 200),
    secret,
    encrypt,
    insecure: checkBoolean(options.insecure ?? false, 'insecure'),
    heartbeatIntervalMs,
    leaseMs,
    peerTimeoutMs,
    maxDriftRate,
    stateDir: options.stateDir === undefined ? undefined : checkString(options.stateDir, 'stateDir', 4096),
    transport: checkTransport(options.transport),
  };
}

/** Validates one more peer address against those already configured. */
export function checkNewPeer(value: unknown, field: string, existing: readonly Endpoint[], listen: Endpoint): Endpoint {
  const endpoint = parseEndpoint(value, field);
  const text = formatEndpoint(endpoint);
  if (listen.port !== 0 && text === formatEndpoint(listen)) {
    throw new ConfigError(field, `'${text}' is this node's own listen address`);
  }
  if (existing.some((peer) => formatEndpoint(peer) === text)) throw new ConfigError(field, `duplicate peer '${text}'`);
  return endpoint;
}

function checkPeers(value: unknown, listen: Endpoint): Endpoint[] {
  if (!Array.isArray(value)) throw new ConfigError('peers', "expected an array of 'host:port' strings");
  const peers: Endpoint[] = [];
  value.forEach((entry, index) => {
    peers.push(checkNewPeer(entry, `peers[${index}]`, peers, listen));
  });
  return peers;
}

function checkSecret(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof Uint8Array ? value : null;
  if (bytes === null) throw new ConfigError('secret', 'expected a string or a Uint8Array');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new ConfigError('secret', `too short: at least ${MIN_SECRET_BYTES} bytes (openssl rand -base64 32)`);
  }
  return Uint8Array.from(bytes);
}

function checkTransport(value: unknown): ResolvedOptions['transport'] {
  if (value === undefined) return {};
  const t = checkObject(value, 'transport');
  checkKnownKeys(t, TRANSPORT_KNOWN, 'transport.');
  const out: ResolvedOptions['transport'] = {};
  for (const key of TRANSPORT_KNOWN) {
    if (key === 'advertise' || t[key] === undefined) continue;
    out[key] = checkInt(t[key], `transport.${key}`, 1);
  }
  if (t.advertise !== undefined) out.advertise = parseEndpoint(t.advertise, 'transport.advertise');
  return out;
}
