/**
 * The contract above every election backend: what `bindFloatingIp`, the CLI, the metrics example and a host
 * application rely on. The built-in TCP protocol (`ElectionNode`) and the etcd backend (`EtcdElection` in
 * `leader-ip/etcd`) both implement it, so swapping the backend is a one-line change.
 * @module
 */

import type { LeaderIpError } from '../errors.ts';
import type { HealthChange } from '../health/health-monitor.ts';
import type { GainedLeadershipInfo, LeaderChangeInfo, LostLeadershipInfo } from '../node/events.ts';

/**
 * Events of every {@link LeadershipSource}. They come in pairs: each `gainedLeadership` is followed by exactly one
 * `lostLeadership` with the same term (also when the source stops or fails). `error` reports conditions that
 * need the user's attention; eventemitter3 does not throw when nobody listens to it.
 */
export interface LeadershipEvents {
  /** This node now leads; `term` is the fencing token, `signal` aborts when this leadership ends. */
  gainedLeadership: (info: GainedLeadershipInfo) => void;
  /** The leadership announced by the last `gainedLeadership` ended (`reason` says why). */
  lostLeadership: (info: LostLeadershipInfo) => void;
  /** The leader as this node sees it changed: a node ID, or `null` while there is none. */
  leaderChange: (leaderId: number | null, info: LeaderChangeInfo) => void;
  /**
   * This node's health verdict flipped (its `health` check crossed `fall`/`rise`, or `setHealthy()` changed it;
   * both must say healthy). An unhealthy node does not lead; a leader steps down with reason `'unhealthy'`.
   * Backends with health gating (`LeadershipOptions`) emit it.
   */
  healthChange: (change: HealthChange) => void;
  /**
   * A condition that needs the user's action: the state file cannot be written, the engine failed, an append
   * listener failed, the backend lost its store. Node's `events.once()`/`events.on()` reject on it.
   */
  error: (error: LeaderIpError) => void;
  /**
   * Informational, the node keeps running and needs nothing: a refused or broken connection (a stray peer's bad
   * handshake, `auth-failed`, a bad frame, an idle link). Kept apart from `error` so that `events.once(node,
   * 'gainedLeadership')` is not rejected by an unrelated peer's mistake.
   */
  warning: (warning: LeaderIpError) => void;
}

/** `on`/`off`/`once` of a {@link LeadershipSource}: one overload per {@link LeadershipEvents} event. */
export type SubscribeFn = ((event: 'gainedLeadership', listener: LeadershipEvents['gainedLeadership']) => unknown) &
  ((event: 'lostLeadership', listener: LeadershipEvents['lostLeadership']) => unknown) &
  ((event: 'leaderChange', listener: LeadershipEvents['leaderChange']) => unknown) &
  ((event: 'healthChange', listener: LeadershipEvents['healthChange']) => unknown) &
  ((event: 'error', listener: LeadershipEvents['error']) => unknown) &
  ((event: 'warning', listener: LeadershipEvents['warning']) => unknown);

/** The part of a backend's `status()` every backend has (each adds its own details). JSON-serialisable. */
export interface LeadershipStatus {
  /** This node's ID. */
  id: number;
  /** `'new'` until `start()` resolves, `'running'`, then `'stopped'`. */
  state: 'new' | 'running' | 'stopped';
  /** Same as {@link LeadershipSource.isLeader} at the moment of the call. */
  isLeader: boolean;
  /** Same as {@link LeadershipSource.leaderId}. */
  leaderId: number | null;
  /** Same as {@link LeadershipSource.term}. */
  term: number;
}

/**
 * One node's view of an election, whichever engine runs it. Implemented by `ElectionNode` (built-in TCP bully
 * protocol) and `EtcdElection` (`leader-ip/etcd`).
 *
 * Guarantees every implementation gives: `isLeader` is judged at the moment of reading and turns false no later
 * than the instant another node could be elected (it does not wait for `lostLeadership` to be delivered); terms
 * of successive leaderships are strictly increasing, so a term passed to an external system fences out a deposed
 * leader's late actions.
 */
export interface LeadershipSource {
  /**
   * Subscribes to a {@link LeadershipEvents} event. Declared per event rather than picked from `EventEmitter`, so
   * a backend with events of its own (`ElectionNode`'s `append` and `commit`) still implements the contract.
   */
  on: SubscribeFn;
  /** Unsubscribes a listener added with `on` or `once`. */
  off: SubscribeFn;
  /** Subscribes for one event only. */
  once: SubscribeFn;
  /** This node's ID. */
  readonly id: number;
  /** Whether this node leads right now (exact at the moment of reading). */
  readonly isLeader: boolean;
  /** The leader as this node sees it (possibly itself), or null while there is none or it is unknown. */
  readonly leaderId: number | null;
  /** Fencing term of the current (or last known) leadership; 0 before any. */
  readonly term: number;
  /** A JSON-serialisable snapshot; backends add their own fields to {@link LeadershipStatus}. */
  status(): LeadershipStatus;
  /** Joins the election. Rejects if it cannot start (a typed error says why). */
  start(): Promise<void>;
  /** Leaves the election; a leader resigns at once, so another node can take over within a round trip. */
  stop(): Promise<void>;
}
