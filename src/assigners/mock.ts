import { EventEmitter } from 'eventemitter3';
import { AbortError, AssignerError, ConfigError } from '../errors.ts';
import { checkInt, checkKnownKeys, checkObject } from '../util/validate.ts';
import { type WaitOptions, waitUntil } from '../util/wait.ts';
import {
  type AssignOptions,
  type FloatingIpAssigner,
  type HolderId,
  type HolderOptions,
  sameHolder,
  TermFence,
} from './floating-ip-assigner.ts';
import { sleep, throwIfAborted } from './timing.ts';

// Keeps the holder's setter off the public type: only mocks (this module) assign. Set by a static block, which
// alone can reach the private method.
let setHolder: (ip: SimulatedFloatingIp, holder: HolderId | null, term: number | undefined, by: 'assign') => void;

/** One change of a {@link SimulatedFloatingIp}'s holder. */
export interface SimulatedIpChange {
  /** `performance.now()` of the change. */
  at: number;
  /** The new holder (null: unassigned). */
  holder: HolderId | null;
  /** The assign's term; undefined for {@link SimulatedFloatingIp.move} and term-less assigns. */
  term: number | undefined;
  /** `assign`: by a mock assigner; `move`: by the test, as a person in a control panel would. */
  by: 'assign' | 'move';
}

/** Events of {@link SimulatedFloatingIp}. */
export interface SimulatedFloatingIpEvents {
  /** The holder changed (an assign or a `move`). */
  change: (change: SimulatedIpChange) => void;
}

/**
 * An in-memory floating IP that several {@link MockFloatingIpAssigner}s share, so a test can ask who holds it
 * (and see every change in `history`).
 */
export class SimulatedFloatingIp extends EventEmitter<SimulatedFloatingIpEvents> {
  /** Every change, oldest first. */
  readonly history: SimulatedIpChange[] = [];
  #holder: HolderId | null;

  constructor(initialHolder: HolderId | null = null) {
    super();
    this.#holder = initialHolder;
  }

  /** Who holds it now. */
  get holder(): HolderId | null {
    return this.#holder;
  }

  /** Moves it at once, bypassing every assigner (a person in the control panel, another tool). */
  move(holder: HolderId | null): void {
    this.#set(holder, undefined, 'move');
  }

  /**
   * Resolves once `holder` holds it (at once if it already does). Rejects with a `WaitTimeoutError` after
   * `timeoutMs` (default 10 s), or an `AbortError` when `signal` aborts. The second argument may also be just a
   * signal.
   */
  waitForHolder(holder: HolderId | null, options: WaitOptions | AbortSignal = {}): Promise<void> {
    const o = options instanceof AbortSignal ? { signal: options } : options;
    const held = (h: HolderId | null): boolean => (holder === null ? h === null : sameHolder(h, holder));
    return waitUntil<void>(
      (done) => {
        if (held(this.#holder)) done();
        const onChange = (change: SimulatedIpChange): void => {
          if (held(change.holder)) done();
        };
        this.on('change', onChange);
        return () => this.off('change', onChange);
      },
      () => `the IP to be on ${String(holder)} (it is on ${String(this.#holder)})`,
      o,
    );
  }

  static {
    setHolder = (ip, holder, term, by) => ip.#set(holder, term, by);
  }

  // Only changes are recorded: an assign to the current holder is a no-op, as with a real provider.
  #set(holder: HolderId | null, term: number | undefined, by: 'assign' | 'move'): void {
    if (holder === this.#holder) return;
    this.#holder = holder;
    const change: SimulatedIpChange = { at: performance.now(), holder, term, by };
    this.history.push(change);
    this.emit('change', change);
  }
}

/** One recorded call of a {@link MockFloatingIpAssigner}. */
export interface MockAssignerCall {
  /** Which method was called. */
  method: 'assign' | 'holder';
  /** The term passed to `assign` (undefined for `holder` or when none was passed). */
  term: number | undefined;
  /** `performance.now()` when the call started. */
  startedAt: number;
  /** `performance.now()` when it settled; undefined while pending. */
  endedAt: number | undefined;
  /** `pending` until it settles; then `ok`, `failed` (an injected failure, a stale term) or `aborted`. */
  outcome: 'pending' | 'ok' | 'failed' | 'aborted';
  /** The rejection, when `outcome` is `failed` or `aborted`. */
  error: unknown;
}

/** Builds an injected failure: an error, or a function of the call. */
export type MockFailure = Error | ((call: MockAssignerCall) => Error);

/** Options of {@link MockFloatingIpAssigner}. */
export interface MockAssignerOptions {
  /** This machine's ID: what `self()` returns and what `assign()` writes into the IP. */
  id: HolderId;
  /** The IP to share with other mocks. Default: a fresh, unassigned one. */
  ip?: SimulatedFloatingIp | undefined;
  /** How long `assign()` takes. Default 0 (resolves on a later tick). */
  latencyMs?: number | undefined;
  /** How long `holder()` takes. Default 0. */
  holderLatencyMs?: number | undefined;
  /**
   * Called for every call after its latency, before its effect; throwing (or rejecting) fails the call with
   * that error. Lets a test pause a call, fail it conditionally, or move the IP mid-call. Default: none.
   */
  hook?: ((call: MockAssignerCall) => void | Promise<void>) | undefined;
}

/** Events of {@link MockFloatingIpAssigner}. */
export interface MockAssignerEvents {
  /** A call started. */
  call: (call: MockAssignerCall) => void;
  /** A call ended (see `call.outcome`). */
  settled: (call: MockAssignerCall) => void;
}

const MOCK_KEYS = ['id', 'ip', 'latencyMs', 'holderLatencyMs', 'hook'] as const;

/**
 * A {@link FloatingIpAssigner} for tests: records every call (with its term and timings), simulates latency,
 * injects failures, honours `AbortSignal`, and fences terms like a real assigner (a lower term than one already
 * seen is refused with `StaleTermError`). Several mocks can share one {@link SimulatedFloatingIp}.
 */
export class MockFloatingIpAssigner extends EventEmitter<MockAssignerEvents> implements FloatingIpAssigner {
  /** This mock's machine: what `self()` returns and where `assign` puts the IP. */
  readonly id: HolderId;
  /** The simulated IP it moves (shared with other mocks, or its own). */
  readonly ip: SimulatedFloatingIp;
  /** Every call, oldest first. */
  readonly calls: MockAssignerCall[] = [];
  /** How long each `assign` takes, ms (changeable during a test). */
  latencyMs: number;
  /** How long each `holder` read takes, ms. */
  holderLatencyMs: number;
  /** Runs inside every `assign` after the latency, before the IP moves: hold a call open, inspect it. */
  hook: ((call: MockAssignerCall) => void | Promise<void>) | undefined;
  readonly #fence = new TermFence();
  readonly #failNext: MockFailure[] = [];
  #failAlways: MockFailure | undefined;

  constructor(options: MockAssignerOptions) {
    super();
    const o = checkObject(options, 'options');
    checkKnownKeys(o, MOCK_KEYS);
    if (typeof o.id !== 'string' && typeof o.id !== 'number')
      throw new ConfigError('id', 'expected a string or number');
    if (o.ip !== undefined && !(o.ip instanceof SimulatedFloatingIp)) {
      throw new ConfigError('ip', 'expected a SimulatedFloatingIp');
    }
    if (o.hook !== undefined && typeof o.hook !== 'function') throw new ConfigError('hook', 'expected a function');
    this.id = o.id;
    this.ip = (o.ip as SimulatedFloatingIp | undefined) ?? new SimulatedFloatingIp();
    this.latencyMs = checkInt(o.latencyMs ?? 0, 'latencyMs', 0);
    this.holderLatencyMs = checkInt(o.holderLatencyMs ?? 0, 'holderLatencyMs', 0);
    this.hook = o.hook as MockAssignerOptions['hook'];
  }

  /** The next `count` assigns fail with `failure` (default: a retryable `AssignerError` `ERR_MOCK_FAILURE`). */
  failNext(count = 1, failure?: MockFailure): void {
    checkInt(count, 'count', 0);
    for (let i = 0; i < count; i++) this.#failNext.push(failure ?? defaultFailure);
  }

  /** Every assign fails with `failure` until called with `undefined`. */
  failWith(failure: MockFailure | undefined): void {
    this.#failAlways = failure;
  }

  /** Calls of one method. */
  callsOf(method: 'assign' | 'holder'): MockAssignerCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /**
   * Resolves with the first call (past or future) that `match` accepts, once it has settled. Rejects with a
   * `WaitTimeoutError` after `timeoutMs` (default 10 s), or an `AbortError` when `signal` aborts.
   */
  waitForSettled(
    match: (call: MockAssignerCall) => boolean = () => true,
    options: WaitOptions = {},
  ): Promise<MockAssignerCall> {
    return waitUntil<MockAssignerCall>(
      (done) => {
        const past = this.calls.find((c) => c.outcome !== 'pending' && match(c));
        if (past !== undefined) done(past);
        const onSettled = (call: MockAssignerCall): void => {
          if (match(call)) done(call);
        };
        this.on('settled', onSettled);
        return () => this.off('settled', onSettled);
      },
      () => `a matching settled call of ${String(this.id)} (${this.calls.length} calls so far)`,
      options,
    );
  }

  async assign(options: AssignOptions = {}): Promise<void> {
    const { signal, term } = options;
    const call = this.#start('assign', term);
    return this.#run(call, async () => {
      this.#fence.admit(term);
      throwIfAborted(signal);
      await sleep(this.latencyMs, signal);
      this.#fence.check(term);
      await this.hook?.(call);
      throwIfAborted(signal);
      if (options.stillLeader?.() === false) throw new AbortError('leadership ended: the IP is not moved');
      const failure = this.#failNext.shift() ?? this.#failAlways;
      if (failure !== undefined) throw typeof failure === 'function' ? failure(call) : failure;
      setHolder(this.ip, this.id, term, 'assign');
    });
  }

  async holder(options: HolderOptions = {}): Promise<HolderId | null> {
    const call = this.#start('holder', undefined);
    return this.#run(call, async () => {
      throwIfAborted(options.signal);
      await sleep(this.holderLatencyMs, options.signal);
      await this.hook?.(call);
      throwIfAborted(options.signal);
      return this.ip.holder;
    });
  }

  async self(): Promise<HolderId> {
    return this.id;
  }

  #start(method: 'assign' | 'holder', term: number | undefined): MockAssignerCall {
    const call: MockAssignerCall = {
      method,
      term,
      startedAt: performance.now(),
      endedAt: undefined,
      outcome: 'pending',
      error: undefined,
    };
    this.calls.push(call);
    this.emit('call', call);
    return call;
  }

  async #run<T>(call: MockAssignerCall, body: () => Promise<T>): Promise<T> {
    try {
      const result = await body();
      call.outcome = 'ok';
      return result;
    } catch (error) {
      call.outcome = error instanceof AbortError ? 'aborted' : 'failed';
      call.error = error;
      throw error;
    } finally {
      call.endedAt = performance.now();
      this.emit('settled', call);
    }
  }
}

function defaultFailure(): AssignerError {
  return new AssignerError('ERR_MOCK_FAILURE', 'injected failure', { retryable: true });
}
