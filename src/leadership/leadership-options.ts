import { ConfigError } from '../errors.ts';
import { type HealthOptions, type ResolvedHealthOptions, resolveHealthOptions } from '../health/health-options.ts';
import { checkBoolean, checkInt } from '../util/validate.ts';

/**
 * Who may lead, whatever the backend (the TCP election of `ElectionNode`, or the etcd backend): health gating,
 * voter-only witnesses and preemption control. The option types, their defaults and their validator live here, in
 * one place, so every backend offers the same options with the same rules and the same error messages.
 * @module
 */

/** Options that decide whether and when this node may lead; part of `ElectionNode`'s options. */
export interface LeadershipOptions {
  /**
   * Votes and counts toward the majority, but never campaigns and never leads: a tie-breaking witness, e.g. a small
   * machine in another region that cannot hold the floating IP. Default false.
   */
  voterOnly?: boolean | undefined;
  /**
   * Your service's own health check, run on this node (on the main thread, one call at a time). An unhealthy node
   * keeps voting but does not lead; a leader that turns unhealthy steps down at once (`lostLeadership` reason
   * `'unhealthy'`). Combined with `setHealthy()`: both must say healthy. Default: none (healthy unless set otherwise).
   */
  health?: HealthOptions | undefined;
  /**
   * True (default): the lowest-ID healthy node that can gather a majority always leads, so a returning lower ID
   * takes over. False: a live, healthy leader is never displaced by a lower ID (it leads until it fails, turns
   * unhealthy or stops); use the same setting on every member.
   */
  preempt?: boolean | undefined;
  /**
   * With `preempt`, a lower ID takes over from a live leader only after it has been healthy, ready and connected
   * to a majority this long, so a node that flaps does not move the IP back and forth. Elections after a failure are
   * not delayed. Default 0.
   */
  preemptDelayMs?: number | undefined;
}

/** Validated {@link LeadershipOptions}; `health` resolved with its defaults (its `check` is null when not given). */
export interface ResolvedLeadershipOptions {
  /** Votes but never campaigns or leads (a witness). */
  readonly voterOnly: boolean;
  /** A lower ID that becomes able to lead takes leadership back from a higher one. */
  readonly preempt: boolean;
  /** How long a returning lower ID waits (healthy, ready) before it preempts, ms. */
  readonly preemptDelayMs: number;
  /** The health check and its timing, resolved (null check: none). */
  readonly health: ResolvedHealthOptions;
}

/** Defaults of {@link LeadershipOptions} (those of `health` are `HEALTH_DEFAULTS`), in one place for docs and code. */
export const LEADERSHIP_DEFAULTS = {
  /** Votes but never campaigns or leads (a witness). */
  voterOnly: false,
  /** A lower ID that becomes able to lead takes leadership back from a higher one. */
  preempt: true,
  /** How long a returning lower ID waits (healthy, ready) before it preempts, ms. */
  preemptDelayMs: 0,
} as const;

/** The option names of {@link LeadershipOptions}, for a backend's list of known keys. */
export const LEADERSHIP_KEYS = ['voterOnly', 'health', 'preempt', 'preemptDelayMs'] as const;

/** An hour: longer is a unit mistake (seconds given as ms would be far below; minutes as seconds far above). */
const MAX_PREEMPT_DELAY_MS = 3_600_000;

/**
 * Validates the leadership options of `options` (other keys are ignored: the backend checks those); throws a
 * {@link ConfigError} naming the field by its full path (`health.fall`). `members` is the number of voting members,
 * this node included, when the backend knows it: a voter-only node alone could never have a leader.
 */
export function resolveLeadershipOptions(
  options: Record<string, unknown>,
  members: number | undefined,
  prefix = '',
): ResolvedLeadershipOptions {
  const d = LEADERSHIP_DEFAULTS;
  const voterOnly = checkBoolean(options.voterOnly ?? d.voterOnly, `${prefix}voterOnly`);
  if (voterOnly && members === 1) {
    throw new ConfigError(`${prefix}voterOnly`, 'this node is the only member: nobody could ever lead');
  }
  const preempt = checkBoolean(options.preempt ?? d.preempt, `${prefix}preempt`);
  const preemptDelayMs = checkInt(
    options.preemptDelayMs ?? d.preemptDelayMs,
    `${prefix}preemptDelayMs`,
    0,
    MAX_PREEMPT_DELAY_MS,
  );
  if (!preempt && preemptDelayMs > 0) {
    throw new ConfigError(`${prefix}preemptDelayMs`, 'has no effect with preempt: false (nothing is ever preempted)');
  }
  const health = resolveHealthOptions(options.health, `${prefix}health`);
  if (voterOnly && health.check !== null) {
    throw new ConfigError(`${prefix}health`, 'a voterOnly node never leads, so a health check would gate nothing');
  }
  return { voterOnly, preempt, preemptDelayMs, health };
}

/**
 * Checks a whole cluster's layout, where it is known in one place (the CLI's member list, a test harness):
 * at least one member must be able to lead. `voterOnly[i]` is member i's setting.
 */
export function checkSomeoneCanLead(voterOnly: readonly boolean[], field = 'voterOnly'): void {
  if (voterOnly.length > 0 && voterOnly.every(Boolean)) {
    throw new ConfigError(field, 'is set on every member: nobody could ever lead');
  }
}
