import {
  APPEND_OVERHEAD_BYTES,
  BROADCAST_DEFAULTS,
  type BroadcastLimits,
  MAX_FOLLOWER_PENDING,
} from '../core/broadcast.ts';
import { MAX_SEES } from '../core/codec.ts';
import { timingProblem } from '../core/config.ts';
import { ConfigError } from '../errors.ts';
import { LEADERSHIP_KEYS, type LeadershipOptions, resolveLeadershipOptions } from '../leadership/leadership-options.ts';
import { resolveTuning, TRANSPORT_DEFAULTS, type TransportTuningValues, TUNING_KEYS } from '../transport/options.ts';
import type { TransportOptions } from '../transport/types.ts';
import { type Endpoint, endpointKey, formatEndpoint, parseEndpoint } from '../util/address.ts';
import { checkBoolean, checkInt, checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.ts';

/**
 * Options of {@link ElectionNode}. Only `id` and `listen` are required. Health gating, voter-only witnesses and
 * preemption control (`health`, `voterOnly`, `preempt`, `preemptDelayMs`) are the {@link LeadershipOptions}.
 */
export interface ElectionNodeOptions extends LeadershipOptions {
  /** This node's ID: a positive safe integer, unique in the cluster. Lower IDs win; see docs/operations.md. */
  id: number;
  /** Where to listen: `'host:port'` or `'[v6]:port'`. Port 0 picks a free port (see `node.address`). */
  listen: string;
  /**
   * The other members' addresses. Their IDs are learned at the handshake. More can be added with `addPeer`.
   * Default: none (a cluster of one, until peers are added).
   */
  peers?: readonly string[] | undefined;
  /** Voting members, this node included. Default: `peers.length + 1`. A majority is `floor(clusterSize / 2) + 1`. */
  clusterSize?: number | undefined;
  /** Cluster name; both ends of every link must agree. Default `'leader-ip'`. */
  cluster?: string | undefined;
  /**
   * Shared secret, at least 32 bytes (a string is taken as UTF-8; generate one with
   * `openssl rand -base64 32`). With it every link is mutually authenticated and every frame carries a MAC.
   * Default: none, which is allowed only on a loopback `listen` address unless `insecure` is set.
   */
  secret?: string | Uint8Array | undefined;
  /** Encrypt frames too (AES-256-GCM); needs `secret`. Default false. */
  encrypt?: boolean | undefined;
  /** Allow listening on a non-loopback address without a secret. Default false. */
  insecure?: boolean | undefined;
  /** Heartbeat and lease-renewal period. Default 100 ms. */
  heartbeatIntervalMs?: number | undefined;
  /** Vote-lease length: a crashed leader is replaced about one lease later. Default 1000 ms. */
  leaseMs?: number | undefined;
  /** Silence after which a peer counts as down. Default `4 * heartbeatIntervalMs`, below `leaseMs`. */
  peerTimeoutMs?: number | undefined;
  /** Bound on clock drift rate between any two nodes. Default 0.01 (1 %). */
  maxDriftRate?: number | undefined;
  /**
   * Directory for the small state file that makes terms survive restarts (highest granted term). Optional; without
   * it terms still only grow as long as a majority keeps running. See docs/protocol.md. Default: none.
   */
  stateDir?: string | undefined;
  /** Transport tuning; defaults suit a LAN. */
  transport?: TransportTuning | undefined;
  /**
   * Where the election runs: `'worker'` (default) runs the protocol, its timers and its sockets on a
   * `worker_threads` Worker, so a busy or blocked application event loop cannot delay heartbeats or lease
   * renewals; `'main'` runs everything on the caller's event loop (one thread less; an event-loop stall longer
   * than a lease then costs the leadership). See docs/operations.md.
   */
  thread?: 'worker' | 'main' | undefined;
  /**
   * The application-liveness bound, worker mode only: when the main thread (your application's event loop) has
   * not run for this long, the node stops leading (`lostLeadership` with reason `'stalled'`) and does not lead
   * again until it runs. Shorter stalls change nothing. Default 5000 ms; see docs/operations.md.
   */
  maxStallMs?: number | undefined;
  /** Bounds of the leader-serialized broadcast (`node.append`); see docs/protocol.md §12. */
  broadcast?: BroadcastOptions | undefined;
}

/**
 * Bounds of `node.append` (all optional; defaults in `BROADCAST_DEFAULTS`). An append beyond them is refused at once
 * with an `AppendError` (`'tooLarge'`, `'backpressure'`), never buffered.
 */
export interface BroadcastOptions {
  /**
   * Largest entry, bytes of data. Default 60 KiB; at most `transport.maxFrameBytes - 96` (an entry travels in one
   * frame).
   */
  maxEntryBytes?: number | undefined;
  /** Entries the leader keeps in flight (sent, not yet confirmed by a majority). Default 64; 1 .. 4096. */
  maxInFlightEntries?: number | undefined;
  /**
   * Bytes of data the leader keeps in flight. Default 256 KiB; from `maxEntryBytes` to 512 KiB, so a catch-up
   * (everything in flight, at once) always fits a link's 1 MiB write buffer.
   */
  maxInFlightBytes?: number | undefined;
}

/** Low-level transport knobs (all optional). */
export interface TransportTuning {
  /** Time a connection may take to complete the handshake (`handshake-timeout`). Default 2000 ms. */
  handshakeTimeoutMs?: number | undefined;
  /** Largest frame accepted or sent, header included (`frame-too-large`). Default 65536 bytes. */
  maxFrameBytes?: number | undefined;
  /** Simultaneous connections accepted from one remote address (`too-many-connections`). Default `max(8, 2 * clusterSize + 4)`. */
  maxConnectionsPerAddress?: number | undefined;
  /** First delay before redialing a peer; doubles per failure, jittered. Default 50 ms. */
  reconnectMinMs?: number | undefined;
  /** Largest delay between redials of a peer. Default 2000 ms. */
  reconnectMaxMs?: number | undefined;
  /** Close a link silent for this long (`idle-timeout`). Default 5000 ms. */
  idleTimeoutMs?: number | undefined;
  /** Address peers are told, `'host:port'` (informational). Default: the bound listen address. */
  advertise?: string | undefined;
}

/**
 * Every fixed default of {@link ElectionNodeOptions}, in one place for docs and code. Two defaults depend on other
 * options: `peerTimeoutMs` is `min(4 × heartbeatIntervalMs, leaseMs / 2)` and `transport.maxConnectionsPerAddress`
 * is `max(8, 2 × clusterSize + 4)`; the other `transport.*` defaults are the transport's own.
 */
export const ELECTION_DEFAULTS = {
  /** Heartbeat and lease-renewal period, ms. */
  heartbeatIntervalMs: 100,
  /** Vote-lease length, ms: a crashed leader is replaced about one lease later. */
  leaseMs: 1000,
  /** Bound on the drift rate between clocks (1 %). */
  maxDriftRate: 0.01,
  /** Cluster name both ends of a link must agree on. */
  cluster: 'leader-ip',
  /** Frames are MACed with a secret, not encrypted, by default. */
  encrypt: false,
  /** Without a secret, refuse to listen beyond loopback. */
  insecure: false,
  /** The election runs on its own worker thread. */
  thread: 'worker',
  /**
   * 5 s: well above the event-loop stalls a healthy server has (GC pauses, a large JSON.parse: tens of ms to
   * about a second), so those never move leadership (and a floating IP, which costs seconds per move); yet short
   * enough that an application stuck for good hands over within about 6 s (this plus a lease), well inside the
   * 10 s or more a load balancer's health check usually takes to notice.
   */
  maxStallMs: 5000,
} as const;

/** Defaults that depend on other options. */
export const derivedDefaults = {
  /** Failover waits for the peer timeout otherwise; 4 heartbeats, capped at half a lease. */
  peerTimeoutMs: (heartbeatIntervalMs: number, leaseMs: number): number =>
    Math.min(4 * heartbeatIntervalMs, Math.floor(leaseMs / 2)),
  /**
   * A member needs at most two connections at once (its link and a simultaneous dial); several members may share
   * one address (a NAT, or a test cluster on one host), so the cap scales with the cluster.
   */
  maxConnectionsPerAddress: (clusterSize: number): number => Math.max(8, 2 * clusterSize + 4),
} as const;

/** Options after validation: what the engine runs with. Structured-cloneable (it crosses to the worker). */
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
  thread: 'worker' | 'main';
  maxStallMs: number;
  broadcast: BroadcastLimits;
  voterOnly: boolean;
  preempt: boolean;
  preemptDelayMs: number;
  /**
   * The health verdict the engine starts with: true without a health check, false with one (until its first pass).
   * The check itself (a function) stays on the main thread; verdicts cross as `setHealthy` commands.
   */
  healthy: boolean;
  /** `maxConnectionsPerAddress` is undefined when not given: derived from the final cluster size at start. */
  transport: Omit<TransportTuningValues, 'maxConnectionsPerAddress' | 'keepaliveMs' | 'maxWriteBufferBytes'> & {
    maxConnectionsPerAddress: number | undefined;
    advertise: Endpoint | undefined;
  };
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
  'thread',
  'maxStallMs',
  'broadcast',
  ...LEADERSHIP_KEYS,
] as const;

/** The transport knobs a node exposes (the others keep the transport's defaults). */
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

/**
 * Validates user options; throws a {@link ConfigError} naming the first bad field by its full path
 * (`transport.maxFrameBytes`). Never echoes the secret. An option given as `undefined` takes its default.
 */
export function resolveOptions(input: unknown): ResolvedOptions {
  const options = checkObject(input, 'options');
  checkKnownKeys(options, KNOWN);
  const d = ELECTION_DEFAULTS;
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
    options.heartbeatIntervalMs ?? d.heartbeatIntervalMs,
    'heartbeatIntervalMs',
    5,
    60_000,
  );
  const leaseMs = checkInt(options.leaseMs ?? d.leaseMs, 'leaseMs', 10, 600_000);
  const peerTimeoutMs = checkInt(
    options.peerTimeoutMs ?? derivedDefaults.peerTimeoutMs(heartbeatIntervalMs, leaseMs),
    'peerTimeoutMs',
    1,
  );
  const maxDriftRate = checkNumber(options.maxDriftRate ?? d.maxDriftRate, 'maxDriftRate', 0, 0.2);
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
  const encrypt = checkBoolean(options.encrypt ?? d.encrypt, 'encrypt');
  const transport = checkTransport(options.transport, clusterSize);
  if (encrypt && secret === undefined) throw new ConfigError('encrypt', 'needs a secret');
  // Peers may still be added before start (addPeer): only a cluster of one for sure is known here.
  const leadership = resolveLeadershipOptions(
    options,
    clusterSizeExplicit || peers.length > 0 ? clusterSize : undefined,
  );
  return {
    id,
    listen,
    peers,
    clusterSize,
    clusterSizeExplicit,
    cluster: checkString(options.cluster ?? d.cluster, 'cluster', 200),
    secret,
    encrypt,
    insecure: checkBoolean(options.insecure ?? d.insecure, 'insecure'),
    heartbeatIntervalMs,
    leaseMs,
    peerTimeoutMs,
    maxDriftRate,
    stateDir: options.stateDir === undefined ? undefined : checkString(options.stateDir, 'stateDir', 4096),
    thread: checkThread(options.thread ?? d.thread),
    maxStallMs: checkMaxStall(options.maxStallMs ?? d.maxStallMs, heartbeatIntervalMs),
    transport,
    broadcast: checkBroadcast(options.broadcast, transport.maxFrameBytes),
    voterOnly: leadership.voterOnly,
    preempt: leadership.preempt,
    preemptDelayMs: leadership.preemptDelayMs,
    healthy: leadership.health.check === null,
  };
}

/** A catch-up sends everything in flight at once: it must fit half a link's write buffer (1 MiB). */
const MAX_IN_FLIGHT_BYTES = 512 * 1024;

/**
 * Validates `broadcast.*` against the frame size (an entry travels in one frame) and the link's write buffer
 * (a catch-up must fit it, or the link would be dropped and the catch-up repeated forever).
 */
function checkBroadcast(value: unknown, maxFrameBytes: number): BroadcastLimits {
  const b = value === undefined ? {} : checkObject(value, 'broadcast');
  checkKnownKeys(b, ['maxEntryBytes', 'maxInFlightEntries', 'maxInFlightBytes'], 'broadcast.');
  const d = BROADCAST_DEFAULTS;
  const entryMax = maxFrameBytes - APPEND_OVERHEAD_BYTES;
  if (b.maxEntryBytes === undefined && d.maxEntryBytes > entryMax) {
    throw new ConfigError(
      'transport.maxFrameBytes',
      `${maxFrameBytes} leaves room for entries of ${entryMax} bytes, below broadcast.maxEntryBytes' default ${d.maxEntryBytes}; set broadcast.maxEntryBytes too`,
    );
  }
  const maxEntryBytes = checkInt(b.maxEntryBytes ?? d.maxEntryBytes, 'broadcast.maxEntryBytes', 1, entryMax);
  const maxInFlightEntries = checkInt(
    b.maxInFlightEntries ?? d.maxInFlightEntries,
    'broadcast.maxInFlightEntries',
    1,
    MAX_FOLLOWER_PENDING,
  );
  const maxInFlightBytes = checkInt(
    b.maxInFlightBytes ?? Math.max(d.maxInFlightBytes, maxEntryBytes),
    'broadcast.maxInFlightBytes',
    maxEntryBytes,
    MAX_IN_FLIGHT_BYTES,
  );
  return { maxEntryBytes, maxInFlightEntries, maxInFlightBytes };
}

/** Validates one more peer address against those already configured. */
export function checkNewPeer(value: unknown, field: string, existing: readonly Endpoint[], listen: Endpoint): Endpoint {
  const endpoint = parseEndpoint(value, field);
  const text = formatEndpoint(endpoint);
  const key = endpointKey(endpoint);
  if (listen.port !== 0 && key === endpointKey(listen)) {
    throw new ConfigError(field, `'${text}' is this node's own listen address`);
  }
  const same = existing.find((peer) => endpointKey(peer) === key);
  if (same !== undefined) {
    const other = formatEndpoint(same);
    throw new ConfigError(
      field,
      other === text ? `duplicate peer '${text}'` : `'${text}' is the same peer as '${other}'`,
    );
  }
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

function checkThread(value: unknown): 'worker' | 'main' {
  if (value !== 'worker' && value !== 'main') throw new ConfigError('thread', "expected 'worker' or 'main'");
  return value;
}

function checkMaxStall(value: unknown, heartbeatIntervalMs: number): number {
  // Below two heartbeats the worker could not tell a stall from the main thread's own timer jitter.
  return checkInt(value, 'maxStallMs', Math.max(100, 2 * heartbeatIntervalMs), 3_600_000);
}

/**
 * Validates `transport.*` with the transport's own validators, so the ranges are the transport's and every field
 * is named by its full path. The node does not expose `keepaliveMs`, so `idleTimeoutMs` is checked against the
 * transport's default keepalive.
 */
function checkTransport(value: unknown, clusterSize: number): ResolvedOptions['transport'] {
  const t = value === undefined ? {} : checkObject(value, 'transport');
  checkKnownKeys(t, TRANSPORT_KNOWN, 'transport.');
  const given: Record<string, unknown> = {};
  for (const key of TUNING_KEYS) if ((TRANSPORT_KNOWN as readonly string[]).includes(key)) given[key] = t[key];
  const tuning = resolveTuning(given, 'transport.', {
    ...TRANSPORT_DEFAULTS,
    maxConnectionsPerAddress: derivedDefaults.maxConnectionsPerAddress(clusterSize),
  });
  return {
    handshakeTimeoutMs: tuning.handshakeTimeoutMs,
    maxFrameBytes: tuning.maxFrameBytes,
    maxConnectionsPerAddress: t.maxConnectionsPerAddress === undefined ? undefined : tuning.maxConnectionsPerAddress,
    reconnectMinMs: tuning.reconnectMinMs,
    reconnectMaxMs: tuning.reconnectMaxMs,
    idleTimeoutMs: tuning.idleTimeoutMs,
    advertise: t.advertise === undefined ? undefined : parseEndpoint(t.advertise, 'transport.advertise'),
  };
}

/** The transport's options for a node about to start (the cluster size is final by then). */
export function transportOptionsFor(o: ResolvedOptions): TransportOptions {
  return {
    nodeId: o.id,
    listen: o.listen,
    cluster: o.cluster,
    clusterSize: o.clusterSize,
    secret: o.secret,
    encrypt: o.encrypt,
    insecure: o.insecure,
    ...o.transport,
    maxConnectionsPerAddress:
      o.transport.maxConnectionsPerAddress ?? derivedDefaults.maxConnectionsPerAddress(o.clusterSize),
  };
}
