import type { LeaderIpError } from '../errors.ts';
import type { HealthChange } from '../health/health-monitor.ts';

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
  | 'failed';

/** Payload of `gainedLeadership`. */
export interface GainedLeadershipInfo {
  /** Fencing token: strictly greater than the term of every earlier leadership. Pass it to external actions. */
  term: number;
  /**
   * Aborts the moment this leadership ends, whatever the reason (lost, stepped down, stopped, the engine failed),
   * just before `lostLeadership` is emitted. Pass it to the work you do as leader (`fetch`, assigner calls,
   * timers) so it stops by itself.
   */
  signal: AbortSignal;
}

/** Payload of `lostLeadership`. */
export interface LostLeadershipInfo {
  /** The term of the leadership that ended. */
  term: number;
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

/**
 * Events of {@link ElectionNode}. `error` carries connection-level problems (refused handshakes, bad frames):
 * informational, the node keeps running. eventemitter3 does not throw when nobody listens to `error`.
 */
export interface ElectionNodeEvents {
  gainedLeadership: (info: GainedLeadershipInfo) => void;
  lostLeadership: (info: LostLeadershipInfo) => void;
  /** The leader as this node sees it changed: a node ID, or `null` while there is none. */
  leaderChange: (leaderId: number | null, info: LeaderChangeInfo) => void;
  /**
   * This node's health verdict flipped: its health check crossed `fall`/`rise`, or `setHealthy()` changed it (both
   * must say healthy). An unhealthy node does not lead; a leader steps down with reason `'unhealthy'`.
   */
  healthChange: (change: HealthChange) => void;
  error: (error: LeaderIpError) => void;
}
