/**
 * Configuration of the protocol core and the timing rules derived from it. All durations are in
 * milliseconds of the node's own monotonic clock.
 * @module
 */
import type { BroadcastLimits } from './broadcast.ts';

/** What the core needs to know; the adapter validates user options before building this. */
export interface CoreConfig {
  /** This node's ID: a positive safe integer. Lower IDs win elections. */
  readonly id: number;
  /** Number of voting members, this node included. A majority is `floor(clusterSize / 2) + 1`. */
  readonly clusterSize: number;
  /** How often heartbeats and lease renewals are sent. */
  readonly heartbeatIntervalMs: number;
  /** How long a vote-lease lasts on the voter's clock; also the restart wait. */
  readonly leaseMs: number;
  /** Silence after which a peer is considered down (affects who campaigns, never safety). */
  readonly peerTimeoutMs: number;
  /** Bound on the rate at which any two clocks may drift apart from real time (0.01 = 1 %). */
  readonly maxDriftRate: number;
  /** Random per process start: lets peers tell a restart from a reconnect. */
  readonly incarnation: number;
  /** Votes and counts toward the majority, never campaigns, never leads (a witness). Default false. */
  readonly voterOnly?: boolean | undefined;
  /**
   * False: a live leader is never displaced by a lower ID (this node does not campaign against one, a leader does
   * not step aside for one, a voter keeps renewing its holder). Default true (bully order at all times).
   */
  readonly preempt?: boolean | undefined;
  /** With preemption: this node takes over from a live leader only after being able to lead this long. Default 0. */
  readonly preemptDelayMs?: number | undefined;
  /** Bounds of the append/commit broadcast. Default: `BROADCAST_DEFAULTS` (src/core/broadcast.ts). */
  readonly broadcast?: BroadcastLimits | undefined;
}

/** Timing derived from {@link CoreConfig}; see docs/protocol.md, "Timing rules". */
export interface Timing {
  readonly majority: number;
  /**
   * How long a candidate may count a vote, measured from the moment it *sent* the request. A voter keeps its
   * promise for `leaseMs` of its own clock, which is at least `leaseMs / (1 + rho)` of real time; a candidate
   * whose clock runs slow by `rho` sees at most `safeLease * ... / (1 - rho)` real time pass. Taking
   * `leaseMs * (1 - rho) / (1 + rho)` keeps the candidate's belief strictly inside the voter's promise.
   */
  readonly safeLeaseMs: number;
  /** A vote request younger than this still counts as "this peer is campaigning". */
  readonly campaignWindowMs: number;
  /** A candidacy that has not won after this long gives up and cools down (asymmetric partitions). */
  readonly candidacyTimeoutMs: number;
  /** How long a failed candidate advertises `canLead: false`, so others may lead meanwhile. */
  readonly cooldownMs: number;
  /**
   * How far a follower that just answered a renewal pushes its next heartbeat beyond one interval, so the next
   * renewal arrives first and the heartbeat rides along with the reply (docs/protocol.md §14). A quarter interval,
   * and less when the peer timeout is short: a heartbeat gap stays well inside `peerTimeoutMs`.
   */
  readonly heartbeatSlackMs: number;
}

/** A margin for rounding and the time between reading the clock and acting on it. */
const SAFETY_MARGIN_MS = 1;

export function deriveTiming(config: CoreConfig): Timing {
  const rho = config.maxDriftRate;
  return {
    majority: Math.floor(config.clusterSize / 2) + 1,
    safeLeaseMs: (config.leaseMs * (1 - rho)) / (1 + rho) - SAFETY_MARGIN_MS,
    campaignWindowMs: 2.5 * config.heartbeatIntervalMs,
    candidacyTimeoutMs: 3 * config.leaseMs,
    cooldownMs: 2 * config.leaseMs,
    heartbeatSlackMs: Math.min(config.heartbeatIntervalMs / 4, (config.peerTimeoutMs - config.heartbeatIntervalMs) / 2),
  };
}

/**
 * Returns why `config`'s timing cannot be safe or live, or null when it is fine. Kept beside
 * {@link deriveTiming} so the rules and their checks cannot drift apart.
 */
export function timingProblem(config: CoreConfig): { field: string; message: string } | null {
  if (config.leaseMs <= 2 * config.heartbeatIntervalMs) {
    return {
      field: 'leaseMs',
      message: 'must be more than 2 heartbeat intervals, or one lost renewal ends leadership',
    };
  }
  if (config.peerTimeoutMs <= config.heartbeatIntervalMs) {
    return { field: 'peerTimeoutMs', message: 'must be more than one heartbeat interval' };
  }
  if (config.peerTimeoutMs >= config.leaseMs) {
    return { field: 'peerTimeoutMs', message: 'must be less than leaseMs, or failover waits for the peer timeout' };
  }
  if (deriveTiming(config).safeLeaseMs <= 2 * config.heartbeatIntervalMs) {
    return { field: 'maxDriftRate', message: 'leaves too little of the lease once drift is accounted for' };
  }
  return null;
}
