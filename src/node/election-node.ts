import { randomInt } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { CodecError, decodeMessage, encodeMessage } from '../core/codec.ts';
import type { CoreEvent, CoreStatus, Effects, Outgoing } from '../core/election-core.ts';
import { ElectionCore } from '../core/election-core.ts';
import type { Message } from '../core/messages.ts';
import type { PersistedState } from '../core/voter.ts';
import { AbortError, ConfigError, StateError } from '../errors.ts';
import { TcpTransport } from '../transport/tcp-transport.ts';
import type { TcpTransportStats } from '../transport/types.ts';
import type { Endpoint } from '../util/address.ts';
import { formatEndpoint } from '../util/address.ts';
import { logger } from '../util/log.ts';
import { applyEffects } from './apply-effects.ts';
import type { ElectionNodeEvents } from './events.ts';
import {
  checkNewPeer,
  type ElectionNodeOptions,
  type ResolvedOptions,
  resolveOptions,
  transportOptionsFor,
} from './options.ts';
import { StateFile } from './state-file.ts';

const log = logger('node');

/** A plain, JSON-serialisable snapshot returned by {@link ElectionNode.status}. */
export interface ElectionNodeStatus extends CoreStatus {
  state: 'new' | 'running' | 'stopped';
  address: Endpoint | null;
  clusterSize: number;
  /** Authenticated frames whose payload was not a valid protocol message (counted and dropped). */
  badMessages: number;
  /** Leadership changes of this node since start: gained plus lost. */
  transitions: number;
  transport: TcpTransportStats | null;
}

/**
 * One member of a leader-ip cluster: elects a leader among a fixed set of peers over TCP, safely (never two
 * leaders at once, thanks to vote-leases and fencing terms) and quickly (a new leader about one lease after a
 * crash; a round trip after a graceful {@link stop}).
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
 * (informational; the node keeps running; eventemitter3 does not throw when nobody listens to `error`).
 */
export class ElectionNode extends EventEmitter<ElectionNodeEvents> {
  readonly #options: ResolvedOptions;
  readonly #peers: Endpoint[];
  readonly #stateFile: StateFile | undefined;
  #core: ElectionCore | undefined;
  #transport: TcpTransport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #address: Endpoint | null = null;
  #badMessages = 0;
  #transitions = 0;
  #persistFailing = false;
  #starting: Promise<void> | undefined;
  #stopRequested = false;
  #stopped: Promise<void> | undefined;

  /** Validates `options` at once: throws a {@link ConfigError} naming the first invalid field. */
  constructor(options: ElectionNodeOptions) {
    super();
    this.#options = resolveOptions(options);
    this.#peers = [...this.#options.peers];
    this.#stateFile =
      this.#options.stateDir === undefined ? undefined : new StateFile(this.#options.stateDir, this.#options.id);
  }

  /** This node's ID. */
  get id(): number {
    return this.#options.id;
  }

  /** The bound listen address once started (useful with port 0), else null. */
  get address(): Endpoint | null {
    return this.#address;
  }

  /** Whether this node leads right now, judged against its lease at the moment of reading. */
  get isLeader(): boolean {
    return this.#core?.isLeaderAt(performance.now()) ?? false;
  }

  /** The leader as this node sees it (possibly itself), or null. */
  get leaderId(): number | null {
    return this.#core?.leaderAt(performance.now()) ?? null;
  }

  /** Fencing term of the current (or last known) leadership; 0 before any. */
  get term(): number {
    return this.#core?.term ?? 0;
  }

  /**
   * Starts listening and joins the cluster. Resolves once listening. The node grants no vote and does not
   * campaign for one lease after start (a restarted node must not contradict votes it may have granted before).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new StateError(`start() called on a node that is ${this.#state}`);
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    let transport: TcpTransport | undefined;
    try {
      const persisted = this.#stateFile?.load();
      const o = this.#options;
      transport = new TcpTransport(transportOptionsFor(o));
      this.#address = await transport.start();
      // stop() was called while listening: it waits for this, and nothing may run after it resolves.
      if (this.#stopRequested) throw new AbortError('stop() was called before start() completed');
      this.#transport = transport;
      this.#core = new ElectionCore(
        {
          id: o.id,
          clusterSize: o.clusterSize,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          leaseMs: o.leaseMs,
          peerTimeoutMs: o.peerTimeoutMs,
          maxDriftRate: o.maxDriftRate,
          incarnation: randomInt(1, 0xffffffff),
        },
        persisted,
      );
      transport.on('peerUp', (peerId) => this.#drive((core, now) => core.peerConnected(peerId, now)));
      transport.on('peerDown', (peerId) => this.#drive((core, now) => core.peerDisconnected(peerId, now)));
      transport.on('message', (peerId, payload) => this.#onPayload(peerId, payload));
      transport.on('error', (error) => this.#emitSafely('error', error));
      this.#state = 'running';
      log('node %d listening on %s (cluster size %d)', o.id, formatEndpoint(this.#address), o.clusterSize);
      this.#drive((core, now) => core.start(now));
      for (const peer of this.#peers) transport.addPeer(peer);
    } catch (error) {
      this.#state = 'stopped';
      await transport?.stop();
      throw error;
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
    this.#transport?.addPeer(endpoint);
  }

  /** A plain, JSON-serialisable snapshot: role, term, lease, vote, each peer's view, transport counters. */
  status(): ElectionNodeStatus {
    const now = performance.now();
    const core = this.#core?.status(now) ?? {
      id: this.#options.id,
      role: 'follower' as const,
      isLeader: false,
      leaderId: null,
      term: 0,
      highestTermSeen: 0,
      ready: false,
      canLead: false,
      leaseRemainingMs: 0,
      vote: null,
      peers: [],
    };
    const state =
      this.#state === 'new' || this.#state === 'starting' ? 'new' : this.#state === 'running' ? 'running' : 'stopped';
    return {
      ...core,
      state,
      address: this.#address,
      clusterSize: this.#options.clusterSize,
      badMessages: this.#badMessages,
      transitions: this.#transitions,
      transport: this.#transport?.stats() ?? null,
    };
  }

  /**
   * Leaves the cluster gracefully: a leader steps down and releases its votes first, so the next node takes over
   * within a round trip instead of waiting for the lease to run out. Resolves when every socket is closed.
   */
  stop(): Promise<void> {
    // Every caller waits for the same stop: after any stop() resolves, the node is stopped.
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'starting') {
      // Wait for start() to settle (it rejects with an AbortError), then stop whatever it started.
      this.#stopRequested = true;
      await this.#starting?.catch(() => {});
    }
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#drive((core, now) => core.stop(now));
    this.#state = 'stopping';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#transport?.stop();
    this.#state = 'stopped';
    log('node %d stopped', this.#options.id);
  }

  // ---------------------------------------------------------------------------------------------------------

  #onPayload(peerId: number, payload: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.#badMessages++;
      log('node %d: bad message from %d: %s', this.#options.id, peerId, error.message);
      return;
    }
    this.#drive((core, now) => core.receive(peerId, message, now));
  }

  /** Runs one core step at the current time and applies its effects with {@link applyEffects}. */
  #drive(step: (core: ElectionCore, now: number) => Effects): void {
    const core = this.#core;
    if (core === undefined || this.#state !== 'running') return;
    // The clock is read before the step, so every lease counts from no later than the real send time.
    const now = performance.now();
    applyEffects(core, step(core, now), now, {
      persist: (state) => this.#persist(state),
      publish: () => {},
      emit: (event) => this.#emitEvent(event, now),
      send: (messages) => this.#send(messages),
      arm: (wakeAt) => this.#arm(wakeAt),
    });
  }

  /** Writes the state file; a failure is reported once per run of failures (the core retries every round). */
  #persist(state: PersistedState): boolean {
    if (this.#stateFile === undefined) return true;
    try {
      this.#stateFile.save(state);
      this.#persistFailing = false;
      return true;
    } catch (error) {
      log('node %d: cannot persist state: %s', this.#options.id, (error as Error).message);
      if (!this.#persistFailing) {
        this.#persistFailing = true;
        this.#emitSafely(
          'error',
          new StateError(`cannot write state file (no vote is given until it can): ${(error as Error).message}`),
        );
      }
      return false;
    }
  }

  #emitEvent(event: CoreEvent, now: number): void {
    switch (event.type) {
      case 'gained':
        this.#transitions++;
        log('node %d gained leadership, term %d', this.#options.id, event.term);
        this.#emitSafely('gainedLeadership', { term: event.term });
        break;
      case 'lost':
        this.#transitions++;
        log('node %d lost leadership (%s), term %d', this.#options.id, event.reason, event.term);
        this.#emitSafely('lostLeadership', {
          term: event.term,
          reason: event.reason,
          endedMsAgo: performance.now() - (event.lapsedAt ?? now),
        });
        break;
      case 'leader':
        log('node %d: leader is now %s', this.#options.id, event.leaderId);
        this.#emitSafely('leaderChange', event.leaderId, { term: event.term });
        break;
    }
  }

  #send(messages: readonly Outgoing[]): void {
    const transport = this.#transport;
    if (transport === undefined) return;
    // A broadcast is one message object sent to every peer: encode it once.
    const encoded = new Map<Message, Uint8Array>();
    for (const out of messages) {
      let bytes = encoded.get(out.message);
      if (bytes === undefined) {
        bytes = encodeMessage(out.message);
        encoded.set(out.message, bytes);
      }
      transport.send(out.to, bytes);
    }
  }

  #arm(wakeAt: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state !== 'running' || !Number.isFinite(wakeAt)) return;
    // Timers fire late under load; the core checks everything against the time it is actually called.
    const delay = Math.max(0, Math.ceil(wakeAt - performance.now()));
    this.#timer = setTimeout(() => this.#drive((core, now) => core.tick(now)), delay);
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

export type { ElectionNodeOptions, TransportTuning } from './options.ts';
