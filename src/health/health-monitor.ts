import { EventEmitter } from 'eventemitter3';
import { AbortError } from '../errors.ts';
import { logger } from '../util/log.ts';
import { type HealthOptions, type ResolvedHealthOptions, resolveHealthOptions } from './health-options.ts';

/**
 * Runs a service's health check on a schedule and turns its results into one healthy/unhealthy verdict with
 * keepalived-style hysteresis (`fall` failures to go down, `rise` successes to come back), combined with a
 * push-style switch (`setHealthy`). Standalone: `ElectionNode` and the etcd backend both gate leadership on it.
 * @module
 */

const log = logger('health');

/** The timer and clock the monitor uses; injectable so tests run without sleeping. */
export interface HealthScheduler {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** The real clock (`performance.now()`) and Node's timers. */
export const REAL_HEALTH_SCHEDULER: HealthScheduler = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Payload of the monitor's `change` event and of `ElectionNode`'s `healthChange`. */
export interface HealthChange {
  /** The combined verdict: the check (if any) and the push-style switch both say healthy. */
  healthy: boolean;
  /** Why, in words: `'healthy'`, the reason given to `setHealthy`, or the health check's last failure. */
  reason: string;
}

/** A plain, JSON-serialisable snapshot of the monitor (`ElectionNode.status().health`). */
export interface HealthStatus extends HealthChange {
  /** What the health check alone says (true when there is no check). */
  checkHealthy: boolean;
  /** What the push-style switch (`setHealthy`) says; true unless set otherwise. */
  manualHealthy: boolean;
  /** Whether a health check is configured at all. */
  checked: boolean;
  /** Failed checks in a row (0 after a success). */
  consecutiveFailures: number;
  /** Passed checks in a row (0 after a failure). */
  consecutiveSuccesses: number;
  /** How long the last completed check took (a timed-out check counts as `timeoutMs`), or null before any. */
  lastCheckDurationMs: number | null;
  /** Why the last failed check failed, or null if none has failed. */
  lastFailure: string | null;
}

/** Events of {@link HealthMonitor}. */
export interface HealthMonitorEvents {
  /** The combined verdict flipped. */
  change: (change: HealthChange) => void;
}

/** Construction settings of {@link HealthMonitor} beyond the user's options. */
export interface HealthMonitorSettings {
  /** Clock and timers; default the real ones. */
  scheduler?: HealthScheduler | undefined;
  /** Path of the options in error messages; default `'health'`. */
  path?: string | undefined;
}

/**
 * Health verdict with hysteresis. With a `check`, the monitor starts unhealthy ("waiting for the first health
 * check"); the first passing check makes it healthy at once (nothing has failed yet, so a cold start is not held
 * back by `rise`). Afterwards `fall` consecutive failures make it unhealthy and `rise` consecutive successes
 * healthy again. At most one check is ever in flight: a check that does not settle within `timeoutMs` is aborted
 * through its signal and counted as failed, and while it still has not settled no new one is started (each missed
 * turn counts as another failure), so a hanging check never piles up.
 */
export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  /** The validated options. */
  readonly options: ResolvedHealthOptions;
  readonly #scheduler: HealthScheduler;
  #running = false;
  #stopped = false;
  #timer: unknown;
  #inFlight: AbortController | null = null;
  #checkHealthy: boolean;
  #checkReason: string;
  #manualHealthy = true;
  #manualReason = 'healthy';
  #failures = 0;
  #successes = 0;
  #lastDuration: number | null = null;
  #lastFailure: string | null = null;
  #firstResult = true;
  #healthy: boolean;

  /** Validates `options` at once (a {@link ConfigError} names the field); `undefined` = no check, push-only. */
  constructor(options?: HealthOptions | undefined, settings: HealthMonitorSettings = {}) {
    super();
    this.options = resolveHealthOptions(options, settings.path ?? 'health');
    this.#scheduler = settings.scheduler ?? REAL_HEALTH_SCHEDULER;
    this.#checkHealthy = this.options.check === null;
    this.#checkReason = this.#checkHealthy ? 'healthy' : 'waiting for the first health check';
    this.#healthy = this.#checkHealthy;
  }

  /** The combined verdict right now. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Why the verdict is what it is. */
  get reason(): string {
    if (!this.#manualHealthy) return this.#manualReason;
    if (!this.#checkHealthy) return this.#checkReason;
    return 'healthy';
  }

  /** Starts checking (the first check runs at once). Idempotent; does nothing without a check. */
  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    if (this.options.check !== null) this.#runCheck();
  }

  /** Stops checking: aborts a check in flight and ignores its result. No `change` event fires afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#running = false;
    if (this.#timer !== undefined) this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight?.abort(new AbortError('health monitor stopped'));
    this.removeAllListeners();
  }

  /**
   * The push-style switch, combined with the check: the verdict is healthy only when both say so. Use it to drain
   * (`setHealthy(false, 'draining')`) before a deploy, or to feed a verdict from elsewhere.
   */
  setHealthy(healthy: boolean, reason?: string | undefined): void {
    this.#manualHealthy = healthy;
    this.#manualReason = reason ?? (healthy ? 'healthy' : 'marked unhealthy');
    this.#update();
  }

  /** A plain snapshot (see {@link HealthStatus}). */
  status(): HealthStatus {
    return {
      healthy: this.#healthy,
      reason: this.reason,
      checkHealthy: this.#checkHealthy,
      manualHealthy: this.#manualHealthy,
      checked: this.options.check !== null,
      consecutiveFailures: this.#failures,
      consecutiveSuccesses: this.#successes,
      lastCheckDurationMs: this.#lastDuration,
      lastFailure: this.#lastFailure,
    };
  }

  // ---------------------------------------------------------------------------------------------------------

  #runCheck(): void {
    const check = this.options.check;
    if (!this.#running || check === null) return;
    // Fixed rate: the next start is one interval after this one, and timeoutMs < intervalMs, so a check always
    // ends (or is cut off) before the next is due.
    this.#timer = this.#scheduler.setTimeout(() => this.#runCheck(), this.options.intervalMs);
    if (this.#inFlight !== null) {
      // The previous check ignored its abort signal and still has not settled: do not start another beside it.
      this.#record(false, 'previous check still running after its timeout', null);
      return;
    }
    const controller = new AbortController();
    this.#inFlight = controller;
    const startedAt = this.#scheduler.now();
    let decided = false;
    const decide = (ok: boolean, failure: string): void => {
      if (decided) return;
      decided = true;
      this.#scheduler.clearTimeout(timeout);
      if (this.#running) this.#record(ok, failure, this.#scheduler.now() - startedAt);
    };
    const settle = (): void => {
      if (this.#inFlight === controller) this.#inFlight = null;
    };
    const timeout = this.#scheduler.setTimeout(() => {
      decide(false, `timed out after ${this.options.timeoutMs} ms`);
      controller.abort(new AbortError('health check timed out'));
    }, this.options.timeoutMs);
    // stop() aborts the controller: the timeout must not outlive it.
    controller.signal.addEventListener('abort', () => this.#scheduler.clearTimeout(timeout), { once: true });
    let result: boolean | Promise<boolean>;
    try {
      result = check(controller.signal);
    } catch (error) {
      decide(false, `threw: ${describe(error)}`);
      settle();
      return;
    }
    if (!isThenable(result)) {
      decide(result === true, 'returned false');
      settle();
      return;
    }
    result.then(
      (value) => {
        decide(value === true, 'returned false');
        settle();
      },
      (error: unknown) => {
        decide(false, `threw: ${describe(error)}`);
        settle();
      },
    );
  }

  #record(ok: boolean, failure: string, durationMs: number | null): void {
    if (durationMs !== null) this.#lastDuration = durationMs;
    const first = this.#firstResult;
    this.#firstResult = false;
    if (ok) {
      this.#successes++;
      this.#failures = 0;
      if (!this.#checkHealthy && (first || this.#successes >= this.options.rise)) {
        this.#checkHealthy = true;
        this.#checkReason = 'healthy';
      }
    } else {
      this.#failures++;
      this.#successes = 0;
      this.#lastFailure = failure;
      log('health check failed (%d in a row): %s', this.#failures, failure);
      if (this.#checkHealthy && this.#failures >= this.options.fall) this.#checkHealthy = false;
      if (!this.#checkHealthy) this.#checkReason = `health check failed ${this.#failures}x: ${failure}`;
    }
    this.#update();
  }

  #update(): void {
    const healthy = this.#manualHealthy && this.#checkHealthy;
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    const reason = this.reason;
    log('health is now %s (%s)', healthy ? 'healthy' : 'unhealthy', reason);
    this.emit('change', { healthy, reason });
  }
}

function isThenable(value: unknown): value is Promise<boolean> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A short description of what a check threw (its message only: no stack, bounded length). */
function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
