import { EventEmitter } from 'eventemitter3';
import type { CoreStatus } from '../core/election-core.ts';
import {
  AbortError,
  AppendError,
  type AppendErrorReason,
  ConfigError,
  EngineError,
  LeaderIpError,
  StateError,
} from '../errors.ts';
import { HealthMonitor, type HealthStatus } from '../health/health-monitor.ts';
import type { LeadershipSource, LeadershipStatus } from '../leadership/leadership-source.ts';
import type { TcpTransportStats } from '../transport/types.ts';
import type { Endpoint } from '../util/address.ts';
import { logger } from '../util/log.ts';
import { monotonicMs } from '../util/monotonic.ts';
import { checkBoolean, checkObject, checkString } from '../util/validate.ts';
import { type EngineHost, startInlineEngine, startWorkerEngine } from './engine-host.ts';
import {
  deserializeError,
  dispatch,
  type EngineEvents,
  type EngineStatus,
  type Envelope,
  type Handlers,
} from './engine-protocol.ts';
import type { AppendEntry, ElectionNodeEvents, LostLeadershipReason } from './events.ts';
import { checkNewPeer, type ElectionNodeOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { SharedView } from './shared-view.ts';

const log = logger('node');

/** A plain, JSON-serialisable snapshot returned by {@link ElectionNode.status}. */
export interface ElectionNodeStatus extends CoreStatus, LeadershipStatus {
  /** `'new'` until `start()` resolves, `'running'`, then `'stopped'` (after `stop()`, or when the engine failed). */
  state: 'new' | 'running' | 'stopped';
  /** Where the election runs (the `thread` option). */
  thread: 'worker' | 'main';
  /** The bound listen address, once started. */
  address: Endpoint | null;
  /** Voting members, this node included. */
  clusterSize: number;
  /** Authenticated frames whose payload was not a valid protocol message (counted and dropped). */
  badMessages: number;
  /** Leadership changes of this node since start: gained plus lost. */
  transitions: number;
  /** Transport counters (frames, bytes, connections, refusals by reason); null before start. */
  transport: TcpTransportStats | null;
  /** This node's health: the verdict and why, the check's consecutive failures/successes, its last duration. */
  health: HealthStatus;
}

/** What {@link ElectionNode.waitForLeadership} resolves with: the leadership's term and its signal. */
export interface Leadership {
  /** The fencing term. */
  term: number;
  /** Aborts the moment this leadership ends (see `GainedLeadershipInfo.signal`). */
  signal: AbortSignal;
}

/** Options of {@link ElectionNode.waitForLeadership}. */
export interface WaitForLeadershipOptions {
  /** Stops waiting: the promise rejects with an {@link AbortError}. */
  signal?: AbortSignal | undefined;
}

/** How long `status()` waits for a busy worker before answering from its last snapshot. */
const STATUS_TIMEOUT_MS = 1000;
/** How long `stop()` waits for the worker to close its sockets before terminating it anyway. */
const STOP_TIMEOUT_MS = 5000;
/**
 * The main thread proves it runs every `maxStallMs / BEATS_PER_STALL` (the stall detector's resolution: 250 ms at
 * the default 5 s). Each proof wakes the application's thread, so no more often than that.
 */
const BEATS_PER_STALL = 20;

/** Options of {@link ElectionNode.append}. */
export interface AppendOptions {
  /**
   * Stops waiting: the promise rejects with an {@link AppendError} (`'aborted'`). An entry already sent is not
   * recalled and may still commit (the `commit` event tells).
   */
  signal?: AbortSignal | undefined;
}

/** What {@link ElectionNode.append} resolves with: the committed entry's position. */
export interface AppendResult {
  /** The leadership term the entry was committed in. */
  term: number;
  /** Its position in that term's log. */
  index: number;
}

/** An append the facade waits on. */
interface PendingAppend {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: AppendError) => void;
  entry: { term: number; index: number } | null;
  /** Removes the abort listener. */
  detach: () => void;
}

const entryKey = (term: number, index: number): string => `${term}:${index}`;

/** Tests only: the engine host of a node (to kill its worker). Not part of the package's API. */
const hosts = new WeakMap<ElectionNode, EngineHost>();

/** @internal Tests only: the worker thread running `node`'s engine, if any. */
export function engineWorkerOf(node: ElectionNode): import('node:worker_threads').Worker | undefined {
  return hosts.get(node)?.worker;
}

/**
 * One member of a leader-ip cluster: elects a leader among a fixed set of peers over TCP, safely (never two
 * leaders at once, thanks to vote-leases and fencing terms) and quickly (a new leader about one lease after a
 * crash; a round trip after a graceful {@link stop}).
 *
 * By default the protocol, its timers and its sockets run on a worker thread (`thread: 'worker'`), so a blocked
 * application event loop does not delay heartbeats; `maxStallMs` bounds how long the application may stall
 * before the node stops leading. The API is the same, and synchronous where it looks it, in both modes.
 *
 * @example
 * ```ts
 * const node = new ElectionNode({ id: 1, listen: '10.0.0.1:7400', peers: ['10.0.0.2:7400', '10.0.0.3:7400'], secret });
 * node.on('gainedLeadership', ({ term }) => console.log('leading, term', term));
 * node.on('lostLeadership', ({ reason }) => console.log('not leading:', reason));
 * await node.start();
 * ```
 *
 * Events: `gainedLeadership`, `lostLeadership`, `leaderChange`, and `error` for connection-level problems
 * (informational; the node keeps running; eventemitter3 does not throw when nobody listens to `error`), a state
 * file that cannot be written, and the failure of the election's worker thread (the node is then stopped).
 */
export class ElectionNode extends EventEmitter<ElectionNodeEvents> implements LeadershipSource {
  readonly #options: ResolvedOptions;
  readonly #peers: Endpoint[];
  readonly #view = new SharedView();
  #host: EngineHost | undefined;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #address: Endpoint | null = null;
  #transitions = 0;
  /** The term of the `gainedLeadership` delivered here and not yet ended; null when not leading. */
  #leading: number | null = null;
  /** Aborted when the leadership in `#leading` ends (the `signal` of its `gainedLeadership`). */
  #leadership: AbortController | undefined;
  /** The health check (main thread, beside the application it checks) and the `setHealthy` switch. */
  readonly #health: HealthMonitor;
  /** `waitForLeadership` calls to reject when the node stops or fails before leading. */
  readonly #stopWaiters = new Set<() => void>();
  /** The leader last reported through `leaderChange`. */
  #reportedLeader: number | null = null;
  #failed = false;
  #lastStatus: EngineStatus | undefined;
  #beat: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #startWaiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #stopRequested = false;
  #stopped: Promise<void> | undefined;
  #stoppedWaiter: (() => void) | undefined;
  #nextRequest = 0;
  /** Appends sent to the engine, by request ID, until it accepted or refused them. */
  readonly #requests = new Map<number, PendingAppend>();
  /** Appends the leader took, by `term:index`, until committed or failed. */
  readonly #inFlight = new Map<string, PendingAppend>();

  /** The engine's events, in the order it produced them: one handler per {@link EngineEvents} entry. */
  readonly #events: Handlers<EngineEvents> = {
    started: ({ address }) => {
      this.#address = address;
      this.#startWaiter?.resolve();
    },
    startFailed: ({ error }) => this.#startWaiter?.reject(deserializeError(error)),
    gained: ({ term, beganAt }) => {
      // After a failure nothing the dead engine said late may make this node lead again.
      if (this.#leading !== null || this.#failed) return;
      this.#leading = term;
      this.#transitions++;
      this.#leadership = new AbortController();
      this.#emitSafely('gainedLeadership', {
        term,
        signal: this.#leadership.signal,
        beganMsAgo: Math.max(0, monotonicMs() - beganAt),
      });
    },
    lost: ({ term, reason, endedAt }) => {
      // Only a leadership this node announced ends here: events come in pairs.
      if (this.#leading === null) return;
      this.#leading = null;
      this.#transitions++;
      this.#endLeadership(reason);
      this.#emitSafely('lostLeadership', { term, reason, endedMsAgo: Math.max(0, monotonicMs() - endedAt) });
    },
    leader: ({ leaderId, term }) => {
      if (this.#failed) return;
      this.#reportedLeader = leaderId;
      this.#emitSafely('leaderChange', leaderId, { term });
    },
    error: ({ error }) => this.#emitSafely('error', deserializeError(error)),
    warning: ({ error }) => this.#emitSafely('warning', deserializeError(error)),
    appendAccepted: ({ requestId, term, index }) => {
      const pending = this.#requests.get(requestId);
      if (pending === undefined) return;
      this.#requests.delete(requestId);
      pending.entry = { term, index };
      this.#inFlight.set(entryKey(term, index), pending);
    },
    appendRefused: ({ requestId, reason, message }) => {
      const pending = this.#requests.get(requestId);
      if (pending === undefined) return;
      this.#requests.delete(requestId);
      this.#settle(pending, new AppendError(reason, message));
    },
    appendFailed: ({ term, index }) => {
      const pending = this.#inFlight.get(entryKey(term, index));
      if (pending === undefined) return;
      this.#inFlight.delete(entryKey(term, index));
      const message = `leadership (term ${term}) ended before a majority confirmed entry ${index}: outcome unknown`;
      this.#settle(pending, new AppendError('leadershipLost', message, { term, index }));
    },
    committed: ({ term, index }) => {
      const pending = this.#inFlight.get(entryKey(term, index));
      if (pending !== undefined) {
        this.#inFlight.delete(entryKey(term, index));
        pending.detach();
        pending.resolve({ term, index });
      }
      this.#emitSafely('commit', { term, index });
    },
    delivered: (entry) => this.#deliver(entry),
    stopped: ({ status }) => {
      this.#lastStatus = status;
      this.#stoppedWaiter?.();
    },
  };

  /** Validates `options` at once: throws a {@link ConfigError} naming the first invalid field by its full path. */
  constructor(options: ElectionNodeOptions) {
    super();
    this.#options = resolveOptions(options);
    this.#peers = [...this.#options.peers];
    // Already validated by resolveOptions (same validator, same paths): this cannot throw.
    this.#health = new HealthMonitor(options.health);
    this.#health.on('change', (change) => {
      this.#host?.send({ type: 'setHealthy', healthy: change.healthy });
      log('node %d is %s (%s)', this.#options.id, change.healthy ? 'healthy' : 'unhealthy', change.reason);
      this.#emitSafely('healthChange', change);
    });
  }

  /**
   * The push-style health switch, combined with the `health` check: the node is healthy only when both say so.
   * `setHealthy(false, 'draining')` before a deploy makes a leader hand over within a round trip (it steps down
   * with reason `'unhealthy'` and releases its votes) while it keeps voting; `setHealthy(true)` lets it lead again.
   * Emits `healthChange` when the verdict flips. Works before `start()` too.
   */
  setHealthy(healthy: boolean, reason?: string | undefined): void {
    checkBoolean(healthy, 'healthy');
    if (reason !== undefined) checkString(reason, 'reason', 200);
    if (this.#state === 'stopped') return;
    this.#health.setHealthy(healthy, reason);
  }

  /**
   * Resolves once this node leads (at once if it does), with the leadership's term and a signal that aborts when it
   * ends. Rejects with an {@link AbortError} when `options.signal` aborts, or a {@link StateError} when the node
   * stops first.
   */
  waitForLeadership(options: WaitForLeadershipOptions = {}): Promise<Leadership> {
    const o = checkObject(options, 'options');
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ConfigError('signal', 'expected an AbortSignal');
    }
    const current = this.#leadership;
    if (this.isLeader && current !== undefined && this.#leading !== null) {
      return Promise.resolve({ term: this.#leading, signal: current.signal });
    }
    if (signal?.aborted) return Promise.reject(new AbortError('waitForLeadership aborted', { cause: signal.reason }));
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new StateError('waitForLeadership() on a stopped node'));
    }
    return new Promise<Leadership>((resolve, reject) => {
      const cleanup = (): void => {
        this.off('gainedLeadership', onGained);
        this.#stopWaiters.delete(onStopped);
        signal?.removeEventListener('abort', onAbort);
      };
      const onGained = ({ term, signal: leadership }: { term: number; signal: AbortSignal }): void => {
        cleanup();
        resolve({ term, signal: leadership });
      };
      const onStopped = (): void => {
        cleanup();
        reject(new StateError('the node stopped before it led'));
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AbortError('waitForLeadership aborted', { cause: signal?.reason }));
      };
      this.on('gainedLeadership', onGained);
      this.#stopWaiters.add(onStopped);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** This node's ID. */
  get id(): number {
    return this.#options.id;
  }

  /** The bound listen address once started (useful with port 0), else null. */
  get address(): Endpoint | null {
    return this.#address;
  }

  /**
   * Whether this node leads right now, judged against its lease at the moment of reading (on the host-wide
   * monotonic clock, whichever thread the election runs on). True only after `gainedLeadership` was emitted for
   * the current term, and false from the instant the lease ends, even before `lostLeadership` is delivered.
   */
  get isLeader(): boolean {
    const term = this.#leading;
    if (term === null) return false;
    const view = this.#view.read();
    return view.term === term && monotonicMs() < view.leaseExpiry;
  }

  /** The leader as this node sees it (possibly itself), or null. */
  get leaderId(): number | null {
    if (this.isLeader) return this.#options.id;
    if (this.#state !== 'running') return null;
    const view = this.#view.read();
    if (view.leaderId === null || view.leaderId === this.#options.id) return null;
    return monotonicMs() < view.leaderUntil ? view.leaderId : null;
  }

  /** Fencing term of the current (or last known) leadership; 0 before any. */
  get term(): number {
    return this.#view.read().term;
  }

  /**
   * Starts listening and joins the cluster. Resolves once listening. The node grants no vote and does not
   * campaign for one lease after start (a restarted node must not contradict votes it may have granted before).
   * Rejects with an {@link AbortError} when {@link stop} is called before it completes.
   */
  start(): Promise<void> {
    if (this.#state !== 'new') return Promise.reject(new StateError(`start() called on a node that is ${this.#state}`));
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.#startWaiter = { resolve, reject };
    });
    // The check starts with the node, so a verdict is in by the time the restart wait ends (one lease).
    this.#health.start();
    const options: ResolvedOptions = { ...this.#options, peers: [...this.#peers], healthy: this.#health.healthy };
    const callbacks = {
      event: (event: Envelope<EngineEvents>) => dispatch(this.#events, event),
      failed: (error: Error) => this.#engineFailed(error),
    };
    // The engine must see a fresh heartbeat from its first step, or it would think the main thread stalled.
    this.#view.beat(monotonicMs());
    try {
      this.#host =
        options.thread === 'worker'
          ? startWorkerEngine(options, this.#view, callbacks)
          : startInlineEngine(options, this.#view, callbacks);
      hosts.set(this, this.#host);
      await ready;
    } catch (error) {
      this.#state = 'stopped';
      this.#health.stop();
      this.#rejectWaiters();
      await this.#host?.close();
      throw error;
    } finally {
      this.#startWaiter = undefined;
    }
    if (this.#stopRequested) {
      // stop() was called meanwhile: it waits for this, and nothing may keep running once it resolves.
      this.#health.stop();
      await this.#halt();
      this.#state = 'stopped';
      throw new AbortError('stop() was called before start() completed');
    }
    this.#state = 'running';
    if (options.thread === 'worker') {
      const period = Math.max(1, Math.floor(options.maxStallMs / BEATS_PER_STALL));
      this.#beat = setInterval(() => this.#view.beat(monotonicMs()), period).unref();
    }
  }

  /**
   * Adds a member address to dial, like libab's AddPeer; works before and after {@link start}. Before start,
   * when `clusterSize` was not given, the cluster size grows with it. Otherwise the new peer must fit in
   * `clusterSize` (the majority is fixed while running: every member must agree on it), or a
   * {@link ConfigError} is thrown.
   */
  addPeer(address: string): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new StateError('addPeer() on a stopped node');
    const endpoint = checkNewPeer(address, 'peer', this.#peers, this.#address ?? this.#options.listen);
    const members = this.#peers.length + 2;
    if (members > this.#options.clusterSize) {
      if (this.#state !== 'new' || this.#options.clusterSizeExplicit) {
        throw new ConfigError(
          'peer',
          `cluster size ${this.#options.clusterSize} has no room for another member; set clusterSize up front`,
        );
      }
      this.#options.clusterSize = members;
    }
    this.#peers.push(endpoint);
    this.#host?.send({ type: 'addPeer', endpoint });
  }

  /**
   * Broadcasts `data` to the cluster through this node, which must be the leader (libab's `append`). Resolves with
   * the entry's `(term, index)` once a majority (this node included) confirmed it: the followers' applications
   * stored it (`append` event, `confirm()`). Rejects with an {@link AppendError} saying why not: `'notLeader'`,
   * `'leadershipLost'` (leadership ended first: outcome unknown, never reported committed), `'aborted'`,
   * `'tooLarge'` (`broadcast.maxEntryBytes`) or `'backpressure'` (`broadcast.maxInFlightEntries` or
   * `maxInFlightBytes` reached: retry once an earlier append settled). Several appends may be in flight; they
   * commit in the order they were called. A string is sent as UTF-8. See docs/protocol.md §12.
   */
  append(data: Uint8Array | string, options?: AppendOptions): Promise<AppendResult> {
    let bytes: Uint8Array;
    if (typeof data === 'string') bytes = new TextEncoder().encode(data);
    // A copy: the entry may be re-sent later (catch-ups), and the caller may reuse its buffer meanwhile.
    else if (data instanceof Uint8Array) bytes = data.slice();
    else return Promise.reject(new ConfigError('data', 'expected a Uint8Array or a string'));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AppendError('aborted', 'the signal was aborted before append'));
    const max = this.#options.broadcast.maxEntryBytes;
    if (bytes.length > max) {
      return Promise.reject(
        new AppendError('tooLarge', `entry of ${bytes.length} bytes exceeds broadcast.maxEntryBytes (${max})`),
      );
    }
    if (this.#state !== 'running' || !this.isLeader) {
      const leader = this.leaderId;
      const where = leader === null ? 'there is no leader now' : `the leader is node ${leader}`;
      return Promise.reject(new AppendError('notLeader', `node ${this.id} is not the leader; ${where}`));
    }
    const requestId = ++this.#nextRequest;
    return new Promise<AppendResult>((resolve, reject) => {
      const pending: PendingAppend = { resolve, reject, entry: null, detach: () => {} };
      if (signal !== undefined) {
        const onAbort = () => {
          this.#requests.delete(requestId);
          const entry = pending.entry;
          if (entry !== null) this.#inFlight.delete(entryKey(entry.term, entry.index));
          const sent = entry === null ? '' : ` (entry ${entry.index} of term ${entry.term} may still commit)`;
          reject(new AppendError('aborted', `append aborted${sent}`, entry ?? undefined));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#requests.set(requestId, pending);
      this.#host?.send({ type: 'append', requestId, data: bytes });
    });
  }

  /**
   * Hands a delivered entry to the `append` listeners, and confirms it to the leader once they stored it: when one
   * calls `confirm()`, or every promise a listener returned resolved. With no listener, at once.
   */
  #deliver(entry: { term: number; index: number; data: Uint8Array; catchUp: boolean; leaderId: number }): void {
    if (this.#failed) return;
    const { term, index } = entry;
    let confirmed = false;
    const confirm = () => {
      if (confirmed) return;
      confirmed = true;
      this.#host?.send({ type: 'confirm', term, index });
    };
    const listeners = this.listeners('append');
    if (listeners.length === 0) {
      confirm();
      return;
    }
    const info: AppendEntry = { ...entry, confirm };
    const stores: PromiseLike<void>[] = [];
    for (const listener of listeners) {
      try {
        const result = listener(info);
        if (result !== undefined && typeof (result as PromiseLike<void>).then === 'function') stores.push(result);
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
    if (stores.length === 0) return;
    Promise.all(stores).then(confirm, (error: unknown) => {
      const cause = error instanceof Error ? error.message : String(error);
      const message = `an append listener failed to store entry ${index} of term ${term} (not confirmed): ${cause}`;
      this.#emitSafely('error', new LeaderIpError('ERR_APPEND_LISTENER', message));
    });
  }

  /** Rejects `pending` with `error` (once). */
  #settle(pending: PendingAppend, error: AppendError): void {
    pending.detach();
    pending.reject(error);
  }

  /** The engine is gone: every append still waiting fails (taken ones: outcome unknown). */
  #failAppends(why: string): void {
    for (const pending of this.#requests.values()) {
      this.#settle(pending, new AppendError('notLeader', `node ${this.id} ${why} before the append was sent`));
    }
    this.#requests.clear();
    for (const pending of this.#inFlight.values()) {
      const reason: AppendErrorReason = 'leadershipLost';
      const entry = pending.entry ?? undefined;
      this.#settle(pending, new AppendError(reason, `node ${this.id} ${why}: outcome unknown`, entry));
    }
    this.#inFlight.clear();
  }

  /**
   * A plain, JSON-serialisable snapshot: role, term, lease, vote, each peer's view, transport counters. In worker
   * mode this is a synchronous round trip to the worker (well under a millisecond unless the worker is busy).
   */
  status(): ElectionNodeStatus {
    if (this.#state === 'running') this.#lastStatus = this.#host?.status(STATUS_TIMEOUT_MS) ?? this.#lastStatus;
    const engine = this.#lastStatus;
    const core = engine?.core ?? {
      id: this.#options.id,
      role: 'follower' as const,
      isLeader: false,
      leaderId: null,
      term: 0,
      highestTermSeen: 0,
      ready: false,
      canLead: false,
      cannotLead: 'not-ready' as const,
      healthy: this.#health.healthy,
      voterOnly: this.#options.voterOnly,
      noLeaderReason: null,
      leaseRemainingMs: 0,
      vote: null,
      peers: [],
      broadcast: {
        inFlight: 0,
        inFlightBytes: 0,
        committedIndex: 0,
        fenceTerm: 0,
        lastDelivered: null,
        refusedStale: 0,
        gaps: 0,
      },
    };
    const state =
      this.#state === 'new' || this.#state === 'starting' ? 'new' : this.#state === 'running' ? 'running' : 'stopped';
    return {
      ...core,
      // What this facade says is what the application acts on; the engine's view may be ahead of the events.
      isLeader: this.isLeader,
      leaderId: this.leaderId,
      state,
      thread: this.#options.thread,
      address: this.#address,
      clusterSize: this.#options.clusterSize,
      badMessages: engine?.badMessages ?? 0,
      transitions: this.#transitions,
      transport: engine?.transport ?? null,
      health: this.#health.status(),
    };
  }

  /**
   * Leaves the cluster gracefully: a leader steps down and releases its votes first, so the next node takes over
   * within a round trip instead of waiting for the lease to run out. Resolves when every socket is closed and the
   * worker thread (if any) has ended. Called while {@link start} is in progress, it waits for it (which then
   * rejects with an {@link AbortError}) and stops what it started. Every call resolves only once the node is stopped.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'starting') {
      this.#stopRequested = true;
      await this.#starting?.catch(() => {});
    }
    this.#health.stop();
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      this.#rejectWaiters();
      return;
    }
    this.#state = 'stopping';
    await this.#halt();
    this.#failAppends('stopped');
    this.#state = 'stopped';
    this.#rejectWaiters();
    log('node %d stopped', this.#options.id);
  }

  /** Asks the engine to stop, waits for its `stopped` (bounded), then frees its thread. */
  async #halt(): Promise<void> {
    const host = this.#host;
    clearInterval(this.#beat);
    this.#beat = undefined;
    if (host === undefined) return;
    if (!this.#failed) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#stoppedWaiter = resolve;
        timer = setTimeout(resolve, STOP_TIMEOUT_MS);
        host.send({ type: 'stop' });
      });
      clearTimeout(timer);
      this.#stoppedWaiter = undefined;
    }
    await host.close();
  }

  /**
   * The worker threw or exited. The node must never keep leading by accident: `isLeader` is false from now on,
   * `lostLeadership` (`'failed'`) and `error` are emitted, and the node is stopped (its sockets died with the thread).
   */
  #engineFailed(cause: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    const term = this.#leading;
    this.#leading = null;
    this.#health.stop();
    if (term !== null) this.#endLeadership('failed');
    const error = new EngineError(`the election engine failed: ${cause.message}`, { cause });
    log('node %d: %s', this.#options.id, error.message);
    this.#startWaiter?.reject(error);
    this.#stoppedWaiter?.();
    this.#failAppends('lost its election engine');
    clearInterval(this.#beat);
    this.#beat = undefined;
    // Whatever the node was doing (running, or stopping before the engine could say so), a leadership it announced
    // ends here, so events stay paired.
    if (term !== null) {
      this.#transitions++;
      this.#endLeadership('failed');
      this.#emitSafely('lostLeadership', { term, reason: 'failed', endedMsAgo: 0 });
    }
    // Starting: start() rejects with the error. Stopping: stop() goes on and frees the thread.
    if (this.#state === 'starting') return;
    if (this.#state === 'running') {
      this.#state = 'stopped';
      void this.#host?.close();
    }
    if (this.#reportedLeader !== null) {
      this.#reportedLeader = null;
      this.#emitSafely('leaderChange', null, { term: this.term });
    }
    this.#emitSafely('error', error);
    this.#rejectWaiters();
  }

  #rejectWaiters(): void {
    for (const waiter of [...this.#stopWaiters]) waiter();
  }

  /** Aborts the ended leadership's signal (an abort listener that throws is reported by Node, not thrown here). */
  #endLeadership(reason: LostLeadershipReason): void {
    const controller = this.#leadership;
    this.#leadership = undefined;
    controller?.abort(new AbortError(`leadership ended: ${reason}`));
  }

  /**
   * Emits to user listeners without letting a throwing listener corrupt the node: the node's state is already
   * consistent, and the exception is rethrown on the next tick, where Node reports it as it would any other.
   */
  #emitSafely<E extends keyof ElectionNodeEvents>(event: E, ...args: Parameters<ElectionNodeEvents[E]>): void {
    try {
      (this.emit as (event: E, ...args: Parameters<ElectionNodeEvents[E]>) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

export type { BroadcastOptions, ElectionNodeOptions, TransportTuning } from './options.ts';
