/**
 * Typed errors. Every error leader-ip throws or emits is a {@link LeaderIpError} with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages. Messages never contain secrets.
 * @module
 */

/** Base class of every error leader-ip throws or emits. */
export class LeaderIpError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CONFIG`, `ERR_HANDSHAKE`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option passed to a constructor is invalid. `field` names it, e.g. `peers[1]` or `leaseMs`. */
export class ConfigError extends LeaderIpError {
  /** The option at fault, as a path: `leaseMs`, `peers[2]`, `retry.maxAttempts`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super('ERR_CONFIG', `${field}: ${message}`);
    this.field = field;
  }
}

/** Why the transport refused or dropped a connection. */
export type TransportErrorReason =
  | 'bad-frame'
  | 'frame-too-large'
  | 'bad-version'
  | 'wrong-cluster'
  | 'auth-failed'
  | 'replay'
  | 'duplicate-id'
  | 'own-id'
  | 'cluster-full'
  | 'cluster-size-mismatch'
  | 'handshake-timeout'
  | 'too-many-connections'
  | 'insecure-refused'
  | 'listen-failed'
  /** An established link received nothing (not even a keepalive) for `idleTimeoutMs`: the peer is gone or stuck. */
  | 'idle-timeout'
  /**
   * A peer stopped reading and this end's unsent backlog to it passed the transport's bound (1 MiB; an
   * `ElectionNode` does not expose it): the connection is dropped rather than buffering without end.
   */
  | 'write-buffer-full'
  /** The peer refused with a reason code this version does not know. */
  | 'refused';

/** A connection-level problem: emitted as an `'error'` event, never thrown out of the event loop. */
export class TransportError extends LeaderIpError {
  /** Why the connection was refused or dropped (see {@link TransportErrorReason}). */
  readonly reason: TransportErrorReason;
  /** The remote `host:port` of the connection at fault, when known. */
  readonly remote: string | undefined;
  /** The remote node ID, when the handshake got far enough to learn it. */
  readonly peerId: number | undefined;
  constructor(
    reason: TransportErrorReason,
    message: string,
    details: { remote?: string | undefined; peerId?: number | undefined; cause?: unknown } = {},
  ) {
    super('ERR_TRANSPORT', message, { cause: details.cause });
    this.reason = reason;
    this.remote = details.remote;
    this.peerId = details.peerId;
  }
}

/** The node was used in a way its state does not allow (e.g. `start()` twice). */
export class StateError extends LeaderIpError {
  constructor(message: string) {
    super('ERR_STATE', message);
  }
}

/**
 * The election engine failed: its worker thread threw or exited (a bug, or the thread was killed). The node
 * stopped leading at once (`lostLeadership` with reason `'failed'`) and is stopped; create a new one to rejoin.
 */
export class EngineError extends LeaderIpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ENGINE', message, options);
  }
}

/** A floating-IP assignment failed. Provider-specific subclasses add details. */
export class AssignerError extends LeaderIpError {
  /** Whether retrying the same call later may succeed. */
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(code, message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** An operation was cancelled through its `AbortSignal` (e.g. leadership was lost). */
export class AbortError extends LeaderIpError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** Why `node.append()` did not resolve with a committed entry. */
export type AppendErrorReason =
  /** This node is not the leader (or not running): nothing was sent. Append on the leader (`node.leaderId`). */
  | 'notLeader'
  /**
   * Leadership ended before a majority confirmed the entry. It was sent and may or may not have reached a
   * majority: its outcome is unknown, never "committed". The next leader may re-append it.
   */
  | 'leadershipLost'
  /** The caller's `AbortSignal` fired. The entry, if already sent, may still commit (a `commit` event tells). */
  | 'aborted'
  /** The entry is larger than `broadcast.maxEntryBytes`: nothing was sent. */
  | 'tooLarge'
  /**
   * `broadcast.maxInFlightEntries` or `broadcast.maxInFlightBytes` is reached: nothing was sent. Retry once an
   * earlier append settled (the limit frees as entries commit).
   */
  | 'backpressure';

/** `node.append()` failed; `reason` says why, and whether the entry was sent at all. */
export class AppendError extends LeaderIpError {
  /** Why the entry was not committed (see {@link AppendErrorReason}). */
  readonly reason: AppendErrorReason;
  /** The entry's `(term, index)`, when the leader had taken it (`'leadershipLost'`, and `'aborted'` after). */
  readonly entry:
    | {
        /** The leadership term the entry was appended in. */
        term: number;
        /** Its position in that term's log. */
        index: number;
      }
    | undefined;
  constructor(reason: AppendErrorReason, message: string, entry?: { term: number; index: number }) {
    super('ERR_APPEND', message);
    this.reason = reason;
    this.entry = entry;
  }
}
