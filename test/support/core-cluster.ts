import type { CoreConfig } from '../../src/core/config.ts';
import { type CoreEvent, type Effects, ElectionCore } from '../../src/core/election-core.ts';
import type { PersistedState } from '../../src/core/voter.ts';
import { applyEffects } from '../../src/node/apply-effects.ts';
import { EventQueue } from '../sim/event-queue.ts';

/**
 * What a core's call amounts to once its `persist` (if any) is written successfully: the effects of the call plus
 * those of `persistDone(true)`. For tests that drive one core by hand.
 */
export function persisting(core: ElectionCore, effects: Effects, now: number): Effects {
  if (effects.persist === null) return effects;
  const after = persisting(core, core.persistDone(true, now), now);
  return {
    persist: null,
    messages: [...effects.messages, ...after.messages],
    events: [...effects.events, ...after.events],
    wakeAt: after.wakeAt,
  };
}

/**
 * A scripted, fault-free cluster of cores for unit tests: one shared clock, a fixed link delay, and manual
 * control of crashes and stops. (The randomized fault simulator lives in test/sim.)
 */
export interface RecordedEvent {
  at: number;
  id: number;
  event: CoreEvent;
}

type Item =
  | { kind: 'wake'; id: number; token: number }
  | { kind: 'deliver'; from: number; to: number; msg: Parameters<ElectionCore['receive']>[1] };

export class CoreCluster {
  now = 0;
  readonly events: RecordedEvent[] = [];
  readonly cores = new Map<number, ElectionCore>();
  readonly durable = new Map<number, PersistedState>();
  private readonly queue = new EventQueue<Item>();
  private readonly tokens = new Map<number, number>();
  private incarnation = 1;
  /** Directed links that drop everything, as "from>to". */
  readonly cut = new Set<string>();
  /** Per-node settings beyond the timing (voterOnly, preempt, preemptDelayMs), applied at each (re)start. */
  readonly settings = new Map<number, Pick<CoreConfig, 'voterOnly' | 'preempt' | 'preemptDelayMs'>>();

  constructor(
    readonly ids: number[],
    readonly timing = { heartbeatIntervalMs: 100, leaseMs: 1000, peerTimeoutMs: 400, maxDriftRate: 0.01 },
    readonly delayMs = 1,
  ) {}

  config(id: number): CoreConfig {
    return {
      id,
      clusterSize: this.ids.length,
      ...this.timing,
      incarnation: this.incarnation++,
      ...this.settings.get(id),
    };
  }

  start(id: number, persisted?: PersistedState): ElectionCore {
    const core = new ElectionCore(this.config(id), persisted);
    this.cores.set(id, core);
    this.apply(id, core.start(this.now));
    for (const [peer, other] of this.cores) {
      if (peer === id) continue;
      this.apply(id, core.peerConnected(peer, this.now));
      this.apply(peer, other.peerConnected(id, this.now));
    }
    return core;
  }

  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  /** Tells node `id` its health verdict (what the engine does on a `setHealthy` command). */
  setHealthy(id: number, healthy: boolean): void {
    const core = this.cores.get(id);
    if (core) this.apply(id, core.setHealthy(healthy, this.now));
  }

  crash(id: number): void {
    this.cores.delete(id);
    for (const [peer, core] of this.cores) this.apply(peer, core.peerDisconnected(id, this.now));
  }

  stop(id: number): void {
    const core = this.cores.get(id);
    if (!core) return;
    this.apply(id, core.stop(this.now));
    this.cores.delete(id);
  }

  /** Runs the cluster until `now + ms`, processing every wake-up and delivery in time order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined) break;
      if (next.time > end) {
        this.queue.push(next.time, next.item);
        break;
      }
      this.now = next.time;
      const item = next.item;
      if (item.kind === 'wake') {
        const core = this.cores.get(item.id);
        if (core && this.tokens.get(item.id) === item.token) this.apply(item.id, core.tick(this.now));
      } else {
        const core = this.cores.get(item.to);
        if (core) this.apply(item.to, core.receive(item.from, item.msg, this.now));
      }
    }
    this.now = end;
  }

  /** Advances until `predicate` holds (checked after each step of `stepMs`), failing after `limitMs`. */
  advanceUntil(predicate: () => boolean, limitMs: number, stepMs = 1): number {
    const start = this.now;
    while (!predicate()) {
      if (this.now - start > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
      this.advance(stepMs);
    }
    return this.now - start;
  }

  /** Runs one input (an append, a confirm) on node `id` now, and applies its effects. */
  drive(id: number, input: (core: ElectionCore, now: number) => Effects): void {
    const core = this.cores.get(id);
    if (core) this.apply(id, input(core, this.now));
  }

  /** Reconnects `a` and `b` (after a crash-free link loss): both cores hear the link go down and come up. */
  relink(a: number, b: number): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      this.drive(x, (core, now) => core.peerDisconnected(y, now));
    }
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      this.drive(x, (core, now) => core.peerConnected(y, now));
    }
  }

  leaders(): number[] {
    return [...this.cores].filter(([, core]) => core.isLeaderAt(this.now)).map(([id]) => id);
  }

  eventsOf(id: number): CoreEvent[];
  eventsOf<T extends CoreEvent['type']>(id: number, type: T): Extract<CoreEvent, { type: T }>[];
  eventsOf(id: number, type?: CoreEvent['type']): CoreEvent[] {
    return this.events.filter((e) => e.id === id && (type === undefined || e.event.type === type)).map((e) => e.event);
  }

  private apply(id: number, effects: Effects): void {
    const core = this.cores.get(id);
    if (!core) return;
    applyEffects(core, effects, this.now, {
      persist: (state) => {
        this.durable.set(id, state);
        return true;
      },
      publish: () => {},
      send: (messages) => {
        for (const out of messages) {
          if (this.cut.has(`${id}>${out.to}`)) continue;
          this.queue.push(this.now + this.delayMs, { kind: 'deliver', from: id, to: out.to, msg: out.message });
        }
      },
      emit: (event) => {
        this.events.push({ at: this.now, id, event });
        if (event.type === 'gained' && this.leaders().length > 1) {
          throw new Error(`two leaders at ${this.now}: ${this.leaders().join(',')}`);
        }
      },
      arm: (wakeAt) => {
        if (!Number.isFinite(wakeAt)) return;
        const token = (this.tokens.get(id) ?? 0) + 1;
        this.tokens.set(id, token);
        this.queue.push(Math.max(this.now, wakeAt), { kind: 'wake', id, token });
      },
    });
  }
}
