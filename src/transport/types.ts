import type { TransportError, TransportErrorReason } from '../errors.ts';
import type { Endpoint } from '../util/address.ts';

/** Options of {@link Transport}; validated by the caller (ElectionNode) before construction. */
export interface TransportOptions {
  /** This node's ID (positive safe integer). */
  nodeId: number;
  /** Where to listen; port 0 picks a free port. */
  listen: Endpoint;
  /** Cluster name: both ends must agree, so two clusters on one network cannot mix. */
  cluster: string;
  /**
   * Declared cluster size: both ends must agree. A new peer ID is refused (`cluster-full`) while links to
   * `clusterSize - 1` distinct peers are up (counted over current links: a replaced node can join once its
   * predecessor's link is gone).
   */
  clusterSize: number;
  /** Shared secret (>= 32 bytes). When set, both ends authenticate and every frame carries a MAC. */
  secret?: Uint8Array | undefined;
  /** Allow an unauthenticated cluster on a non-loopback address. */
  insecure?: boolean | undefined;
  /** Handshake must complete within this many ms (slow-loris bound). Default 2000. */
  handshakeTimeoutMs?: number | undefined;
  /**
   * Largest frame accepted, in bytes, header and MAC tag included (1024 .. 16 MiB). Each side also keeps its
   * frames within the limit the peer declared. Default 64 KiB.
   */
  maxFrameBytes?: number | undefined;
  /** Most simultaneous inbound connections from one remote IP. Default 8. */
  maxConnectionsPerAddress?: number | undefined;
  /** Reconnect backoff: first delay and cap, in ms; each delay is jittered. Defaults 50 and 2000. */
  reconnectMinMs?: number | undefined;
  reconnectMaxMs?: number | undefined;
  /** With a secret: also encrypt every post-handshake frame (AES-256-GCM). Used when either side asks. Default false. */
  encrypt?: boolean | undefined;
  /** Address reported to peers in the HELLO (informational; peers never dial it). Default: the bound listen address. */
  advertise?: Endpoint | undefined;
  /** Send a keepalive when nothing else was sent for this many ms. Default 1000. */
  keepaliveMs?: number | undefined;
  /** Close a link that received nothing (keepalives included) for this many ms; >= 2 x keepaliveMs. Default 5000. */
  idleTimeoutMs?: number | undefined;
  /** Drop a connection whose unsent backlog would exceed this many bytes (a peer not reading). Default 1 MiB. */
  maxWriteBufferBytes?: number | undefined;
}

/** Counters exposed through `ElectionNode.status().transport`. All monotonically increasing. */
export interface TransportStats {
  /** Frames received, every kind (handshake, keepalive, control, messages). */
  framesIn: number;
  /** Frames sent, every kind. */
  framesOut: number;
  /** Bytes received, frame headers and MAC tags included. */
  bytesIn: number;
  /** Bytes sent, frame headers and MAC tags included. */
  bytesOut: number;
  /** Inbound TCP connections accepted (before any handshake). */
  connectionsAccepted: number;
  /** Outbound TCP connections opened to peers. */
  connectionsDialed: number;
  /** Connections closed because of a malformed, truncated, oversized or unauthenticated frame. */
  badFrames: number;
  /**
   * Connections refused at the handshake, by reason. Counted on both ends: by the side that refused and by the
   * side that was told so in a REJECT.
   */
  rejected: Partial<Record<TransportErrorReason, number>>;
}

/** {@link TransportStats} plus the counters specific to `TcpTransport`. All monotonically increasing. */
export interface TcpTransportStats extends TransportStats {
  /** Protocol messages (`send` / `message`), as opposed to all frames (handshake, keepalive, control). */
  messagesIn: number;
  /** Protocol messages sent. */
  messagesOut: number;
  /** Handshakes that succeeded (a link established, or a duplicate connection later retired). */
  handshakesCompleted: number;
  /** Established links closed for cause after the handshake (bad or unauthenticated frame, idle, backlog), by reason. */
  closed: Partial<Record<TransportErrorReason, number>>;
}

/** Events of {@link Transport}. `payload` is one opaque protocol message (see `src/core/codec.ts`). */
export interface TransportEvents {
  /** A handshaken (and, with a secret, authenticated) link to `peerId` is up. One logical link per peer. */
  peerUp: (peerId: number, advertised: string) => void;
  /** The link to `peerId` went down (it may come back: dialing continues with backoff). */
  peerDown: (peerId: number) => void;
  message: (peerId: number, payload: Uint8Array) => void;
  /** A connection was refused or closed for cause. Informational: the transport keeps running. */
  error: (error: TransportError) => void;
}

/** The surface ElectionNode uses; the TCP implementation is `TcpTransport`. */
export interface Transport {
  start(): Promise<Endpoint>;
  /** Dial `endpoint` and keep a link to it, redialing with capped, jittered backoff. */
  addPeer(endpoint: Endpoint): void;
  /** Send one message to a connected peer; returns false (and drops it) when there is no link. */
  send(peerId: number, payload: Uint8Array): boolean;
  /** Close the listener and every link; pending writes are flushed first (bounded). */
  stop(): Promise<void>;
  stats(): TransportStats;
  readonly connectedPeers: ReadonlySet<number>;
}
