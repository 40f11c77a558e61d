/**
 * Keeps a floating IP on the elected leader: assign on election, stop on loss, and reconcile while leading.
 * @module
 */

import { EventEmitter } from 'eventemitter3';
import { AbortError, AssignerError, ConfigError, LeaderIpError } from '../errors.ts';
import type { LeadershipSource } from '../leadership/leadership-source.ts';
import type { GainedLeadershipInfo, LostLeadershipInfo } from '../node/events.ts';
import { checkInt, checkKnownKeys, checkObject } from '../util/validate.ts';
import { type FloatingIpAssigner, type HolderId, sameHolder } from './floating-ip-assigner.ts';
import { backoffDelay, sleep } from './timing.ts';

/** Every default of {@link BindFloatingIpOptions}, in one place for docs, code and the CLI. */
export const BIND_FLOATING_IP_DEFAULTS = {
  /** While leading, re-check the holder every 30 s: 2 reads a minute per cluster, far inside any API rate limit. */
  reconcileIntervalMs: 30_000,
  /** First delay before retrying a failed, retryable assign, ms. */
  retryBaseDelayMs: 1000,
  /** Largest delay between assign retries, ms (at least `retryBaseDelayMs`). */
  retryMaxDelayMs: 30_000,
} as const;

/** Options of {@link bindFloatingIp}. */
export interface BindFloatingIpOptions {
  /**
   * While leader, check who holds the IP this often (one `holder()` call) and take it back if it moved — by a
   * person, or by a deposed leader's late action. 0 disables. Default 30000 (2 reads a minute per cluster).
   */
  reconcileIntervalMs?: number | undefined;
  /** First delay before retrying a failed, retryable assign; doubles per attempt, jittered. Default 1000. */
  retryBaseDelayMs?: number | undefined;
  /** Largest delay between assign retries. Default 30000. */
  retryMaxDelayMs?: number | undefined;
}

/** Payload of `assigned`. */
export interface AssignedInfo {
  /** The leadership term the IP was assigned for (the fencing token passed to the assigner). */
  term: number;
  /** From the first attempt to the confirmed assignment, retries included (monotonic clock). */
  durationMs: number;
  /** Assign calls it took. */
  attempts: number;
}

/** Payload of `assignFailed`. */
export interface AssignFailedInfo {
  /** The leadership term of the failed attempt. */
  term: number;
  /** Why it failed: an `AssignerError` (with `retryable`) or another typed error. */
  error: LeaderIpError;
  /** Whether the binding will retry (retryable error, still leader). Otherwise the next reconciliation retries. */
  willRetry: boolean;
}

/** Payload of `reconciled`. */
export interface ReconciledInfo {
  /** The leadership term during which the check ran. */
  term: number;
  /** Who held the IP when checked. */
  holder: HolderId | null;
  /** True when the IP was not here and an assign was started to take it back. */
  corrected: boolean;
}

/** Events of a {@link FloatingIpBinding}. Nothing is emitted for calls cancelled by a leadership loss or unbind. */
export interface FloatingIpBindingEvents {
  /** The IP is confirmed on this node for `term`. */
  assigned: (info: AssignedInfo) => void;
  /** One assign attempt failed. */
  assignFailed: (info: AssignFailedInfo) => void;
  /** A reconciliation read completed. */
  reconciled: (info: ReconciledInfo) => void;
  /** Needs attention: a non-retryable assign failure (also reported as `assignFailed`) or a failed reconciliation read. */
  error: (error: LeaderIpError) => void;
}

/** Returned by {@link bindFloatingIp}. */
export interface FloatingIpBinding {
  /** `assigned`, `assignFailed`, `reconciled` and `error` (see {@link FloatingIpBindingEvents}). */
  readonly events: EventEmitter<FloatingIpBindingEvents>;
  /**
   * Stops: removes the node listeners, aborts the in-flight call, clears timers. Resolves once the in-flight call
   * has settled. Does not unassign the IP.
   */
  unbind(): Promise<void>;
}

interface Session {
  readonly term: number;
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

const OPTION_KEYS = ['reconcileIntervalMs', 'retryBaseDelayMs', 'retryMaxDelayMs'] as const;
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Binds `assigner` to the leadership of `node` (any {@link LeadershipSource}: `ElectionNode`, `EtcdElection`): on `gainedLeadership` it assigns the IP (retrying retryable failures
 * with capped, jittered backoff, passing the term as fencing token); on `lostLeadership` it aborts the in-flight
 * call; while leader it reconciles every `reconcileIntervalMs`. Bound while already leader, it starts at once.
 * Its timers run only while leader: once the node stops (`lostLeadership`, reason `stopped`) or `unbind()` is
 * called, nothing of it keeps the process alive.
 */
export function bindFloatingIp(
  node: LeadershipSource,
  assigner: FloatingIpAssigner,
  options: BindFloatingIpOptions = {},
): FloatingIpBinding {
  if (typeof node?.on !== 'function' || typeof node.off !== 'function') {
    throw new ConfigError('node', 'expected an event emitter of leadership events');
  }
  for (const method of ['assign', 'holder', 'self'] as const) {
    if (typeof assigner?.[method] !== 'function') throw new ConfigError('assigner', `expected a ${method}() method`);
  }
  const o = checkObject(options, 'options');
  checkKnownKeys(o, OPTION_KEYS);
  const reconcileIntervalMs = checkInt(
    o.reconcileIntervalMs ?? BIND_FLOATING_IP_DEFAULTS.reconcileIntervalMs,
    'reconcileIntervalMs',
    0,
    MAX_TIMER_MS,
  );
  const baseDelayMs = checkInt(
    o.retryBaseDelayMs ?? BIND_FLOATING_IP_DEFAULTS.retryBaseDelayMs,
    'retryBaseDelayMs',
    1,
    MAX_TIMER_MS,
  );
  const maxDelayMs = checkInt(
    o.retryMaxDelayMs ?? Math.max(BIND_FLOATING_IP_DEFAULTS.retryMaxDelayMs, baseDelayMs),
    'retryMaxDelayMs',
    baseDelayMs,
    MAX_TIMER_MS,
  );

  const events = new EventEmitter<FloatingIpBindingEvents>();
  let session: Session | undefined;
  let bound = true;

  const report = (error: unknown): void => {
    try {
      events.emit('error', toLeaderIpError(error));
    } catch {
      // A throwing 'error' listener must not turn into an unhandled rejection here.
    }
  };

  const stop = (): void => {
    if (session === undefined) return;
    session.controller.abort(new AbortError('leadership ended'));
    clearTimeout(session.timer);
    session = undefined;
  };

  const run = (s: Session, task: () => Promise<void>): void => {
    const running: Promise<void> = task()
      .catch(report)
      .finally(() => {
        if (s.running === running) s.running = undefined;
        schedule(s);
      });
    s.running = running;
  };

  const schedule = (s: Session): void => {
    if (session !== s || reconcileIntervalMs === 0) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (session !== s) return;
      // A missed lostLeadership must not leave a non-leader fighting for the IP.
      if (!node.isLeader) {
        stop();
        return;
      }
      run(s, () => reconcile(s));
    }, reconcileIntervalMs);
  };

  const assignUntilDone = async (s: Session): Promise<void> => {
    const signal = s.controller.signal;
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await assigner.assign({ signal, term: s.term, stillLeader: () => node.isLeader });
        if (signal.aborted) return;
        events.emit('assigned', { term: s.term, durationMs: performance.now() - started, attempts: attempt });
        return;
      } catch (caught) {
        // Stopped because leadership ended (its lostLeadership event may still be on its way): not a failure.
        if (signal.aborted || !node.isLeader) return;
        const error = toLeaderIpError(caught);
        const willRetry = error instanceof AssignerError && error.retryable;
        events.emit('assignFailed', { term: s.term, error, willRetry });
        if (!willRetry) {
          report(error);
          return;
        }
      }
      try {
        await sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs), signal);
      } catch {
        return;
      }
    }
  };

  const reconcile = async (s: Session): Promise<void> => {
    const signal = s.controller.signal;
    let holder: HolderId | null;
    let me: HolderId;
    try {
      [holder, me] = await Promise.all([assigner.holder({ signal }), assigner.self({ signal })]);
    } catch (error) {
      if (!signal.aborted) report(error);
      return;
    }
    if (signal.aborted) return;
    const corrected = !sameHolder(holder, me);
    events.emit('reconciled', { term: s.term, holder, corrected });
    if (corrected) await assignUntilDone(s);
  };

  const start = (term: number, leadership?: AbortSignal): void => {
    if (session?.term === term) return;
    stop();
    if (leadership?.aborted) return;
    const s: Session = { term, controller: new AbortController(), timer: undefined, running: undefined };
    session = s;
    // The leadership's own signal ends the session even if its lostLeadership never reaches this binding.
    leadership?.addEventListener(
      'abort',
      () => {
        if (session === s) stop();
      },
      { once: true, signal: s.controller.signal },
    );
    run(s, () => assignUntilDone(s));
  };

  const onGained = (info: GainedLeadershipInfo): void => start(info.term, info.signal);
  const onLost = (info: LostLeadershipInfo): void => {
    // A late event about an older leadership must not stop the current one.
    if (session !== undefined && info.term < session.term) return;
    stop();
  };
  node.on('gainedLeadership', onGained);
  node.on('lostLeadership', onLost);
  if (node.isLeader) start(node.term);

  return {
    events,
    async unbind(): Promise<void> {
      if (!bound) return;
      bound = false;
      node.off('gainedLeadership', onGained);
      node.off('lostLeadership', onLost);
      const running = session?.running;
      stop();
      await running;
    },
  };
}

function toLeaderIpError(error: unknown): LeaderIpError {
  if (error instanceof LeaderIpError) return error;
  // A custom assigner's plain error: assume a later attempt may succeed, like a network error.
  const message = error instanceof Error ? error.message : String(error);
  return new AssignerError('ERR_ASSIGN_FAILED', `assigner failed: ${message}`, { retryable: true, cause: error });
}
