import type { LeadershipEvents } from '../leadership/leadership-source.ts';

/** Why a node stopped being leader. */
export type LostLeadershipReason =
  /** `stop()` was called: leadership was released at once so a peer can take over without waiting. */
  | 'stopped'
  /** The lease ran out before a majority renewed it (partition, overload, paused process). */
  | 'lease-expired'
  /** A lower-ID node that can gather a majority asked for votes; this node stepped aside (bully rule). */
  | 'preempted'
  /**
   * Worker mode: the application's event loop did not run for `maxStallMs`, so the node stepped down and
   * released its votes (it does not lead while stalled). Delivered when the event loop runs again; `endedMsAgo`
   * says how long before that the leadership ended.
   */
  | 'stalled'
  /**
   * The node's health check failed `fall` times in a row, or `setHealthy(false)` was called: it stepped down at once
   * and released its votes, so the next healthy node took over within a round trip.
   */
  | 'unhealthy'
  /**
   * The election engine failed (its worker thread threw or exited): the node stopped leading at once, and is
   * stopped. An `error` event carries the cause.
   */
  | 'failed'
  /**
   * etcd backend: etcd no longer holds this leadership — its lease or key was revoked or deleted by someone else
   * (an operator, `etcdctl`), or resigning it was forced.
   */
  | 'revoked';

/** Payload of `gainedLeadership`. */
export interface GainedLeadershipInfo {
  /** Fencing token: strictly greater than the term of every earlier leadership. Pass it to external actions. */
  term: number;
  /**
   * Aborts when this leadership ends, just before the matching `lostLeadership` is emitted (its reason is an
   * `AbortError`). Pass it to leader-only work (`fetch`, timers, streams) so that work stops with the leadership.
   * Checking `isLeader` at the moment of acting is exact; the signal may fire later than
   * that, when the process was paused past the end of the leadership.
   */
  signal: AbortSignal;
  /**
   * How long before this event the leadership began, in ms: about 0 normally; more when the event was delivered
   * late because this thread was busy (the election runs on its own worker thread and leads meanwhile). With
   * `lostLeadership`'s `endedMsAgo` it gives the exact interval, for logs and for checking leadership intervals.
   */
  beganMsAgo: number;
}

/** Payload of `lostLeadership`. */
export interface LostLeadershipInfo {
  /** The term of the leadership that ended. */
  term: number;
  /** Why it ended (see {@link LostLeadershipReason}). */
  reason: LostLeadershipReason;
  /**
   * How long before this event the leadership really ended, in ms: about 0 normally; more when the node noticed
   * late because its process was paused or starved past the end of its lease (GC, SIGSTOP, VM migration, an
   * overloaded event loop). Another node may have led during that time, so anything this node did as leader
   * since then must be fenced by the term.
   */
  endedMsAgo: number;
}

/** Payload accompanying `leaderChange`. */
export interface LeaderChangeInfo {
  /** The leader's term as known here (0 when there is no leader and none was ever seen). */
  term: number;
}

/** Payload of `append`: an entry the leader broadcast, delivered to this (non-leader) node. */
export interface AppendEntry {
  /** The leader's term: entries are ordered by `(term, index)`. */
  term: number;
  /** Position in the term, from 1. Within a term, consecutive unless `catchUp`. */
  index: number;
  /** The bytes the leader appended (a copy this listener may keep). */
  data: Uint8Array;
  /**
   * True for a catch-up: this node missed entries (it was down, cut off or slow); this is the latest entry the
   * leader had committed, and the ones it skipped are older. See docs/protocol.md §12.
   */
  catchUp: boolean;
  /** The leader that sent it. */
  leaderId: number;
  /**
   * Confirms the entry once it is stored; the leader counts this node towards the majority only then. Idempotent.
   * A listener may instead return a promise: the entry is confirmed once every returned promise resolved.
   */
  confirm: () => void;
}

/** Payload of `commit`: the entry `(term, index)` was confirmed by a majority (the leader included). */
export interface CommitInfo {
  /** The leadership term of the committed entry. */
  term: number;
  /** Its position in that term's log. */
  index: number;
}

/**
 * Events of {@link ElectionNode}: the {@link LeadershipEvents} of every backend, plus the broadcast's. `warning`
 * carries connection-level problems (refused handshakes, bad frames): informational, the node keeps running;
 * `error` only what needs the user's action.
 */
export interface ElectionNodeEvents extends LeadershipEvents {
  /**
   * A non-leader node received a broadcast entry: store it, then call `confirm()` (or return a promise that
   * resolves once stored). With no listener, entries are confirmed on receipt.
   */
  append: (entry: AppendEntry) => void | Promise<void>;
  /** An entry is committed (a majority confirmed it): on the leader, and on followers that delivered it. */
  commit: (info: CommitInfo) => void;
}
