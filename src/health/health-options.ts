import { ConfigError } from '../errors.ts';
import { checkInt, checkKnownKeys, checkObject } from '../util/validate.ts';

/**
 * Options of a health check (`health` in `ElectionNode`'s options, and of {@link HealthMonitor}), their defaults
 * and their validator, kept together so the documented rules and the checks cannot drift apart.
 * @module
 */

/**
 * Your service's own health check. Resolve (or return) `true` when the service is fit to hold the leadership;
 * `false`, a throw, a rejection or not settling within `timeoutMs` counts as a failure. `signal` aborts when the
 * check is cut off at its timeout (or the monitor stops): pass it to `fetch`, child processes and the like.
 */
export type HealthCheckFunction = (signal: AbortSignal) => boolean | Promise<boolean>;

/** How a node checks its own health; see docs/operations.md for choosing the numbers. */
export interface HealthOptions {
  /** The check itself; required. It runs on the main thread, one call at a time. */
  check: HealthCheckFunction;
  /** Time between the starts of two checks. Default 1000 ms. */
  intervalMs?: number | undefined;
  /** A check that has not settled after this long is aborted and counts as a failure; `< intervalMs`. Default 500 ms. */
  timeoutMs?: number | undefined;
  /** Consecutive failures that make a healthy node unhealthy. Default 3. */
  fall?: number | undefined;
  /** Consecutive successes that make an unhealthy node healthy again. Default 2. */
  rise?: number | undefined;
}

/** Validated health options with every default filled in. */
export interface ResolvedHealthOptions {
  /** The check; null when health is only set by hand (`setHealthy`). */
  readonly check: HealthCheckFunction | null;
  /** Time between the starts of two health checks, ms. */
  readonly intervalMs: number;
  /** A check that has not settled after this long counts as failed, ms. */
  readonly timeoutMs: number;
  /** Consecutive failed checks that make the node unhealthy. */
  readonly fall: number;
  /** Consecutive passed checks that make an unhealthy node healthy again. */
  readonly rise: number;
}

/** Defaults of the health options, in one place for docs and code (keepalived's `fall`/`rise` spirit, faster). */
export const HEALTH_DEFAULTS = {
  /** Time between the starts of two health checks, ms. */
  intervalMs: 1000,
  /** A check that has not settled after this long counts as failed, ms. */
  timeoutMs: 500,
  /** Consecutive failed checks that make the node unhealthy. */
  fall: 3,
  /** Consecutive passed checks that make an unhealthy node healthy again. */
  rise: 2,
} as const;

const KNOWN = ['check', 'intervalMs', 'timeoutMs', 'fall', 'rise'] as const;

/** Upper bounds that catch unit mistakes (seconds given as minutes) without restricting real use. */
const MAX_INTERVAL_MS = 3_600_000;
const MAX_COUNT = 1000;

/**
 * Validates `health` options; throws a {@link ConfigError} naming the field by its full path (`health.fall`).
 * `undefined` means "no check": health then follows only the push-style switch.
 */
export function resolveHealthOptions(input: unknown, path = 'health'): ResolvedHealthOptions {
  if (input === undefined) return { check: null, ...HEALTH_DEFAULTS };
  const options = checkObject(input, path);
  checkKnownKeys(options, KNOWN, `${path}.`);
  if (typeof options.check !== 'function') {
    throw new ConfigError(`${path}.check`, 'expected a function (signal: AbortSignal) => boolean | Promise<boolean>');
  }
  const intervalMs = checkInt(
    options.intervalMs ?? HEALTH_DEFAULTS.intervalMs,
    `${path}.intervalMs`,
    1,
    MAX_INTERVAL_MS,
  );
  const timeoutMs = checkInt(options.timeoutMs ?? HEALTH_DEFAULTS.timeoutMs, `${path}.timeoutMs`, 1, MAX_INTERVAL_MS);
  if (timeoutMs >= intervalMs) {
    throw new ConfigError(
      `${path}.timeoutMs`,
      `must be less than ${path}.intervalMs (${intervalMs}), so one check ends before the next is due`,
    );
  }
  return {
    check: options.check as HealthCheckFunction,
    intervalMs,
    timeoutMs,
    fall: checkInt(options.fall ?? HEALTH_DEFAULTS.fall, `${path}.fall`, 1, MAX_COUNT),
    rise: checkInt(options.rise ?? HEALTH_DEFAULTS.rise, `${path}.rise`, 1, MAX_COUNT),
  };
}
