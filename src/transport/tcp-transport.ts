/**
 * The TCP implementation of {@link Transport}: a listener plus one redialing dialer per configured peer
 * address, keeping at most one logical link per peer (see `link-policy.ts` for which connection wins).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { ConfigError, StateError, TransportError, type TransportErrorReason } from '../errors.ts';
import { type Endpoint, formatEndpoint, isLoopback } from '../util/address.ts';
import { logger } from '../util/log.ts';
import { Backoff } from './backoff.ts';
import { TAG_BYTES } from './channel.ts';
import {
  Connection,
  type ConnectionFailure,
  type ConnectionHooks,
  type ConnectionLimits,
  normalizeIp,
} from './connection.ts';
import { encodeFrame, FRAME_HEADER_BYTES, FrameKind } from './frame.ts';
import type { PeerInfo } from './handshake.ts';
import { type ConnectionFacts, decideLink, type ExistingLink, identityAddress } from './link-policy.ts';
import { type CloseReason, encodeReason, INCARNATION_BYTES } from './messages.ts';
import { MIN_SECRET_BYTES, type ResolvedTransportOptions, resolveTransportOptions } from './options.ts';
import type { TcpTransportStats, Transport, TransportEvents, TransportOptions } from './types.ts';

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

/** One logical link to a peer process. */
interface Link {
  peerId: number;
  advertised: string;
  address: string;
  incarnation: string;
  maxFrameBytes: number;
  /** The connection carrying the link; undefined while the peer retired it and its replacement is on the way. */
  active: Connection | undefined;
  /** Messages sent while waiting for the replacement, flushed to it. */
  queue: Uint8Array[];
  queuedBytes: number;
  graceTimer: NodeJS.Timeout | undefined;
}

/** Dialing state of one configured peer address. */
interface Dialer {
  endpoint: Endpoint;
  key: string;
  /** The node last found at this address: while it is linked (either direction) the dialer rests. */
  peerId: number | undefined;
  connection: Connection | undefined;
  timer: NodeJS.Timeout | undefined;
  backoff: Backoff;
  /** Next redial waits the backoff cap: the peer refused this node's configuration. */
  capNext: boolean;
  /** Never dialed again: the address is this node itself. */
  disabled: boolean;
}

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
  #server: Server | undefined;
  #local: Endpoint | undefined;
  #advertised = '';
  readonly #connections = new Set<Connection>();
  /** Sockets refused before a Connection existed (too many from one address), closing. */
  readonly #refusedSockets = new Set<Socket>();
  readonly #inboundPerIp = new Map<string, number>();
  readonly #links = new Map<number, Link>();
  readonly #connected = new Set<number>();
  readonly #dialers = new Map<string, Dialer>();
  readonly #dialerOf = new WeakMap<Connection, Dialer>();
  /** Nonces of handshakes that turned out to be this node dialing itself. */
  readonly #selfNonces = new Set<string>();
  #dialSeq = 0;
  #stopped: Promise<void> | undefined;
  /** Settles when a pending listen() finished (so stop() can wait for the server it may have opened). */
  #listening: Promise<unknown> = Promise.resolve();

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
    this.#hooks = {
      admit: (connection, peer) => this.#admit(connection, peer),
      established: (connection) => this.#onEstablished(connection),
      message: (connection, payload) => this.#onMessage(connection, payload),
      retiredByPeer: (connection) => this.#onRetiredByPeer(connection),
      failed: (connection, failure) => this.#onFailed(connection, failure),
      closed: (connection) => this.#onClosed(connection),
      log: (format, ...args) => log(`[%d] ${format}`, o.nodeId, ...args),
    };
  }

  /** Peers with an established link right now. */
  get connectedPeers(): ReadonlySet<number> {
    return this.#connected;
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
    const server = createServer({ noDelay: true });
    server.on('connection', (socket) => this.#onInbound(socket));
    this.#server = server;
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.listen.port, o.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#listening = listening.then(
      () => undefined,
      () => undefined,
    );
    try {
      await listening;
    } catch (error) {
      this.#state = 'stopped';
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new TransportError('listen-failed', `cannot listen on ${listenText}: ${code}`, { cause: error });
    }
    server.on('error', (error: NodeJS.ErrnoException) => log('[%d] server error: %s', o.nodeId, error.code));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : o.listen.port;
    this.#local = { host: o.listen.host, port };
    this.#advertised = formatEndpoint(o.advertise ?? this.#local);
    log('[%d] listening on %s (advertised %s)', o.nodeId, formatEndpoint(this.#local), this.#advertised);
    if (this.#state !== 'starting') {
      // stop() raced with start(): it closes the server once listen() settled.
      throw new StateError('transport stopped while starting');
    }
    this.#state = 'started';
    for (const dialer of this.#dialers.values()) this.#dial(dialer);
    return { ...this.#local };
  }

  /**
   * Dials `endpoint` and keeps a link to whatever node answers there, redialing with capped, jittered
   * exponential backoff. Idempotent per address; before `start()` the dial waits for it.
   */
  addPeer(endpoint: Endpoint): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const key = formatEndpoint(endpoint);
    if (this.#dialers.has(key)) return;
    const o = this.#options;
    const dialer: Dialer = {
      endpoint: { host: endpoint.host, port: endpoint.port },
      key,
      peerId: undefined,
      connection: undefined,
      timer: undefined,
      backoff: new Backoff(o.reconnectMinMs, o.reconnectMaxMs),
      capNext: false,
      disabled: false,
    };
    this.#dialers.set(key, dialer);
    if (this.#state === 'started') this.#dial(dialer);
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
    if (link.active) return link.active.send(payload);
    if (link.queuedBytes + payload.length > this.#options.maxWriteBufferBytes) return false;
    link.queue.push(payload.slice());
    link.queuedBytes += payload.length;
    return true;
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
    return this.#connections.size + this.#refusedSockets.size;
  }

  async #stop(): Promise<void> {
    const previous = this.#state;
    this.#state = 'stopping';
    for (const dialer of this.#dialers.values()) {
      dialer.disabled = true;
      if (dialer.timer) clearTimeout(dialer.timer);
      dialer.timer = undefined;
    }
    const down = [...this.#links.keys()];
    for (const link of this.#links.values()) if (link.graceTimer) clearTimeout(link.graceTimer);
    this.#links.clear();
    this.#connected.clear();
    for (const peerId of down) this.emit('peerDown', peerId);
    await this.#listening;
    const closing: Promise<void>[] = [...this.#connections].map((connection) => connection.shutdown());
    for (const socket of this.#refusedSockets) {
      closing.push(new Promise((resolve) => socket.once('close', () => resolve())));
      socket.destroy();
    }
    if (this.#server) {
      const server = this.#server;
      closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    await Promise.all(closing);
    this.#state = 'stopped';
    log('[%d] stopped (was %s)', this.#options.nodeId, previous);
  }

  #overheadBytes(): number {
    return FRAME_HEADER_BYTES + (this.#secret ? TAG_BYTES : 0);
  }

  #onInbound(socket: Socket): void {
    this.#stats.connectionsAccepted++;
    socket.on('error', () => {});
    if (this.#state !== 'started') {
      socket.destroy();
      return;
    }
    const ip = normalizeIp(socket.remoteAddress);
    const remote = `${ip}:${socket.remotePort ?? 0}`;
    const count = this.#inboundPerIp.get(ip) ?? 0;
    if (count >= this.#options.maxConnectionsPerAddress) {
      this.#refuseSocket(socket, remote);
      return;
    }
    this.#inboundPerIp.set(ip, count + 1);
    socket.once('close', () => {
      const left = (this.#inboundPerIp.get(ip) ?? 1) - 1;
      if (left > 0) this.#inboundPerIp.set(ip, left);
      else this.#inboundPerIp.delete(ip);
    });
    this.#track(
      new Connection(socket, 'inbound', remote, this.#handshakeConfig(), this.#limits, this.#stats, this.#hooks),
    );
  }

  /** Too many connections from one address: answer REJECT and close, without a handshake or a decoder. */
  #refuseSocket(socket: Socket, remote: string): void {
    const max = this.#options.maxConnectionsPerAddress;
    this.#count('rejected', 'too-many-connections');
    this.#emitError(
      'too-many-connections',
      `refused ${remote}: more than ${max} connections from that address`,
      remote,
    );
    this.#refusedSockets.add(socket);
    const frame = encodeFrame(FrameKind.Reject, encodeReason('too-many-connections'));
    this.#stats.framesOut++;
    this.#stats.bytesOut += frame.length;
    socket.end(frame);
    socket.resume();
    const linger = setTimeout(() => socket.destroy(), this.#limits.lingerMs).unref();
    socket.once('close', () => {
      clearTimeout(linger);
      this.#refusedSockets.delete(socket);
    });
  }

  #dial(dialer: Dialer): void {
    if (this.#state !== 'started' || dialer.disabled || dialer.connection || dialer.timer) return;
    if (dialer.peerId !== undefined) {
      if (this.#links.has(dialer.peerId)) return;
      // Two addresses of one node: let one dialer at a time try, so they do not race each other.
      for (const other of this.#dialers.values()) {
        if (other !== dialer && other.peerId === dialer.peerId && other.connection) return;
      }
    }
    const { host, port } = dialer.endpoint;
    this.#hooks.log('dialing %s', dialer.key);
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
    );
    dialer.connection = connection;
    this.#dialerOf.set(connection, dialer);
    this.#track(connection);
  }

  #scheduleDial(dialer: Dialer): void {
    if (this.#state !== 'started' || dialer.disabled || dialer.connection || dialer.timer) return;
    if (dialer.peerId !== undefined && this.#links.has(dialer.peerId)) return;
    const delay = dialer.capNext ? dialer.backoff.capped() : dialer.backoff.next();
    dialer.capNext = false;
    dialer.timer = setTimeout(() => {
      dialer.timer = undefined;
      this.#dial(dialer);
    }, delay).unref();
  }

  #track(connection: Connection): void {
    this.#connections.add(connection);
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

  #facts(connection: Connection, peer: PeerInfo): ConnectionFacts {
    return {
      direction: connection.direction,
      incarnation: peer.incarnation,
      address: identityAddress(peer.advertised, connection.remoteIp),
      dialSeq: peer.dialSeq,
    };
  }

  #existing(peerId: number): ExistingLink | undefined {
    const link = this.#links.get(peerId);
    if (!link) return undefined;
    const active = link.active;
    const activePeer = active?.peer;
    return {
      incarnation: link.incarnation,
      address: link.address,
      active: active && activePeer ? this.#facts(active, activePeer) : undefined,
    };
  }

  #admit(connection: Connection, peer: PeerInfo): CloseReason | undefined {
    if (this.#state !== 'started') return 'refused';
    const decision = decideLink(
      this.#options.nodeId,
      peer.nodeId,
      this.#facts(connection, peer),
      this.#existing(peer.nodeId),
      this.#links.size,
      this.#options.clusterSize,
    );
    return decision.action === 'refuse' ? decision.reason : undefined;
  }

  #onEstablished(connection: Connection): void {
    const peer = connection.peer!;
    const peerId = peer.nodeId;
    this.#stats.handshakesCompleted++;
    const dialer = this.#dialerOf.get(connection);
    if (dialer) {
      dialer.peerId = peerId;
      dialer.backoff.reset();
    }
    if (this.#state !== 'started') {
      connection.shutdown();
      return;
    }
    const facts = this.#facts(connection, peer);
    const decision = decideLink(
      this.#options.nodeId,
      peerId,
      facts,
      this.#existing(peerId),
      this.#links.size,
      this.#options.clusterSize,
    );
    const link = this.#links.get(peerId);
    switch (decision.action) {
      case 'add':
        this.#addLink(connection, peer, facts.address);
        return;
      case 'replace':
        this.#hooks.log('node %d restarted (new instance at %s): replacing its link', peerId, facts.address);
        if (link) {
          link.active?.destroy();
          this.#linkDown(link);
        }
        this.#addLink(connection, peer, facts.address);
        return;
      case 'swap':
        if (link) {
          const previous = link.active;
          link.active = connection;
          this.#clearGrace(link);
          previous?.retire(true);
          this.#hooks.log('link to node %d moved to connection %d (%s)', peerId, connection.id, connection.direction);
          for (const payload of link.queue) connection.send(payload);
          link.queue = [];
          link.queuedBytes = 0;
        }
        return;
      case 'refuse':
        if (decision.reason === 'superseded') {
          this.#hooks.log('connection %d to node %d superseded by the existing link', connection.id, peerId);
          connection.retire(true);
        } else {
          connection.closeForCause(
            decision.reason,
            `refused node ${peerId} (${connection.remote}): ${decision.reason}`,
          );
        }
        return;
    }
  }

  #addLink(connection: Connection, peer: PeerInfo, address: string): void {
    const link: Link = {
      peerId: peer.nodeId,
      advertised: peer.advertised,
      address,
      incarnation: peer.incarnation,
      maxFrameBytes: peer.maxFrameBytes,
      active: connection,
      queue: [],
      queuedBytes: 0,
      graceTimer: undefined,
    };
    this.#links.set(peer.nodeId, link);
    this.#connected.add(peer.nodeId);
    this.#hooks.log(
      'link up: node %d (advertised %s) via connection %d (%s, %s)',
      peer.nodeId,
      peer.advertised,
      connection.id,
      connection.direction,
      peer.mode,
    );
    this.emit('peerUp', peer.nodeId, peer.advertised);
  }

  #linkDown(link: Link): void {
    if (this.#links.get(link.peerId) !== link) return;
    this.#clearGrace(link);
    this.#links.delete(link.peerId);
    this.#connected.delete(link.peerId);
    this.#hooks.log('link down: node %d', link.peerId);
    this.emit('peerDown', link.peerId);
    for (const dialer of this.#dialers.values()) {
      if (dialer.peerId === link.peerId) this.#scheduleDial(dialer);
    }
  }

  #clearGrace(link: Link): void {
    if (link.graceTimer) clearTimeout(link.graceTimer);
    link.graceTimer = undefined;
  }

  #onMessage(connection: Connection, payload: Uint8Array): void {
    const peer = connection.peer;
    if (!peer || this.#state !== 'started') return;
    const link = this.#links.get(peer.nodeId);
    // A retired connection's last frames still belong to the link; a replaced incarnation's do not.
    if (link?.incarnation === peer.incarnation) this.emit('message', peer.nodeId, payload);
  }

  /**
   * The peer retired the connection carrying the link: it has (or is finishing) a preferred one. Keep the link
   * up for a grace period so the replacement takes over without a `peerDown`/`peerUp` flap.
   */
  #onRetiredByPeer(connection: Connection): void {
    const link = connection.peer ? this.#links.get(connection.peer.nodeId) : undefined;
    connection.retire(false);
    if (!link || link.active !== connection) return;
    link.active = undefined;
    this.#hooks.log('link to node %d retired by the peer: awaiting its replacement', link.peerId);
    link.graceTimer = setTimeout(() => {
      link.graceTimer = undefined;
      if (!link.active) this.#linkDown(link);
    }, this.#options.handshakeTimeoutMs).unref();
  }

  #onFailed(connection: Connection, failure: ConnectionFailure): void {
    const dialer = this.#dialerOf.get(connection);
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
    const peer = connection.peer;
    if (peer) {
      const link = this.#links.get(peer.nodeId);
      if (link && link.active === connection) {
        link.active = undefined;
        this.#linkDown(link);
      }
    }
    const dialer = this.#dialerOf.get(connection);
    if (dialer && dialer.connection === connection) {
      dialer.connection = undefined;
      this.#scheduleDial(dialer);
    }
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
