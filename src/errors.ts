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
