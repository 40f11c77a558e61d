/**
 * The connection handshake as a pure state machine (no sockets, no timers), so it can be driven in memory.
 *
 * ```
 * initiator (dialer)                                   responder (acceptor)
 *   HELLO_I  ─────────────────────────────────────────▶  check version, role, auth flag
 *            ◀─────────────────────────────────────────  HELLO_R
 *   AUTH_I = HMAC(secret, "proof initiator" || T) ────▶  verify proof; check cluster, size, IDs; admit
 *            ◀─────────────────────────────────────────  AUTH_R = HMAC(secret, "proof responder" || T)
 *   verify; check; admit; READY (sealed, seq 0) ──────▶  open READY: established
 *   established
 * ```
 * `T` is the SHA-256 transcript of both HELLO bodies. Without a secret the AUTH bodies are empty and frames are
 * not sealed. The initiator proves first, so a responder never hands its proof to a peer that has not proven the
 * secret. Configuration checks run only after the peer authenticated: a peer without the secret learns nothing
 * but `auth-failed` (or a fault of its own: bad frame, bad version, timeout, too many connections).
 * Any refusal is answered with a REJECT {reason code} before the caller closes the connection.
 * @module
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { AeadChannel, type Channel, MacChannel, PlainChannel } from './channel.ts';
import { encodeFrame, type Frame, FrameKind, MIN_MAX_FRAME_BYTES, PROTOCOL_VERSION } from './frame.ts';
import { computeProof, deriveSessionKeys, type SessionKeys, transcriptHash, verifyProof } from './keys.ts';
import {
  type CloseReason,
  decodeHello,
  decodeReason,
  encodeHello,
  encodeReason,
  FLAG_AUTH,
  FLAG_ENCRYPT,
  type HandshakeRole,
  type Hello,
  NONCE_BYTES,
} from './messages.ts';

/** Configuration of one handshake (one side of one connection). */
export interface HandshakeConfig {
  role: HandshakeRole;
  nodeId: number;
  cluster: string;
  clusterSize: number;
  /** This node's listen address as reported to peers. */
  advertised: string;
  /** The largest frame this node accepts. */
  maxFrameBytes: number;
  /** Random ID of this transport instance (16 bytes). */
  incarnation: Uint8Array;
  /** Initiator only: this instance's running count of dialed connections (see {@link Hello.dialSeq}). */
  dialSeq?: number | undefined;
  /** Shared secret; when absent the handshake is unauthenticated and frames are not sealed. */
  secret?: Uint8Array | undefined;
  /** Ask for AES-256-GCM on every post-handshake frame (used when either side asks and both have the secret). */
  encrypt?: boolean | undefined;
  /**
   * Transport-level admission, asked once the peer proved the secret and passed the configuration checks:
   * return a reason to refuse (sent to the peer in the REJECT), or undefined to accept.
   */
  admit?: ((peer: PeerInfo) => CloseReason | undefined) | undefined;
  /** Source of nonces; tests may inject a deterministic one. */
  randomBytes?: ((size: number) => Uint8Array) | undefined;
}

/** What a completed handshake learned about the peer. Nothing here is secret. */
export interface PeerInfo {
  nodeId: number;
  cluster: string;
  clusterSize: number;
  advertised: string;
  maxFrameBytes: number;
  /** Hex of the peer transport's random instance ID. */
  incarnation: string;
  /** The initiator's dial count for this connection: orders connections dialed by the same process. */
  dialSeq: number;
  /** Whether the peer proved the shared secret. */
  authenticated: boolean;
  /** How post-handshake frames are protected. */
  mode: Channel['mode'];
}

/** Where the handshake stands after a step. */
export type HandshakeOutcome =
  | { status: 'pending' }
  | { status: 'established'; peer: PeerInfo; channel: Channel }
  | {
      status: 'failed';
      reason: CloseReason;
      /** True when the peer sent the REJECT; false when this side refused. */
      byPeer: boolean;
      message: string;
      /** The peer's HELLO if one was received (unauthenticated unless the failure came after AUTH). */
      peerHello: Hello | undefined;
    };

/** Frames to write (in order) and the outcome after one input. */
export interface HandshakeStep {
  send: Buffer[];
  outcome: HandshakeOutcome;
}

const ADMISSION_MESSAGES: Partial<Record<CloseReason, string>> = {
  'duplicate-id': 'another live node with this ID is already linked',
  'cluster-full': 'links to clusterSize - 1 other nodes are already up',
  superseded: 'an existing link to this node is preferred',
  refused: 'this node is shutting down',
};

type State = 'idle' | 'await-hello' | 'await-auth' | 'await-ready' | 'done';

/** One side of the handshake. Feed it every frame received until the outcome is no longer `pending`. */
export class Handshake {
  /** The configuration minus the secret, which lives only in `#secret`. */
  readonly #config: Omit<HandshakeConfig, 'secret'>;
  /** Private copy: a caller mutating its buffer later must not change what this side proves. */
  readonly #secret: Buffer | undefined;
  readonly #nonce: Buffer;
  #state: State = 'idle';
  #outcome: HandshakeOutcome = { status: 'pending' };
  #ownHello: Buffer | undefined;
  #peerHello: Hello | undefined;
  #transcript: Buffer | undefined;
  #channel: Channel | undefined;

  constructor(config: HandshakeConfig) {
    const { secret, ...rest } = config;
    this.#config = rest;
    this.#secret = secret ? Buffer.from(secret) : undefined;
    this.#nonce = Buffer.from((config.randomBytes ?? cryptoRandomBytes)(NONCE_BYTES));
  }

  get role(): HandshakeRole {
    return this.#config.role;
  }

  /** Hex of this side's nonce (lets a transport recognise its own HELLO arriving back: a self-connection). */
  get nonce(): string {
    return this.#nonce.toString('hex');
  }

  get outcome(): HandshakeOutcome {
    return this.#outcome;
  }

  /** Begins: the initiator sends its HELLO, the responder waits for the initiator's. */
  start(): HandshakeStep {
    if (this.#state !== 'idle') return this.#step([]);
    this.#state = 'await-hello';
    if (this.#config.role === 'responder') return this.#step([]);
    this.#ownHello = this.#makeHello();
    return this.#step([encodeFrame(FrameKind.Hello, this.#ownHello)]);
  }

  /** Refuses locally (timeout, undecodable stream…): a REJECT to send, and the failed outcome. */
  fail(reason: CloseReason, message: string): HandshakeStep {
    if (this.#state === 'done') return this.#step([]);
    this.#state = 'done';
    this.#outcome = { status: 'failed', reason, byPeer: false, message, peerHello: this.#peerHello };
    return this.#step([encodeFrame(FrameKind.Reject, encodeReason(reason))]);
  }

  /** Processes one received frame. Never throws on any input. */
  receive(frame: Frame): HandshakeStep {
    if (this.#state === 'done') return this.#step([]);
    if (this.#state === 'idle') {
      const started = this.start().send;
      const step = this.receive(frame);
      return { send: [...started, ...step.send], outcome: step.outcome };
    }
    if (frame.kind === FrameKind.Reject) {
      const reason = decodeReason(frame.body) ?? 'bad-frame';
      this.#state = 'done';
      this.#outcome = {
        status: 'failed',
        reason,
        byPeer: true,
        message: `refused the connection: ${reason}`,
        peerHello: this.#peerHello,
      };
      return this.#step([]);
    }
    switch (this.#state) {
      case 'await-hello':
        return frame.kind === FrameKind.Hello ? this.#onHello(frame.body) : this.#unexpected(frame);
      case 'await-auth':
        return frame.kind === FrameKind.Auth ? this.#onAuth(frame.body) : this.#unexpected(frame);
      case 'await-ready':
        return frame.kind === FrameKind.Ready ? this.#onReady(frame) : this.#unexpected(frame);
      default:
        return this.#unexpected(frame);
    }
  }

  #onHello(body: Uint8Array): HandshakeStep {
    const hello = decodeHello(body);
    if (!hello) return this.fail('bad-frame', 'malformed HELLO');
    this.#peerHello = hello;
    if (hello.version !== PROTOCOL_VERSION) {
      return this.fail('bad-version', `peer speaks protocol version ${hello.version}, expected ${PROTOCOL_VERSION}`);
    }
    const expectedRole: HandshakeRole = this.#config.role === 'initiator' ? 'responder' : 'initiator';
    if (hello.role !== expectedRole)
      return this.fail('bad-frame', `HELLO from a ${hello.role}, expected ${expectedRole}`);
    if (hello.maxFrameBytes < MIN_MAX_FRAME_BYTES)
      return this.fail('bad-frame', 'HELLO declares a too small frame limit');
    const peerHasSecret = (hello.flags & FLAG_AUTH) !== 0;
    if (this.#secret && !peerHasSecret) return this.fail('auth-failed', 'peer has no secret; this node requires one');
    if (!this.#secret && peerHasSecret) return this.fail('auth-failed', 'peer requires a secret this node lacks');

    const send: Buffer[] = [];
    let helloInitiator: Uint8Array;
    let helloResponder: Uint8Array;
    if (this.#config.role === 'responder') {
      this.#ownHello = this.#makeHello();
      send.push(encodeFrame(FrameKind.Hello, this.#ownHello));
      helloInitiator = body;
      helloResponder = this.#ownHello;
    } else {
      helloInitiator = this.#ownHello!;
      helloResponder = body;
    }
    this.#transcript = transcriptHash(helloInitiator, helloResponder);
    this.#state = 'await-auth';
    if (this.#config.role === 'initiator') send.push(encodeFrame(FrameKind.Auth, this.#proof('initiator')));
    return this.#step(send);
  }

  #onAuth(body: Uint8Array): HandshakeStep {
    const peerRole: HandshakeRole = this.#config.role === 'initiator' ? 'responder' : 'initiator';
    const authentic = this.#secret ? verifyProof(this.#secret, peerRole, this.#transcript!, body) : body.length === 0;
    if (!authentic) return this.fail('auth-failed', 'peer failed to prove the shared secret');
    const hello = this.#peerHello!;
    const refusal = this.#checkPeer(hello);
    if (refusal) return this.fail(refusal.reason, refusal.message);
    const peer = this.#peerInfo(hello);
    const admission = this.#config.admit?.(peer);
    if (admission) return this.fail(admission, ADMISSION_MESSAGES[admission] ?? admission);
    this.#channel = this.#makeChannel(hello);
    if (this.#config.role === 'responder') {
      this.#state = 'await-ready';
      return this.#step([encodeFrame(FrameKind.Auth, this.#proof('responder'))]);
    }
    const ready = this.#channel.seal(FrameKind.Ready, new Uint8Array(0));
    this.#state = 'done';
    this.#outcome = { status: 'established', peer, channel: this.#channel };
    return this.#step([ready]);
  }

  #onReady(frame: Frame): HandshakeStep {
    const opened = this.#channel!.open(frame);
    if (!opened.ok) return this.fail(opened.reason, `READY ${opened.message}`);
    if (opened.body.length !== 0) return this.fail('bad-frame', 'READY with a body');
    this.#state = 'done';
    this.#outcome = { status: 'established', peer: this.#peerInfo(this.#peerHello!), channel: this.#channel! };
    return this.#step([]);
  }

  #unexpected(frame: Frame): HandshakeStep {
    return this.fail('bad-frame', `unexpected frame kind ${frame.kind} during the handshake (${this.#state})`);
  }

  /** Configuration checks, symmetric on both sides so both refuse for the same reason. */
  #checkPeer(hello: Hello): { reason: CloseReason; message: string } | undefined {
    const config = this.#config;
    if (hello.cluster !== config.cluster)
      return { reason: 'wrong-cluster', message: 'peer belongs to another cluster' };
    if (hello.clusterSize !== config.clusterSize) {
      return {
        reason: 'cluster-size-mismatch',
        message: `peer declares clusterSize ${hello.clusterSize}, this node ${config.clusterSize}`,
      };
    }
    if (Buffer.from(hello.incarnation).equals(Buffer.from(config.incarnation))) {
      return { reason: 'own-id', message: 'this node connected to itself' };
    }
    if (hello.nodeId === config.nodeId) {
      return { reason: 'own-id', message: `another node is configured with this node's ID ${config.nodeId}` };
    }
    return undefined;
  }

  #makeHello(): Buffer {
    const config = this.#config;
    const flags = (this.#secret ? FLAG_AUTH : 0) | (this.#secret && config.encrypt ? FLAG_ENCRYPT : 0);
    return encodeHello({
      version: PROTOCOL_VERSION,
      role: config.role,
      flags,
      nodeId: config.nodeId,
      clusterSize: config.clusterSize,
      maxFrameBytes: config.maxFrameBytes,
      dialSeq: config.role === 'initiator' ? (config.dialSeq ?? 0) : 0,
      incarnation: config.incarnation,
      nonce: this.#nonce,
      cluster: config.cluster,
      advertised: config.advertised,
    });
  }

  #proof(role: HandshakeRole): Uint8Array {
    return this.#secret ? computeProof(this.#secret, role, this.#transcript!) : new Uint8Array(0);
  }

  #makeChannel(peer: Hello): Channel {
    if (!this.#secret) return new PlainChannel();
    const initiator = this.#config.role === 'initiator';
    const keys: SessionKeys = deriveSessionKeys(
      this.#secret,
      initiator ? this.#nonce : peer.nonce,
      initiator ? peer.nonce : this.#nonce,
      this.#transcript!,
    );
    const send = initiator ? keys.initiatorToResponder : keys.responderToInitiator;
    const receive = initiator ? keys.responderToInitiator : keys.initiatorToResponder;
    return this.#channelMode(peer) === 'aead' ? new AeadChannel(send, receive) : new MacChannel(send, receive);
  }

  #channelMode(peer: Hello): Channel['mode'] {
    if (!this.#secret) return 'plain';
    return this.#config.encrypt || (peer.flags & FLAG_ENCRYPT) !== 0 ? 'aead' : 'mac';
  }

  #peerInfo(hello: Hello): PeerInfo {
    return {
      nodeId: hello.nodeId,
      cluster: hello.cluster,
      clusterSize: hello.clusterSize,
      advertised: hello.advertised,
      maxFrameBytes: hello.maxFrameBytes,
      incarnation: Buffer.from(hello.incarnation).toString('hex'),
      dialSeq: this.#config.role === 'initiator' ? (this.#config.dialSeq ?? 0) : hello.dialSeq,
      authenticated: this.#secret !== undefined,
      mode: this.#channelMode(hello),
    };
  }

  #step(send: Buffer[]): HandshakeStep {
    return { send, outcome: this.#outcome };
  }
}
