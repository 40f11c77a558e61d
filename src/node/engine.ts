/**
 * The election engine: the protocol core, the TCP transport, the wake-up timer and the state file, driven through
 * {@link applyEffects}. It runs on the main thread (`thread: 'main'`) or alone on a worker thread (`'worker'`,
 * see engine-worker.ts), and talks to the `ElectionNode` facade only through the typed messages of
 * engine-protocol.ts and the {@link SharedView}. Its clock is the host-wide monotonic clock, shared by all threads.
 * @module
 */
import { randomInt } from 'node:crypto';
import { CodecError, decodeMessage, encodeMessage } from '../core/codec.ts';
import type { CoreEvent, Effects, Outgoing } from '../core/election-core.ts';
import { ElectionCore } from '../core/election-core.ts';
import type { Message } from '../core/messages.ts';
import type { PersistedState } from '../core/voter.ts';
import { StateError } from '../errors.ts';
import { TcpTransport } from '../transport/tcp-transport.ts';
import type { Endpoint } from '../util/address.ts';
import { formatEndpoint } from '../util/address.ts';
import { logger } from '../util/log.ts';
import { monotonicMs } from '../util/monotonic.ts';
import { applyEffects } from './apply-effects.ts';
import {
  type EngineCommands,
  type EngineEvents,
  type EngineStatus,
  type Envelope,
  type Handlers,
  serializeError,
} from './engine-protocol.ts';
import { type ResolvedOptions, transportOptionsFor } from './options.ts';
import type { SharedView } from './shared-view.ts';
import { StateFile } from './state-file.ts';

const log = logger('node');
/**
 * Every protocol message in and out, stamped with the host-wide monotonic time the core saw, for tracing an
 * election across processes (`DEBUG=leader-ip:wire`). Heartbeats are left out: they are most of the traffic.
 */
const wireLog = logger('wire');

const tick = (core: ElectionCore, now: number): Effects => core.tick(now);

export class Engine {
  readonly #options: ResolvedOptions;
  readonly #view: SharedView;
  readonly #post: (event: Envelope<EngineEvents>) => void;
  /** Worker mode: watch the main thread's heartbeat and stand down while it is stalled (`maxStallMs`). */
  readonly #watchMain: boolean;
  readonly #stateFile: StateFile | undefined;
  readonly #peers: Endpoint[];
  #core: ElectionCore | undefined;
  #transport: TcpTransport | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed #timer is due (monotonic ms): an unchanged deadline is not re-armed. */
  #timerAt = Number.NaN;
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  #badMessages = 0;
  #persistFailing = false;
  #stalled = false;
  /** The latest health verdict from the main thread (the health monitor runs there, beside the application). */
  #healthy: boolean;

  /** The command table: one handler per {@link EngineCommands} entry. */
  readonly commands: Handlers<EngineCommands> = {
    addPeer: ({ endpoint }) => {
      this.#peers.push(endpoint);
      this.#transport?.addPeer(endpoint);
    },
    stop: () => void this.stop(),
    append: ({ requestId, data }) => {
      // A node that is not running refuses like a follower: nothing can be sent.
      if (this.#core === undefined || this.#state !== 'running') {
        this.#post({ type: 'appendRefused', requestId, reason: 'notLeader', message: 'this node is not running' });
      } else this.#drive((core, now) => core.append(requestId, data, now));
    },
    confirm: ({ term, index }) => this.#drive((core, now) => core.confirmAppend(term, index, now)),
    setHealthy: ({ healthy }) => {
      if (healthy === this.#healthy) return;
      this.#healthy = healthy;
      log('node %d: %s', this.#options.id, healthy ? 'healthy: may lead' : 'unhealthy: standing down, not campaigning');
      this.#drive((core, now) => core.setHealthy(healthy, now));
    },
    crash: ({ message }) => {
      throw new Error(message);
    },
  };

  constructor(
    options: ResolvedOptions,
    view: SharedView,
    post: (event: Envelope<EngineEvents>) => void,
    watchMain: boolean,
  ) {
    this.#options = options;
    this.#view = view;
    this.#post = post;
    this.#watchMain = watchMain;
    this.#peers = [...options.peers];
    this.#healthy = options.healthy;
    this.#stateFile = options.stateDir === undefined ? undefined : new StateFile(options.stateDir, options.id);
  }

  /** Loads the state file, listens, and joins the cluster; posts `started` or `startFailed`. Never rejects. */
  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'starting';
    const o = this.#options;
    let transport: TcpTransport | undefined;
    let address: Endpoint;
    try {
      const persisted = this.#stateFile?.load();
      transport = new TcpTransport(transportOptionsFor(o));
      address = await transport.start();
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
          broadcast: o.broadcast,
          voterOnly: o.voterOnly,
          preempt: o.preempt,
          preemptDelayMs: o.preemptDelayMs,
        },
        persisted,
      );
      // Before start: sets the verdict the core starts from (it yields no effects while not started).
      this.#core.setHealthy(this.#healthy, monotonicMs());
    } catch (error) {
      this.#state = 'stopped';
      await transport?.stop();
      this.#post({ type: 'startFailed', error: serializeError(error) });
      return;
    }
    transport.on('peerUp', (peerId) => this.#drive((core, now) => core.peerConnected(peerId, now)));
    transport.on('peerDown', (peerId) => this.#drive((core, now) => core.peerDisconnected(peerId, now)));
    transport.on('message', (peerId, payload) => this.#onPayload(peerId, payload));
    // Connection-level problems are informational: the node keeps running (docs/getting-started.md#events).
    transport.on('error', (error) => this.#post({ type: 'warning', error: serializeError(error) }));
    this.#state = 'running';
    log('node %d listening on %s (cluster size %d)', o.id, formatEndpoint(address), o.clusterSize);
    this.#post({ type: 'started', address });
    this.#drive((core, now) => core.start(now));
    for (const peer of this.#peers) transport.addPeer(peer);
  }

  /** Steps down and releases (a leader), tells peers, closes every socket; posts `stopped`. */
  async stop(): Promise<void> {
    if (this.#state === 'running') {
      this.#drive((core, now) => core.stop(now));
      this.#state = 'stopped';
      clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#transport?.stop();
      log('node %d stopped', this.#options.id);
    }
    this.#state = 'stopped';
    this.#post({ type: 'stopped', status: this.status() });
  }

  /** The engine's part of `status()`. */
  status(): EngineStatus {
    return {
      core: this.#core?.status(monotonicMs()) ?? null,
      badMessages: this.#badMessages,
      transport: this.#transport?.stats() ?? null,
    };
  }

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
    this.#drive((core, now) => {
      if (wireLog.enabled && message.type !== 'heartbeat') {
        wireLog('%s node %d <- %d %j', now.toFixed(3), this.#options.id, peerId, traceable(message));
      }
      return core.receive(peerId, message, now);
    });
  }

  /**
   * Runs one core step at the current time and applies its effects with {@link applyEffects}; what it sends leaves
   * in one write per peer when it returns (the transport's batch).
   */
  #drive(step: (core: ElectionCore, now: number) => Effects): void {
    const core = this.#core;
    const transport = this.#transport;
    if (core === undefined || transport === undefined || this.#state !== 'running') return;
    transport.batch(() => this.#step(core, step));
  }

  #step(core: ElectionCore, step: (core: ElectionCore, now: number) => Effects): void {
    // The clock is read before the step, so every lease counts from no later than the real send time.
    const now = monotonicMs();
    if (this.#watchMain) {
      const stalled = now - this.#view.lastBeat() > this.#options.maxStallMs;
      if (stalled !== this.#stalled) {
        this.#stalled = stalled;
        log('node %d: main thread %s', this.#options.id, stalled ? 'stalled: standing down' : 'runs again');
        this.#apply(core, core.setStalled(stalled, now), now);
      }
    }
    this.#apply(core, step(core, now), now);
  }

  #apply(core: ElectionCore, effects: Effects, now: number): void {
    applyEffects(core, effects, now, {
      persist: (state) => this.#persist(state),
      publish: (at) => this.#view.publish(core.view(at)),
      emit: (event) => this.#emit(event, now),
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
        const message = `cannot write state file (no vote is given until it can): ${(error as Error).message}`;
        this.#post({ type: 'error', error: serializeError(new StateError(message)) });
      }
      return false;
    }
  }

  #emit(event: CoreEvent, now: number): void {
    switch (event.type) {
      case 'gained':
        log('node %d gained leadership, term %d', this.#options.id, event.term);
        this.#post({ type: 'gained', term: event.term, beganAt: now });
        break;
      case 'lost':
        log('node %d lost leadership (%s), term %d', this.#options.id, event.reason, event.term);
        this.#post({ type: 'lost', term: event.term, reason: event.reason, endedAt: event.lapsedAt ?? now });
        break;
      case 'leader':
        log('node %d: leader is now %s', this.#options.id, event.leaderId);
        this.#post({ type: 'leader', leaderId: event.leaderId, term: event.term });
        break;
      case 'append-accepted':
        this.#post({ type: 'appendAccepted', requestId: event.requestId, term: event.term, index: event.index });
        break;
      case 'append-refused':
        this.#post({ type: 'appendRefused', requestId: event.requestId, reason: event.reason, message: event.message });
        break;
      case 'append-failed':
        this.#post({ type: 'appendFailed', term: event.term, index: event.index });
        break;
      case 'committed':
        this.#post({ type: 'committed', term: event.term, index: event.index });
        break;
      case 'delivered':
        this.#post({
          type: 'delivered',
          term: event.term,
          index: event.index,
          data: event.data,
          catchUp: event.catchUp,
          leaderId: event.leaderId,
        });
        break;
    }
  }

  #send(messages: readonly Outgoing[]): void {
    const transport = this.#transport;
    if (transport === undefined) return;
    // A broadcast is one message object sent to every peer, in a row: encode it once.
    let last: Message | undefined;
    let bytes: Uint8Array | undefined;
    for (const out of messages) {
      if (out.message !== last) {
        last = out.message;
        bytes = encodeMessage(last);
      }
      transport.send(out.to, bytes!);
      if (wireLog.enabled && out.message.type !== 'heartbeat') {
        wireLog('%s node %d -> %d %j', monotonicMs().toFixed(3), this.#options.id, out.to, traceable(out.message));
      }
    }
  }

  /**
   * Keeps one timer armed at the core's next deadline. Most inputs leave that deadline as it was (the next
   * heartbeat): the armed timer is then kept, not cleared and set again, and no timer fires without work to do.
   */
  #arm(wakeAt: number): void {
    let wake = this.#state === 'running' ? wakeAt : Number.POSITIVE_INFINITY;
    // A stall must be noticed when it passes the bound, not at the next protocol wake-up (heartbeats may be slow).
    if (this.#watchMain && !this.#stalled) wake = Math.min(wake, this.#view.lastBeat() + this.#options.maxStallMs + 1);
    if (this.#timer !== undefined && wake === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.NaN;
    if (this.#state !== 'running' || !Number.isFinite(wake)) return;
    // Timers fire late under load; the core checks everything against the time it is actually called.
    const delay = Math.max(0, Math.ceil(wake - monotonicMs()));
    this.#timerAt = wake;
    this.#timer = setTimeout(this.#onTimer, delay);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.NaN;
    this.#drive(tick);
  };
}

/** A message for the wire trace: entry data is summarised by its length. */
function traceable(message: Message): unknown {
  return 'data' in message ? { ...message, data: message.data.length } : message;
}
