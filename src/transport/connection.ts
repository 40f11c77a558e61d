/**
 * One TCP connection: frame decoding, the handshake, then sealed traffic with keepalives. It decides nothing
 * about links: it reports to its owner through {@link ConnectionHooks}, and never throws out of socket callbacks.
 * @module
 */
import type { Socket } from 'node:net';
import type { Channel } from './channel.ts';
import { type Frame, FrameDecoder, type FrameError, FrameKind } from './frame.ts';
import { Handshake, type HandshakeConfig, type HandshakeStep, type PeerInfo } from './handshake.ts';
import type { Direction } from './link-policy.ts';
import { type CloseReason, decodeReason, encodeReason, type Hello } from './messages.ts';
import { WriteBatch } from './write-batch.ts';

/** Timing and size bounds of a connection (resolved transport options). */
export interface ConnectionLimits {
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  keepaliveMs: number;
  idleTimeoutMs: number;
  maxWriteBufferBytes: number;
  /** How long a closing connection may take to flush and close before it is destroyed. */
  lingerMs: number;
}

/** Traffic counters a connection increments (a subset of the transport's stats). */
export interface TrafficCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

/** Why a connection ended badly. */
export interface ConnectionFailure {
  reason: CloseReason;
  /** True when the peer reported the reason (REJECT or RETIRE); false when this side detected it. */
  byPeer: boolean;
  message: string;
  /** `handshake`: before the link was up; `link`: after. */
  phase: 'handshake' | 'link';
  /** Whether this side received a malformed, truncated, oversized or unauthenticated frame. */
  badFrame: boolean;
  /** The peer's HELLO, if one arrived (unauthenticated unless the failure came after AUTH). */
  peerHello: Hello | undefined;
}

/** What a connection reports to its owner. */
export interface ConnectionHooks {
  /** The peer authenticated and passed the configuration checks: return a reason to refuse it. */
  admit(connection: Connection, peer: PeerInfo): CloseReason | undefined;
  established(connection: Connection): void;
  message(connection: Connection, payload: Uint8Array): void;
  /** The peer retired this connection in favour of another one to the same process. */
  retiredByPeer(connection: Connection): void;
  failed(connection: Connection, failure: ConnectionFailure): void;
  /** The socket closed; called exactly once, last. */
  closed(connection: Connection): void;
  /** Debug logging (never receives secrets). */
  log(format: string, ...args: unknown[]): void;
}

type State = 'connecting' | 'handshaking' | 'established' | 'retiring' | 'closing' | 'closed';

const BAD_FRAME_REASONS: ReadonlySet<CloseReason> = new Set(['bad-frame', 'frame-too-large', 'bad-version']);
const EMPTY = new Uint8Array(0);

let nextConnectionId = 1;

/** A TCP connection through the handshake and, if it succeeds, as one carrier of a peer link. */
export class Connection {
  /** Process-unique number, for logs. */
  readonly id = nextConnectionId++;
  readonly direction: Direction;
  /** `host:port` of the other end (the dialed endpoint for an outbound connection). */
  readonly remote: string;
  /** The other end's IP (IPv4-mapped IPv6 unwrapped); empty until an outbound connection connects. */
  remoteIp: string;
  readonly #socket: Socket;
  readonly #limits: ConnectionLimits;
  readonly #counters: TrafficCounters;
  readonly #hooks: ConnectionHooks;
  readonly #handshake: Handshake;
  readonly #decoder: FrameDecoder;
  readonly #batch: WriteBatch;
  #state: State;
  #channel: Channel | undefined;
  #peer: PeerInfo | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #lastReceived = 0;
  #lastSent = 0;
  readonly #closed: Promise<void>;

  constructor(
    socket: Socket,
    direction: Direction,
    remote: string,
    handshake: Omit<HandshakeConfig, 'role' | 'admit'>,
    limits: ConnectionLimits,
    counters: TrafficCounters,
    hooks: ConnectionHooks,
    batch: WriteBatch = new WriteBatch(),
  ) {
    this.#socket = socket;
    this.#batch = batch;
    this.direction = direction;
    this.remote = remote;
    this.remoteIp = normalizeIp(socket.remoteAddress);
    this.#limits = limits;
    this.#counters = counters;
    this.#hooks = hooks;
    this.#decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    this.#handshake = new Handshake({
      ...handshake,
      role: direction === 'outbound' ? 'initiator' : 'responder',
      admit: (peer) => hooks.admit(this, peer),
    });
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    // Replies to every frame of a chunk (a leader's heartbeat and renewal) leave together.
    socket.on('data', (chunk: Buffer) => batch.run(() => this.#onData(chunk)));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      hooks.log('connection %d (%s) socket error: %s', this.id, this.remote, error.code ?? error.message);
    });
    socket.on('close', () => this.#onClose());
    this.#handshakeTimer = setTimeout(() => this.#onHandshakeTimeout(), limits.handshakeTimeoutMs).unref();
    if (direction === 'outbound' && socket.connecting) {
      this.#state = 'connecting';
      socket.once('connect', () => {
        this.remoteIp = normalizeIp(socket.remoteAddress);
        this.#state = 'handshaking';
        this.#apply(this.#handshake.start());
      });
    } else {
      this.#state = 'handshaking';
      this.#apply(this.#handshake.start());
    }
  }

  /** The authenticated peer, once the handshake succeeded. */
  get peer(): PeerInfo | undefined {
    return this.#peer;
  }

  /** Whether the connection is established and not retired: it can carry the link's messages. */
  get usable(): boolean {
    return this.#state === 'established';
  }

  get connected(): boolean {
    return this.#state !== 'connecting' && this.#state !== 'closed';
  }

  /** Hex of this side's handshake nonce. */
  get handshakeNonce(): string {
    return this.#handshake.nonce;
  }

  /** Resolves once the socket closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Bytes a message frame adds to its payload. */
  get overheadBytes(): number {
    return this.#channel?.overheadBytes ?? 0;
  }

  /** `host:port` of this end. */
  get local(): string {
    return `${normalizeIp(this.#socket.localAddress)}:${this.#socket.localPort ?? 0}`;
  }

  /** Sends one message frame. False when the connection cannot carry it (not established, or it just failed). */
  send(payload: Uint8Array): boolean {
    if (this.#state !== 'established' || !this.#channel) return false;
    if (!this.#write(this.#channel.seal(FrameKind.Data, payload))) return false;
    this.#counters.messagesOut++;
    return true;
  }

  /**
   * Stops using this connection for the link: tells the peer (RETIRE superseded) unless it asked first, then
   * half-closes. Frames already in flight from the peer are still read and delivered until it closes its side.
   */
  retire(notifyPeer: boolean): void {
    if (this.#state !== 'established') return;
    if (notifyPeer) this.#write(this.#channel!.seal(FrameKind.Retire, encodeReason('superseded')));
    this.#state = 'retiring';
    this.#endSoon();
  }

  /**
   * Closes for cause. Established: the peer is told the reason in a sealed RETIRE (it authenticated, so it may
   * know). Handshaking: a REJECT is sent. Reports the failure through `failed` either way.
   */
  closeForCause(reason: CloseReason, message: string, badFrame = false): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (this.#state === 'connecting' || this.#state === 'handshaking') {
      this.#apply(this.#handshake.fail(reason, message), badFrame);
      return;
    }
    const established = this.#state === 'established' || this.#state === 'retiring';
    this.#state = 'closing';
    if (established && reason !== 'write-buffer-full') {
      this.#writeUnchecked(this.#channel!.seal(FrameKind.Retire, encodeReason(reason)));
    }
    this.#hooks.failed(this, { reason, byPeer: false, message, phase: 'link', badFrame, peerHello: undefined });
    this.#endSoon();
  }

  /** Closes without cause (shutdown): flushes, half-closes, destroys after the linger bound. */
  shutdown(): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closing';
      this.#endSoon();
    }
    return this.#closed;
  }

  /** Closes at once, dropping unsent data. */
  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#finished()) return;
    this.#counters.bytesIn += chunk.length;
    const { frames, error } = this.#decoder.push(chunk);
    for (const frame of frames) {
      // A frame can end the connection (refusal, bad MAC): the rest of the chunk is then ignored.
      if (this.#finished()) return;
      this.#counters.framesIn++;
      this.#onFrame(frame);
    }
    if (error && !this.#finished()) this.#onDecodeError(error);
  }

  #finished(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  #onFrame(frame: Frame): void {
    if (this.#state === 'handshaking') {
      this.#apply(this.#handshake.receive(frame));
      return;
    }
    const opened = this.#channel!.open(frame);
    if (!opened.ok) {
      this.closeForCause(opened.reason, `${opened.message} from ${this.#describePeer()}`, true);
      return;
    }
    this.#lastReceived = performance.now();
    switch (frame.kind) {
      case FrameKind.Data:
        this.#counters.messagesIn++;
        this.#hooks.message(this, opened.body);
        return;
      case FrameKind.Ping:
        return;
      case FrameKind.Retire:
        this.#onRetire(opened.body);
        return;
      default:
        this.closeForCause('bad-frame', `unexpected frame kind ${frame.kind} on an established link`, true);
    }
  }

  #onRetire(body: Uint8Array): void {
    const reason = decodeReason(body);
    if (reason === undefined) {
      this.closeForCause('bad-frame', 'malformed RETIRE', true);
      return;
    }
    if (reason === 'superseded') {
      if (this.#state === 'established') this.#hooks.retiredByPeer(this);
      return;
    }
    this.#state = 'closing';
    this.#hooks.failed(this, {
      reason,
      byPeer: true,
      message: `${this.#describePeer()} closed the link: ${reason}`,
      phase: 'link',
      badFrame: false,
      peerHello: undefined,
    });
    this.#endSoon();
  }

  #onDecodeError(error: FrameError): void {
    const reason: CloseReason =
      error.code === 'too-large' ? 'frame-too-large' : error.code === 'bad-version' ? 'bad-version' : 'bad-frame';
    const from = this.#state === 'handshaking' ? '' : ` from ${this.#describePeer()}`;
    this.closeForCause(reason, `${error.message}${from}`, true);
  }

  #onEnd(): void {
    const error = this.#decoder.end();
    if (error && (this.#state === 'handshaking' || this.#state === 'established' || this.#state === 'retiring')) {
      this.#onDecodeError(error);
    }
  }

  #onHandshakeTimeout(): void {
    this.#handshakeTimer = undefined;
    if (this.#state === 'connecting') {
      this.#hooks.log('connection %d: dial to %s timed out', this.id, this.remote);
      this.#state = 'closing';
      this.#socket.destroy();
      return;
    }
    if (this.#state !== 'handshaking') return;
    this.#apply(
      this.#handshake.fail(
        'handshake-timeout',
        `handshake with ${this.remote} not completed within ${this.#limits.handshakeTimeoutMs} ms`,
      ),
    );
  }

  /** Writes a handshake step's frames and acts on its outcome. */
  #apply(step: HandshakeStep, badFrame = false): void {
    for (const frame of step.send) this.#write(frame);
    const outcome = step.outcome;
    if (outcome.status === 'pending' || this.#state === 'closing' || this.#state === 'closed') return;
    this.#clearHandshakeTimer();
    if (outcome.status === 'failed') {
      this.#state = 'closing';
      this.#hooks.failed(this, {
        reason: outcome.reason,
        byPeer: outcome.byPeer,
        message: outcome.byPeer
          ? `${this.#describePeer(outcome.peerHello)} ${outcome.message}`
          : `refused ${this.#describePeer(outcome.peerHello)}: ${outcome.message}`,
        phase: 'handshake',
        badFrame: badFrame || (!outcome.byPeer && BAD_FRAME_REASONS.has(outcome.reason)),
        peerHello: outcome.peerHello,
      });
      this.#endSoon();
      return;
    }
    this.#state = 'established';
    this.#channel = outcome.channel;
    this.#peer = outcome.peer;
    this.#lastReceived = this.#lastSent = performance.now();
    this.#hooks.established(this);
  }

  /**
   * Keepalive and idle check, at `now` (`performance.now()`); the owner calls it for all its connections from
   * one timer every `keepaliveMs / 2`, rather than each connection waking its thread on its own.
   */
  tick(now: number): void {
    if (this.#state !== 'established') return;
    if (now - this.#lastReceived >= this.#limits.idleTimeoutMs) {
      this.closeForCause(
        'idle-timeout',
        `nothing received from ${this.#describePeer()} for ${this.#limits.idleTimeoutMs} ms`,
      );
      return;
    }
    if (now - this.#lastSent >= this.#limits.keepaliveMs) this.#write(this.#channel!.seal(FrameKind.Ping, EMPTY));
  }

  /** Bounded write: a peer that does not read gets its connection dropped instead of an ever-growing buffer. */
  #write(frame: Buffer): boolean {
    if (this.#socket.destroyed || !this.#socket.writable) return false;
    if (this.#socket.writableLength + frame.length > this.#limits.maxWriteBufferBytes) {
      this.closeForCause(
        'write-buffer-full',
        `${this.#describePeer()} is not reading: write backlog over ${this.#limits.maxWriteBufferBytes} bytes`,
      );
      return false;
    }
    this.#writeUnchecked(frame);
    return true;
  }

  #writeUnchecked(frame: Buffer): void {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    if (this.#socket.writableLength + frame.length > this.#limits.maxWriteBufferBytes) return;
    this.#batch.willWrite(this.#socket);
    this.#socket.write(frame);
    this.#counters.framesOut++;
    this.#counters.bytesOut += frame.length;
    this.#lastSent = performance.now();
  }

  /** Half-closes after pending writes, and bounds how long the peer may take to close its side. */
  #endSoon(): void {
    this.#clearHandshakeTimer();
    if (this.#socket.destroyed) return;
    if (this.#socket.connecting) {
      this.#socket.destroy();
      return;
    }
    this.#socket.end();
    if (!this.#lingerTimer) {
      this.#lingerTimer = setTimeout(() => this.#socket.destroy(), this.#limits.lingerMs).unref();
    }
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  #onClose(): void {
    this.#clearHandshakeTimer();
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#state = 'closed';
    this.#hooks.closed(this);
  }

  #describePeer(hello: Hello | undefined = undefined): string {
    const nodeId = this.#peer?.nodeId ?? hello?.nodeId;
    return nodeId === undefined ? this.remote : `node ${nodeId} (${this.remote})`;
  }
}

/** Unwraps IPv4-mapped IPv6 (`::ffff:1.2.3.4`) so per-address limits count one host once. */
export function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
