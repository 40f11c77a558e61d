/**
 * The TCP implementation of {@link Transport}: a {@link Listener}, one redialing dialer per configured peer
 * address ({@link Dialers}), and a {@link LinkTable} keeping at most one logical link per peer (see
 * `link-policy.ts` for which connection wins). This file wires them to the connections and the public events;
 * options and their defaults are in `options.ts`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { ConfigError, StateError, TransportError, type TransportErrorReason } from '../errors.ts';
import { type Endpoint, formatEndpoint, isLoopback } from '../util/address.ts';
import { logger } from '../util/log.ts';
import { TAG_BYTES } from './channel.ts';
import { Connection, type ConnectionFailure, type ConnectionHooks, type ConnectionLimits } from './connection.ts';
import { type Dialer, Dialers } from './dialers.ts';
import { FRAME_HEADER_BYTES } from './frame.ts';
import type { PeerInfo } from './handshake.ts';
import { LinkTable } from './link-table.ts';
import { Listener } from './listener.ts';
import { type CloseReason, INCARNATION_BYTES } from './messages.ts';
import { MIN_SECRET_BYTES, type ResolvedTransportOptions, resolveTransportOptions } from './options.ts';
import type { TcpTransportStats, Transport, TransportEvents, TransportOptions } from './types.ts';
import { WriteBatch } from './write-batch.ts';

const log = logger('transport');

/** Longest a closing connection may take to flush its last frames and close before being destroyed. */
const MAX_LINGER_MS = 1000;

/** Refusals by the peer that redialing soon cannot fix: retry at the backoff cap. */
const CONFIG_REFUSALS: ReadonlySet<CloseReason> = new Set([
  'bad-version',
  'wrong-cluster',
  'auth-failed',
  'duplicate-id',
  'own-id',
  'cluster-full',
  'cluster-size-mismatch',
]);

/** Post-handshake refusals (the link-table check lost a race after admission) still count as refusals. */
const LINK_REFUSALS: ReadonlySet<CloseReason> = new Set(['duplicate-id', 'cluster-full']);

/**
 * Leader-election transport over TCP: length-prefixed frames, a handshake that checks cluster membership and
 * (with a secret) mutual authentication, then per-frame MACs (optionally AEAD). Never throws out of socket
 * callbacks: every problem becomes an `error` event and a counter in {@link TcpTransport.stats}.
 *
 * Peers are only ever dialed at addresses given to {@link TcpTransport.addPeer}; inbound links are accepted from
 * any node that passes the handshake.
 */
export class TcpTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly #options: ResolvedTransportOptions;
  /** Held privately and never logged; copied so the caller's buffer can be wiped. */
  readonly #secret: Buffer | undefined;
  readonly #incarnation = randomBytes(INCARNATION_BYTES);
  readonly #limits: ConnectionLimits;
  readonly #stats: TcpTransportStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    connectionsAccepted: 0,
    connectionsDialed: 0,
    badFrames: 0,
    rejected: {},
    messagesIn: 0,
    messagesOut: 0,
    handshakesCompleted: 0,
    closed: {},
  };
  readonly #hooks: ConnectionHooks;
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  #local: Endpoint | undefined;
  #advertised = '';
  readonly #connections = new Set<Connection>();
  readonly #listener: Listener;
  readonly #links: LinkTable;
  readonly #dialers: Dialers;
  /** Nonces of handshakes that turned out to be this node dialing itself. */
  readonly #selfNonces = new Set<string>();
  #dialSeq = 0;
  #stopped: Promise<void> | undefined;
  /** Frames written inside one {@link batch} leave in one write per socket. */
  readonly #batch = new WriteBatch();
  /** One keepalive/idle sweep over every connection, instead of one timer per connection. */
  #keepalive: NodeJS.Timeout | undefined;

  /** Throws a {@link ConfigError} on an invalid option. The secret is copied and never exposed. */
  constructor(options: TransportOptions) {
    super();
    this.#options = resolveTransportOptions(options);
    if (options.secret !== undefined) {
      if (!(options.secret instanceof Uint8Array) || options.secret.length < MIN_SECRET_BYTES) {
        throw new ConfigError('secret', `expected a Uint8Array of at least ${MIN_SECRET_BYTES} bytes`);
      }
      this.#secret = Buffer.from(options.secret);
    }
    const o = this.#options;
    this.#limits = {
      maxFrameBytes: o.maxFrameBytes,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      keepaliveMs: o.keepaliveMs,
      idleTimeoutMs: o.idleTimeoutMs,
      maxWriteBufferBytes: o.maxWriteBufferBytes,
      lingerMs: Math.min(MAX_LINGER_MS, o.handshakeTimeoutMs),
    };
    const logHook = (format: string, ...args: unknown[]) => log(`[%d] ${format}`, o.nodeId, ...args);
    this.#hooks = {
      admit: (connection, peer) => this.#admit(connection, peer),
      established: (connection) => this.#onEstablished(connection),
      message: (connection, payload) => this.#onMessage(connection, payload),
      retiredByPeer: (connection) => this.#links.retiredByPeer(connection),
      failed: (connection, failure) => this.#onFailed(connection, failure),
      closed: (connection) => this.#onClosed(connection),
      log: logHook,
    };
    this.#listener = new Listener(o.maxConnectionsPerAddress, this.#limits.lingerMs, {
      accepting: () => this.#state === 'started',
      arrived: () => this.#stats.connectionsAccepted++,
      accept: (socket, remote) => this.#onInbound(socket, remote),
      refused: (remote, max, frameBytes) => {
        this.#count('rejected', 'too-many-connections');
        this.#emitError(
          'too-many-connections',
          `refused ${remote}: more than ${max} connections from that address`,
          remote,
        );
        this.#stats.framesOut++;
        this.#stats.bytesOut += frameBytes;
      },
      log: logHook,
    });
    this.#links = new LinkTable(o.nodeId, o.clusterSize, o.handshakeTimeoutMs, o.maxWriteBufferBytes, {
      up: (peerId, advertised) => this.emit('peerUp', peerId, advertised),
      down: (peerId) => {
        this.emit('peerDown', peerId);
        this.#dialers.linkDown(peerId);
      },
      log: logHook,
    });
    this.#dialers = new Dialers(o.reconnectMinMs, o.reconnectMaxMs, {
      active: () => this.#state === 'started',
      linked: (peerId) => this.#links.has(peerId),
      connect: (dialer) => this.#connect(dialer),
      log: logHook,
    });
  }

  /** Peers with an established link right now. */
  get connectedPeers(): ReadonlySet<number> {
    return this.#links.connected;
  }

  /** The bound listen address, once started. */
  get localEndpoint(): Endpoint | undefined {
    return this.#local ? { ...this.#local } : undefined;
  }

  /** Largest payload `send` accepts (a peer declaring a smaller frame limit lowers it for that peer). */
  get maxPayloadBytes(): number {
    return this.#options.maxFrameBytes - this.#overheadBytes();
  }

  /**
   * Listens. Rejects with `insecure-refused` when there is no secret, the listen host is not loopback and
   * `insecure` is not set; with `listen-failed` when the address cannot be bound.
   */
  async start(): Promise<Endpoint> {
    if (this.#state !== 'new') throw new StateError(`start() called on a ${this.#state} transport`);
    const o = this.#options;
    const listenText = formatEndpoint(o.listen);
    checkListenSecurity(o.listen, this.#secret !== undefined, o.insecure);
    if (!this.#secret) {
      log(
        '[%d] cluster %s is UNAUTHENTICATED (no secret): any process that can reach %s can join it',
        o.nodeId,
        o.cluster,
        listenText,
      );
    }
    this.#state = 'starting';
    let port: number;
    try {
      port = await this.#listener.listen(o.listen);
    } catch (error) {
      this.#state = 'stopped';
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new TransportError('listen-failed', `cannot listen on ${listenText}: ${code}`, { cause: error });
    }
    this.#local = { host: o.listen.host, port };
    this.#advertised = formatEndpoint(o.advertise ?? this.#local);
    log('[%d] listening on %s (advertised %s)', o.nodeId, formatEndpoint(this.#local), this.#advertised);
    if (this.#state !== 'starting') {
      // stop() raced with start(): it closes the server once listen() settled.
      throw new StateError('transport stopped while starting');
    }
    this.#state = 'started';
    const sweep = Math.max(1, Math.floor(o.keepaliveMs / 2));
    this.#keepalive = setInterval(() => this.#sweep(), sweep).unref();
    this.#dialers.dialAll();
    return { ...this.#local };
  }

  /**
   * Dials `endpoint` and keeps a link to whatever node answers there, redialing with capped, jittered
   * exponential backoff. Idempotent per address; before `start()` the dial waits for it.
   */
  addPeer(endpoint: Endpoint): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#dialers.add(endpoint);
  }

  /**
   * Sends one message. Returns false (and drops it) when there is no link; also false, with an `error` event
   * (`frame-too-large`), when the payload exceeds the frame limit agreed with that peer.
   */
  send(peerId: number, payload: Uint8Array): boolean {
    const link = this.#links.get(peerId);
    if (!link) return false;
    const limit = Math.min(this.#options.maxFrameBytes, link.maxFrameBytes) - this.#overheadBytes();
    if (payload.length > limit) {
      this.emit(
        'error',
        new TransportError('frame-too-large', `message of ${payload.length} bytes exceeds the limit of ${limit}`, {
          peerId,
        }),
      );
      return false;
    }
    return this.#links.send(peerId, payload);
  }

  /**
   * Runs `work` and sends what it sent as one write per peer when it returns (see {@link WriteBatch}): callers
   * wrap one protocol step in it, so a heartbeat and a lease renewal to the same peer share a segment.
   */
  batch<T>(work: () => T): T {
    return this.#batch.run(work);
  }

  /**
   * Closes the listener and every connection, and stops dialing. Emits `peerDown` for every link at once, then
   * nothing more. Pending writes get up to ~1 s to flush. Resolves when every socket and the server are closed.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  /** A snapshot of the counters. */
  stats(): TcpTransportStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected }, closed: { ...this.#stats.closed } };
  }

  /** The established links, for status pages and debugging. */
  links(): { peerId: number; advertised: string; direction: 'inbound' | 'outbound'; local: string; remote: string }[] {
    const out = [];
    for (const link of this.#links.values()) {
      if (!link.active) continue;
      out.push({
        peerId: link.peerId,
        advertised: link.advertised,
        direction: link.active.direction,
        local: link.active.local,
        remote: link.active.remote,
      });
    }
    return out;
  }

  /** Open sockets (handshaking, established, retiring or closing). */
  get openConnections(): number {
    return this.#connections.size + this.#listener.refusedOpen;
  }

  async #stop(): Promise<void> {
    const previous = this.#state;
    this.#state = 'stopping';
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    this.#dialers.disableAll();
    for (const peerId of this.#links.clear()) this.emit('peerDown', peerId);
    const closing: Promise<void>[] = [...this.#connections].map((connection) => connection.shutdown());
    closing.push(this.#listener.close());
    await Promise.all(closing);
    this.#state = 'stopped';
    log('[%d] stopped (was %s)', this.#options.nodeId, previous);
  }

  #sweep(): void {
    const now = performance.now();
    this.#batch.run(() => {
      for (const connection of this.#connections) connection.tick(now);
    });
  }

  #overheadBytes(): number {
    return FRAME_HEADER_BYTES + (this.#secret ? TAG_BYTES : 0);
  }

  #onInbound(socket: Socket, remote: string): void {
    this.#connections.add(
      new Connection(
        socket,
        'inbound',
        remote,
        this.#handshakeConfig(),
        this.#limits,
        this.#stats,
        this.#hooks,
        this.#batch,
      ),
    );
  }

  #connect(dialer: Dialer): Connection {
    const { host, port } = dialer.endpoint;
    const socket = connect({ host, port });
    socket.once('connect', () => this.#stats.connectionsDialed++);
    const connection = new Connection(
      socket,
      'outbound',
      dialer.key,
      { ...this.#handshakeConfig(), dialSeq: ++this.#dialSeq % 0x1_0000_0000 },
      this.#limits,
      this.#stats,
      this.#hooks,
      this.#batch,
    );
    this.#connections.add(connection);
    return connection;
  }

  #handshakeConfig() {
    const o = this.#options;
    return {
      nodeId: o.nodeId,
      cluster: o.cluster,
      clusterSize: o.clusterSize,
      advertised: this.#advertised,
      maxFrameBytes: o.maxFrameBytes,
      incarnation: this.#incarnation,
      secret: this.#secret,
      encrypt: o.encrypt,
    };
  }

  #admit(connection: Connection, peer: PeerInfo): CloseReason | undefined {
    if (this.#state !== 'started') return 'refused';
    const { decision } = this.#links.decide(connection, peer);
    return decision.action === 'refuse' ? decision.reason : undefined;
  }

  #onEstablished(connection: Connection): void {
    const peer = connection.peer!;
    this.#stats.handshakesCompleted++;
    this.#dialers.established(connection, peer.nodeId);
    if (this.#state !== 'started') {
      connection.shutdown();
      return;
    }
    const { decision, facts } = this.#links.decide(connection, peer);
    this.#links.apply(connection, peer, decision, facts.address);
  }

  #onMessage(connection: Connection, payload: Uint8Array): void {
    if (this.#state !== 'started') return;
    const peerId = this.#links.carries(connection);
    if (peerId !== undefined) this.emit('message', peerId, payload);
  }

  #onFailed(connection: Connection, failure: ConnectionFailure): void {
    const dialer = this.#dialers.of(connection);
    const claimedId = connection.peer?.nodeId ?? failure.peerHello?.nodeId;
    if (failure.reason === 'superseded') {
      // An existing link to that node won the tie-break: rest the dialer until that link goes down.
      if (dialer && claimedId !== undefined && this.#links.has(claimedId)) dialer.peerId = claimedId;
      this.#hooks.log('connection %d (%s) superseded', connection.id, connection.remote);
      return;
    }
    if (this.#state !== 'started') return;
    if (failure.reason === 'own-id') {
      const hello = failure.peerHello;
      if (!failure.byPeer && hello && this.#incarnation.equals(Buffer.from(hello.incarnation))) {
        this.#selfNonces.add(Buffer.from(hello.nonce).toString('hex'));
      }
      if (failure.byPeer && dialer && this.#selfNonces.delete(connection.handshakeNonce)) {
        dialer.disabled = true;
        this.#hooks.log('peer address %s is this node itself: no longer dialing it', dialer.key);
        return;
      }
    }
    if (dialer && failure.byPeer && CONFIG_REFUSALS.has(failure.reason)) dialer.capNext = true;
    if (failure.badFrame) this.#stats.badFrames++;
    const refusal = failure.phase === 'handshake' || LINK_REFUSALS.has(failure.reason);
    const reason: TransportErrorReason = failure.reason;
    this.#count(refusal ? 'rejected' : 'closed', reason);
    this.#hooks.log('connection %d (%s) %s: %s', connection.id, connection.remote, reason, failure.message);
    this.#emitError(reason, failure.message, connection.remote, claimedId);
  }

  #onClosed(connection: Connection): void {
    this.#connections.delete(connection);
    this.#links.closed(connection);
    this.#dialers.closed(connection);
  }

  #count(kind: 'rejected' | 'closed', reason: TransportErrorReason): void {
    const counters = this.#stats[kind];
    counters[reason] = (counters[reason] ?? 0) + 1;
  }

  #emitError(reason: TransportErrorReason, message: string, remote?: string, peerId?: number): void {
    this.emit('error', new TransportError(reason, message, { remote, peerId }));
  }
}

/**
 * Throws `insecure-refused` when a cluster without a secret would listen beyond loopback without the explicit
 * `insecure` opt-in. Exported so callers can validate before binding anything.
 */
export function checkListenSecurity(listen: Endpoint, hasSecret: boolean, insecure: boolean): void {
  if (hasSecret || insecure || isLoopback(listen.host)) return;
  throw new TransportError(
    'insecure-refused',
    `refusing to listen on ${formatEndpoint(listen)} without a secret: any host that reaches it could join the ` +
      'cluster; set a secret (or insecure: true to accept that risk)',
  );
}
