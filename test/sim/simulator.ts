import { decodeMessage, encodeMessage } from '../../src/core/codec.ts';
import type { CoreConfig } from '../../src/core/config.ts';
import { type Effects, ElectionCore } from '../../src/core/election-core.ts';
import type { PersistedState } from '../../src/core/voter.ts';
import { applyEffects } from '../../src/node/apply-effects.ts';
import { BroadcastWorkload, type BrokenBroadcast } from './broadcast-workload.ts';
import { EventQueue } from './event-queue.ts';
import { Prng } from './prng.ts';

/**
 * Deterministic simulation of a cluster of {@link ElectionCore}s: virtual real time, one drifting monotonic clock
 * per process, an in-memory network that drops, delays, duplicates and reorders, partitions (symmetric and
 * one-way), crashes with restarts, and process pauses. Invariants are checked after every event; everything
 * random comes from one seed, so a failing seed replays exactly.
 */

export interface SimTiming {
  heartbeatIntervalMs: number;
  leaseMs: number;
  peerTimeoutMs: number;
  maxDriftRate: number;
}

export interface SimOptions {
  seed: number;
  /** Node IDs (any distinct positive integers). */
  ids: number[];
  timing: SimTiming;
  /** Whether nodes keep their persisted state across restarts (the `stateDir` option). */
  persistence: boolean;
  /** Length of the phase with faults, ms of real time. */
  faultMs: number;
  /** Length of the stable phase after every fault heals, ms. */
  stableMs: number;
  /** Mean time between fault injections. */
  faultEveryMs: number;
  /** Nodes left crashed for good at the start of the stable phase (a minority, so a leader must appear). */
  permanentlyDown: number;
  /**
   * How fast clocks really drift; defaults to `timing.maxDriftRate`, the bound the nodes are told. Set it higher
   * to check that the invariant checker catches a cluster whose assumptions are broken.
   */
  actualDriftRate?: number;
  /**
   * Inject exactly these faults (at their `at`, ms from the start) instead of random ones; `faultEveryMs` is then
   * unused. Commands at or after `faultMs` are ignored: the stable phase is stable. Everything else (message
   * delays within the configured rates, timer lateness, clock rates) still comes from `seed`.
   */
  schedule?: readonly FaultCommand[];
  /** Probability that writing the persisted state fails (a full or read-only disk). Default 0. */
  persistFailRate?: number;
  /**
   * Negative control: apply effects the way the node did before persist failures were fed back to the core (the
   * core counts the vote anyway; that call's events are dropped). The pairing invariant must catch it.
   */
  brokenPersistFailure?: boolean;
  /** Negative control: a stall is not told to the core (no `maxStallMs`). The stall invariant must catch it. */
  brokenStall?: boolean;
  /** Witnesses (`voterOnly`): they vote and never lead. */
  voterOnly?: readonly number[];
  /** Every node's `preempt` setting (default true). */
  preempt?: boolean;
  /** Every node's `preemptDelayMs` (default 0). */
  preemptDelayMs?: number;
  /**
   * What a partition or a one-way cut does to the messages it blocks. Default: they are lost (a reset connection).
   * `true`: they are held and delivered, in the order sent, when the partitions heal, as TCP does when packets are
   * dropped (nftables, a flapping link) but the connection survives: a burst of old messages right after a heal.
   */
  holdCutMessages?: boolean;
  /** Random health flips (a health check failing, then recovering) among the faults. */
  healthFlaps?: boolean;
  /**
   * Health changes during the stable phase, `at` ms after it starts (e.g. the lowest ID unhealthy at 0, healthy
   * again later: it must then take over, no sooner than `preemptDelayMs`; or, with `preempt: false`, not at all).
   */
  stableHealth?: readonly { id: number; healthy: boolean; at: number }[];
  /** Negative control: health changes are not told to the core. The health invariant must catch it. */
  brokenHealth?: boolean;
  /** Negative control: the core is not told it is voter-only. The witness invariant must catch it. */
  brokenVoterOnly?: boolean;
  /** Negative control: the core runs with the defaults (preempt, no delay). The preemption invariants must catch it. */
  brokenPreempt?: boolean;
  /**
   * Run the broadcast under the faults: whoever leads appends an entry about every this many ms, followers confirm
   * after random delays, and the broadcast invariants are checked (test/sim/broadcast-workload.ts). Default: off.
   */
  appendEveryMs?: number;
  /** Negative control: a broken broadcast variant, which the broadcast invariants must catch. */
  brokenBroadcast?: BrokenBroadcast;
}

/** One fault of an explicit schedule. Node IDs must be members of `ids`. */
export type FaultCommand =
  /** Splits the cluster: `side[i]` is the side of `ids[i]`; nodes on different sides cannot talk. */
  | { at: number; kind: 'partition'; sides: readonly number[]; forMs: number }
  /** Messages from `from` to `to` are lost, until the next heal. */
  | { at: number; kind: 'cut'; from: number; to: number }
  | { at: number; kind: 'crash'; id: number; restartAfterMs: number | null }
  | { at: number; kind: 'pause'; id: number; forMs: number }
  /** The node's application stalls (worker mode, past `maxStallMs`): its core is told, and told again at the end. */
  | { at: number; kind: 'stall'; id: number; forMs: number }
  /** The node's health verdict changes (its check crossed fall/rise, or setHealthy); told to its core. */
  | { at: number; kind: 'health'; id: number; healthy: boolean }
  | { at: number; kind: 'network'; dropRate: number; duplicateRate: number; longDelayRate: number }
  /** The transport reports the link between `a` and `b` down on both ends, then up again on one. */
  | { at: number; kind: 'flap'; a: number; b: number }
  /** Ends every partition and one-way cut. */
  | { at: number; kind: 'heal' };

export class InvariantViolation extends Error {}

/** Far above any sane run (~10k events per simulated second): more means a livelock in the core. */
const MAX_EVENTS = 2_000_000;

interface SimNode {
  readonly id: number;
  core: ElectionCore | null;
  /** Incremented on every crash and restart: stale events for an earlier process are ignored. */
  generation: number;
  bootAt: number;
  clockOffset: number;
  clockRate: number;
  pausedUntil: number;
  /** The node's application is stalled (its core was told so) until then. */
  stalledUntil: number;
  /** The health verdict its core was last given (the service's health: it survives restarts). */
  healthy: boolean;
  /**
   * A lower bound, in real time, on when the node last became able to lead: its restart wait ended, it turned
   * healthy, or its application ran again. Preemption must not come sooner than `preemptDelayMs` after it.
   */
  ableFrom: number;
  wakeToken: number;
  durable: PersistedState | undefined;
}

type SimEvent =
  | { kind: 'wake'; id: number; generation: number; token: number }
  | { kind: 'deliver'; from: number; to: number; generation: number; bytes: Uint8Array }
  | { kind: 'link'; id: number; peer: number; generation: number; up: boolean }
  | { kind: 'fault' }
  | { kind: 'command'; command: FaultCommand }
  | { kind: 'heal-partition'; epoch: number }
  | { kind: 'restart'; id: number; generation: number }
  | { kind: 'unstall'; id: number; generation: number }
  /** `stablePhase` false: a fault-phase flip, void once the network is stable. */
  | { kind: 'health'; id: number; healthy: boolean; stablePhase: boolean }
  | { kind: 'stabilize' }
  /** Broadcast workload (broadcast-workload.ts): an input for a node's core, or a plain callback. */
  | {
      kind: 'broadcast';
      id: number;
      generation: number | null;
      input: (core: ElectionCore, local: number) => Effects;
    }
  | { kind: 'later'; run: () => void };

export interface Leadership {
  id: number;
  term: number;
  from: number;
  to: number | null;
}

export interface SimResult {
  seed: number;
  leaderships: Leadership[];
  /** Real time from the start of the stable phase to the first moment some node led, or null. */
  stableLeaderAfterMs: number | null;
  finalLeader: number | null;
  /** The lowest healthy, eligible live ID (null: there is none, and nobody may lead). */
  expectedFinalLeader: number | null;
  /** Whether `preempt: false` was in force (then any healthy eligible leader is a correct final leader). */
  noPreempt: boolean;
  /** Preemptions in the settled stable phase, checked against `preempt` and `preemptDelayMs`. */
  preemptionsChecked: number;
  /** The healthy, eligible live IDs at the end. */
  eligible: number[];
  /** Broadcast workload counters, when `appendEveryMs` is set. */
  broadcast?: { appends: number; commits: number; deliveries: number; catchUps: number };
  events: number;
  faults: Record<string, number>;
}

export class Simulator {
  private readonly rng: Prng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<number, SimNode>();
  private now = 0;
  private group = new Map<number, number>();
  private readonly blocked = new Set<string>();
  private partitionEpoch = 0;
  private dropRate = 0;
  private duplicateRate = 0;
  private longDelayRate = 0;
  private stable = false;
  private stableAt = Number.POSITIVE_INFINITY;
  private stableLeaderAt: number | null = null;
  private maxTermGained = 0;
  private readonly leaderships: Leadership[] = [];
  private readonly open = new Map<number, Leadership>();
  private readonly faults: Record<string, number> = {};
  private readonly trace: string[] = [];
  private eventCount = 0;
  /** The sender of the message being delivered (who caused what the receiver does now), or null. */
  private delivering: number | null = null;
  private preemptionsChecked = 0;

  /** The broadcast workload and its invariants, when `appendEveryMs` is set. */
  private readonly appends: BroadcastWorkload | null;

  constructor(private readonly options: SimOptions) {
    this.rng = new Prng(options.seed);
    const every = options.appendEveryMs;
    this.appends =
      every === undefined
        ? null
        : new BroadcastWorkload(options.seed, options.ids, every, this.broadcastHost(), options.brokenBroadcast);
  }

  /** What the broadcast workload may do to the simulated world. */
  private broadcastHost() {
    const sim = this;
    return {
      get now() {
        return sim.now;
      },
      majority: Math.floor(this.options.ids.length / 2) + 1,
      node: (id: number) => {
        const node = sim.nodes.get(id);
        if (node?.core == null) return null;
        return { core: node.core, local: sim.local(node), generation: node.generation };
      },
      schedule: (
        at: number,
        id: number,
        generation: number | null,
        input: (core: ElectionCore, local: number) => Effects,
      ) => sim.queue.push(at, { kind: 'broadcast', id, generation, input }),
      later: (at: number, run: () => void) => sim.queue.push(at, { kind: 'later', run }),
      fail: (message: string): never => sim.fail(message),
    };
  }

  run(): SimResult {
    const { ids, faultMs, stableMs } = this.options;
    for (const id of ids) {
      this.nodes.set(id, {
        id,
        core: null,
        generation: 0,
        bootAt: 0,
        clockOffset: 0,
        clockRate: 1,
        pausedUntil: 0,
        stalledUntil: 0,
        healthy: true,
        ableFrom: 0,
        wakeToken: 0,
        durable: undefined,
      });
      this.group.set(id, 0);
    }
    for (const id of ids) this.boot(id);
    this.appends?.start();
    if (this.options.schedule === undefined) {
      this.queue.push(this.rng.exp(this.options.faultEveryMs), { kind: 'fault' });
    } else {
      for (const command of this.options.schedule) {
        if (command.at < faultMs) this.queue.push(Math.max(0, command.at), { kind: 'command', command });
      }
    }
    this.queue.push(faultMs, { kind: 'stabilize' });
    const end = faultMs + stableMs;
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined || next.time > end) break;
      this.now = next.time;
      if (++this.eventCount > MAX_EVENTS) this.fail(`runaway: more than ${MAX_EVENTS} events`);
      this.handle(next.item);
      this.checkSafety();
    }
    this.now = end;
    this.checkSafety();
    return this.finish();
  }

  // -------------------------------------------------------------------------------------------------------
  // Processes and clocks

  private local(node: SimNode, at = this.now): number {
    return node.clockOffset + (at - node.bootAt) * node.clockRate;
  }

  private realAt(node: SimNode, local: number): number {
    return node.bootAt + (local - node.clockOffset) / node.clockRate;
  }

  private boot(id: number): void {
    const node = this.nodes.get(id)!;
    const rho = this.options.actualDriftRate ?? this.options.timing.maxDriftRate;
    node.generation++;
    node.bootAt = this.now;
    node.clockOffset = this.rng.range(0, 1e6);
    // Extremes of the permitted drift are the interesting cases, so favour them.
    node.clockRate = 1 + (this.rng.chance(0.5) ? this.rng.pick([-rho, rho]) : this.rng.range(-rho, rho));
    node.pausedUntil = 0;
    node.stalledUntil = 0;
    const broken = this.options.brokenPreempt === true;
    const config: CoreConfig = {
      id,
      clusterSize: this.options.ids.length,
      ...this.options.timing,
      incarnation: this.rng.int(1, 0xffffffff),
      voterOnly: this.options.brokenVoterOnly !== true && this.isWitness(id),
      preempt: broken ? true : this.options.preempt,
      preemptDelayMs: broken ? 0 : this.options.preemptDelayMs,
    };
    node.core = new ElectionCore(config, this.options.persistence ? node.durable : undefined);
    this.appends?.booted(node.core);
    // The restart wait is a lease of the node's clock: at least lease / (1 + rho) of real time.
    node.ableFrom = Math.max(node.ableFrom, this.now + this.options.timing.leaseMs / (1 + rho));
    // Health is the service's, not the process's: a restarted node starts from the verdict in force.
    if (this.options.brokenHealth !== true) node.core.setHealthy(node.healthy, this.local(node));
    this.log(`boot ${id} gen=${node.generation} rate=${node.clockRate.toFixed(4)}`);
    this.apply(node, node.core.start(this.local(node)));
    for (const peer of this.options.ids) {
      if (peer === id) continue;
      this.notifyLink(id, peer, true);
      this.notifyLink(peer, id, true);
    }
  }

  private crash(id: number): void {
    const node = this.nodes.get(id)!;
    if (node.core === null) return;
    this.closeLeadership(id);
    node.core = null;
    node.generation++;
    this.log(`crash ${id}`);
    for (const peer of this.options.ids) {
      if (peer !== id && this.rng.chance(0.8)) this.notifyLink(peer, id, false);
    }
  }

  private notifyLink(id: number, peer: number, up: boolean): void {
    const node = this.nodes.get(id)!;
    this.queue.push(this.now + this.rng.range(0.1, 3), { kind: 'link', id, peer, generation: node.generation, up });
  }

  // -------------------------------------------------------------------------------------------------------
  // Events

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'wake': {
        const node = this.nodes.get(event.id)!;
        if (node.core === null || node.generation !== event.generation || node.wakeToken !== event.token) return;
        if (this.deferIfPaused(node, event)) return;
        this.apply(node, node.core.tick(this.local(node)));
        return;
      }
      case 'deliver': {
        const node = this.nodes.get(event.to)!;
        if (node.core === null || node.generation !== event.generation) return;
        if (this.deferIfPaused(node, event)) return;
        if (this.cut(event.from, event.to)) return;
        this.delivering = event.from;
        try {
          this.apply(node, node.core.receive(event.from, decodeMessage(event.bytes), this.local(node)));
        } finally {
          this.delivering = null;
        }
        return;
      }
      case 'link': {
        const node = this.nodes.get(event.id)!;
        if (node.core === null || node.generation !== event.generation) return;
        if (this.deferIfPaused(node, event)) return;
        const local = this.local(node);
        this.apply(
          node,
          event.up ? node.core.peerConnected(event.peer, local) : node.core.peerDisconnected(event.peer, local),
        );
        return;
      }
      case 'restart': {
        const node = this.nodes.get(event.id)!;
        if (node.core === null && node.generation === event.generation) this.boot(event.id);
        return;
      }
      case 'unstall': {
        const node = this.nodes.get(event.id)!;
        if (node.core === null || node.generation !== event.generation || node.stalledUntil > this.now) return;
        if (this.deferIfPaused(node, event)) return;
        node.ableFrom = Math.max(node.ableFrom, this.now);
        this.apply(node, node.core.setStalled(false, this.local(node)));
        return;
      }
      case 'health': {
        const node = this.nodes.get(event.id)!;
        if (this.stable && !event.stablePhase) return;
        // The health monitor runs in the node's process: a paused process learns its verdict when it resumes.
        if (node.core !== null && this.deferIfPaused(node, event)) return;
        this.setHealth(node, event.healthy);
        return;
      }
      case 'heal-partition':
        if (event.epoch === this.partitionEpoch) this.healPartitions();
        return;
      case 'fault':
        if (this.stable) return;
        this.injectFault();
        this.queue.push(this.now + this.rng.exp(this.options.faultEveryMs), { kind: 'fault' });
        return;
      case 'command':
        if (!this.stable) this.execute(event.command);
        return;
      case 'stabilize':
        this.stabilize();
        return;
      case 'broadcast': {
        const node = this.nodes.get(event.id)!;
        if (node.core === null || (event.generation !== null && node.generation !== event.generation)) return;
        if (this.deferIfPaused(node, event)) return;
        this.apply(node, event.input(node.core, this.local(node)));
        return;
      }
      case 'later':
        event.run();
        return;
    }
  }

  /** A paused process handles nothing; what arrives waits, in order, until it resumes. */
  private deferIfPaused(node: SimNode, event: SimEvent): boolean {
    if (node.pausedUntil <= this.now) return false;
    this.queue.push(node.pausedUntil, event);
    return true;
  }

  /** Applies a core's effects with the production order (`applyEffects`), onto the simulated world. */
  private apply(node: SimNode, effects: Effects): void {
    const core = node.core;
    if (core === null) return;
    let failed = false;
    const broken = this.options.brokenPersistFailure === true;
    const target = broken ? { persistDone: (_ok: boolean, now: number) => core.persistDone(true, now) } : core;
    applyEffects(target, effects, this.local(node), {
      persist: (state) => {
        const failRate = this.options.persistFailRate ?? 0;
        // Only while faults are on: a disk that keeps failing in the stable phase would (rightly) stop elections.
        if (failRate > 0 && !this.stable && this.rng.chance(failRate)) {
          this.log(`node ${node.id}: persist failed`);
          failed = true;
          return false;
        }
        node.durable = state;
        return true;
      },
      publish: () => {},
      emit: (event) => {
        if (broken && failed) return;
        this.log(`node ${node.id}: ${JSON.stringify(event)}`);
        this.appends?.onEvent(node.id, node.generation, event);
        if (event.type === 'gained') this.onGained(node.id, event.term);
        if (event.type === 'lost') {
          if (!this.open.has(node.id)) this.fail(`node ${node.id} lost term ${event.term} without having gained it`);
          if (event.reason === 'preempted') this.checkPreemption(node.id);
          this.closeLeadership(node.id);
        }
      },
      send: (messages) => {
        for (const out of messages) this.send(node.id, out.to, encodeMessage(out.message));
      },
      arm: (wakeAt) => {
        if (node.core === null || !Number.isFinite(wakeAt)) return;
        const token = ++node.wakeToken;
        // The epsilon keeps float rounding between clocks from waking the core a hair before its deadline, forever.
        const at = Math.max(this.now, this.realAt(node, wakeAt) + 1e-6);
        // Timers fire late, sometimes much later under load; the core must cope.
        const late = this.stable ? 0 : this.rng.chance(0.05) ? this.rng.range(0, 30) : this.rng.range(0, 1);
        this.queue.push(at + late, { kind: 'wake', id: node.id, generation: node.generation, token });
      },
    });
  }

  private send(from: number, to: number, bytes: Uint8Array): void {
    const target = this.nodes.get(to);
    if (target === undefined || target.core === null) return;
    if (this.cut(from, to)) {
      if (this.options.holdCutMessages === true) {
        this.held.push({
          from,
          to,
          generation: target.generation,
          fromGeneration: this.nodes.get(from)?.generation,
          bytes,
        });
        this.count('held');
      }
      return;
    }
    if (this.rng.chance(this.dropRate)) return;
    const copies = this.rng.chance(this.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.chance(this.longDelayRate)
        ? this.rng.range(0, 2 * this.options.timing.leaseMs)
        : this.rng.range(0.05, this.stable ? 2 : 5);
      this.queue.push(this.now + delay, { kind: 'deliver', from, to, generation: target.generation, bytes });
    }
  }

  private cut(from: number, to: number): boolean {
    return this.group.get(from) !== this.group.get(to) || this.blocked.has(`${from}>${to}`);
  }

  // -------------------------------------------------------------------------------------------------------
  // Faults

  private count(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  private injectFault(): void {
    const ids = this.options.ids;
    const lease = this.options.timing.leaseMs;
    // Drawn only when enabled, so runs without health flaps replay exactly as before.
    if (this.options.healthFlaps === true && this.rng.chance(0.25)) {
      this.count('health-flap');
      const id = this.rng.pick(ids);
      this.queue.push(this.now, { kind: 'health', id, healthy: false, stablePhase: false });
      const back = this.now + this.rng.range(0, 3 * lease);
      this.queue.push(back, { kind: 'health', id, healthy: true, stablePhase: false });
      return;
    }
    const roll = this.rng.next();
    if (roll < 0.2) {
      // Symmetric partition into two sides.
      this.partition(ids.map(() => (this.rng.chance(0.5) ? 1 : 0)));
      this.queue.push(this.now + this.rng.range(0.2 * lease, 4 * lease), {
        kind: 'heal-partition',
        epoch: this.partitionEpoch,
      });
    } else if (roll < 0.3) {
      if (ids.length < 2) return;
      const from = this.rng.pick(ids);
      this.cutOneWay(from, this.rng.pick(ids.filter((id) => id !== from)));
    } else if (roll < 0.45) {
      const victim = this.rng.pick(ids);
      this.crashFor(victim, () => this.rng.range(0, 3 * lease));
    } else if (roll < 0.6) {
      this.pause(this.rng.pick(ids), () => this.rng.range(0, 3 * lease));
    } else if (roll < 0.75) {
      this.lossyNetwork(
        this.rng.pick([0, 0.05, 0.2, 0.5]),
        this.rng.pick([0, 0.05, 0.2]),
        this.rng.pick([0, 0.01, 0.05]),
      );
    } else if (roll < 0.85) {
      this.count('heal');
      this.healPartitions();
    } else {
      if (ids.length < 2) return;
      const a = this.rng.pick(ids);
      this.flap(a, this.rng.pick(ids.filter((id) => id !== a)));
    }
  }

  /** Runs one command of an explicit schedule. */
  private execute(command: FaultCommand): void {
    const known = (id: number) => this.nodes.has(id);
    switch (command.kind) {
      case 'partition':
        this.partition(command.sides);
        this.queue.push(this.now + command.forMs, { kind: 'heal-partition', epoch: this.partitionEpoch });
        return;
      case 'cut':
        if (known(command.from) && known(command.to) && command.from !== command.to) {
          this.cutOneWay(command.from, command.to);
        }
        return;
      case 'crash':
        if (known(command.id)) this.crashFor(command.id, () => command.restartAfterMs);
        return;
      case 'pause':
        if (known(command.id)) this.pause(command.id, () => command.forMs);
        return;
      case 'stall':
        if (known(command.id)) this.stall(command.id, command.forMs);
        return;
      case 'health':
        if (known(command.id)) {
          this.queue.push(this.now, { kind: 'health', id: command.id, healthy: command.healthy, stablePhase: false });
        }
        return;
      case 'network':
        this.lossyNetwork(command.dropRate, command.duplicateRate, command.longDelayRate);
        return;
      case 'flap':
        if (known(command.a) && known(command.b) && command.a !== command.b) this.flap(command.a, command.b);
        return;
      case 'heal':
        this.count('heal');
        this.healPartitions();
        return;
    }
  }

  /** `sides[i]` is the side of `ids[i]` (missing: side 0). */
  private partition(sides: readonly number[]): void {
    this.count('partition');
    this.partitionEpoch++;
    this.options.ids.forEach((id, i) => {
      this.group.set(id, sides[i] ?? 0);
    });
    this.notifyPartitionLinks();
  }

  private cutOneWay(from: number, to: number): void {
    this.count('one-way-cut');
    this.blocked.add(`${from}>${to}`);
  }

  /**
   * Crashes `id`; it restarts after `restartAfterMs()`, or at the stable phase when that is null. (Durations are
   * functions so random mode draws them exactly when it always did: a seed keeps replaying the same run.)
   */
  private crashFor(id: number, restartAfterMs: () => number | null): void {
    this.count('crash');
    this.crash(id);
    const after = restartAfterMs();
    if (after === null) return;
    const node = this.nodes.get(id)!;
    this.queue.push(this.now + after, { kind: 'restart', id, generation: node.generation });
  }

  private pause(id: number, forMs: () => number): void {
    this.count('pause');
    const node = this.nodes.get(id)!;
    if (node.core !== null) node.pausedUntil = Math.max(node.pausedUntil, this.now + forMs());
  }

  private stall(id: number, forMs: number): void {
    this.count('stall');
    const node = this.nodes.get(id)!;
    if (node.core === null || node.pausedUntil > this.now) return;
    node.stalledUntil = Math.max(node.stalledUntil, this.now + forMs);
    if (this.options.brokenStall === true) return;
    this.apply(node, node.core.setStalled(true, this.local(node)));
    this.queue.push(node.stalledUntil, { kind: 'unstall', id, generation: node.generation });
  }

  private setHealth(node: SimNode, healthy: boolean): void {
    if (healthy && !node.healthy) node.ableFrom = Math.max(node.ableFrom, this.now);
    node.healthy = healthy;
    if (node.core === null || this.options.brokenHealth === true) return;
    this.log(`node ${node.id}: ${healthy ? 'healthy' : 'unhealthy'}`);
    this.apply(node, node.core.setHealthy(healthy, this.local(node)));
  }

  private isWitness(id: number): boolean {
    return this.options.voterOnly?.includes(id) === true;
  }

  private lossyNetwork(dropRate: number, duplicateRate: number, longDelayRate: number): void {
    this.count('lossy-network');
    this.dropRate = dropRate;
    this.duplicateRate = duplicateRate;
    this.longDelayRate = longDelayRate;
  }

  private flap(a: number, b: number): void {
    this.count('link-flap');
    this.notifyLink(a, b, false);
    this.notifyLink(b, a, false);
    this.notifyLink(a, b, true);
  }

  /** Messages a partition blocked, for `holdCutMessages`: delivered in order at the heal. */
  private held: {
    from: number;
    to: number;
    generation: number;
    fromGeneration: number | undefined;
    bytes: Uint8Array;
  }[] = [];

  private healPartitions(): void {
    for (const id of this.options.ids) this.group.set(id, 0);
    this.blocked.clear();
    this.partitionEpoch++;
    // No random draws here, so runs without held messages replay exactly as before.
    const held = this.held;
    this.held = [];
    for (const [i, { fromGeneration, ...m }] of held.entries()) {
      // A sender that crashed meanwhile took its connection (and what it had not delivered) with it.
      const sender = this.nodes.get(m.from);
      if (sender === undefined || sender.core === null || sender.generation !== fromGeneration) continue;
      this.queue.push(this.now + 0.05 + i * 0.001, { kind: 'deliver', ...m });
    }
  }

  private notifyPartitionLinks(): void {
    for (const a of this.options.ids) {
      for (const b of this.options.ids) {
        if (a !== b && this.cut(a, b) && this.rng.chance(0.5)) this.notifyLink(a, b, false);
      }
    }
  }

  private stabilize(): void {
    this.stable = true;
    this.stableAt = this.now;
    this.healPartitions();
    this.dropRate = 0;
    this.duplicateRate = 0;
    this.longDelayRate = 0;
    const ids = this.options.ids;
    const down = new Set(
      ids
        .slice()
        .sort(() => this.rng.next() - 0.5)
        .slice(0, this.options.permanentlyDown),
    );
    for (const id of ids) {
      const node = this.nodes.get(id)!;
      if (down.has(id)) {
        this.crash(id);
        continue;
      }
      if (node.pausedUntil > this.now) node.pausedUntil = this.now;
      if (node.core === null) this.boot(id);
    }
    // Health flips still queued from the fault phase must not land in the stable phase: every node is healthy
    // now, except as `stableHealth` says.
    for (const node of this.nodes.values()) if (!node.healthy) this.setHealth(node, true);
    for (const change of this.options.stableHealth ?? []) {
      if (!this.nodes.has(change.id)) continue;
      if (change.at <= 0) this.setHealth(this.nodes.get(change.id)!, change.healthy);
      else {
        const event = { kind: 'health', id: change.id, healthy: change.healthy, stablePhase: true } as const;
        this.queue.push(this.now + change.at, event);
      }
    }
    // Messages still in flight from the fault phase may arrive late: that is part of "stable" too.
    this.log('stabilize');
  }

  // -------------------------------------------------------------------------------------------------------
  // Invariants

  private onGained(id: number, term: number): void {
    if (this.open.has(id)) this.fail(`node ${id} gained term ${term} while its leadership was still open`);
    if (this.options.persistence && term <= this.maxTermGained) {
      this.fail(`node ${id} gained leadership with term ${term}, not above earlier term ${this.maxTermGained}`);
    }
    this.maxTermGained = Math.max(this.maxTermGained, term);
    const leadership = { id, term, from: this.now, to: null };
    this.leaderships.push(leadership);
    this.open.set(id, leadership);
  }

  /**
   * Node `id` stepped aside (`'preempted'`) for the lower ID whose vote request is being delivered. Once the stable
   * phase has drained what the faults left in flight (two leases of delayed messages, plus one), and when the
   * leadership was established (its heartbeat had reached everyone), that is a preemption in the sense of the
   * options: forbidden with `preempt: false`, and never sooner than `preemptDelayMs` (on the preempter's clock,
   * so `/ (1 + rho)` of real time) after the preempter became able to lead.
   */
  private checkPreemption(id: number): void {
    const { leaseMs, heartbeatIntervalMs } = this.options.timing;
    const rho = this.options.actualDriftRate ?? this.options.timing.maxDriftRate;
    const leadership = this.open.get(id);
    const by = this.delivering;
    if (!this.stable || by === null || leadership === undefined) return;
    // A candidacy that began before this leadership (a race, not a preemption) asks again within a heartbeat.
    if (this.now < this.stableAt + 3 * leaseMs || this.now - leadership.from < 2 * heartbeatIntervalMs) return;
    this.preemptionsChecked++;
    if (this.options.preempt === false) this.fail(`node ${id} was preempted by ${by} although preempt is false`);
    const delay = this.options.preemptDelayMs ?? 0;
    const able = this.nodes.get(by)!.ableFrom;
    if (this.now - able < delay / (1 + rho) - 1) {
      this.fail(
        `node ${by} preempted ${id} ${(this.now - able).toFixed(1)} ms after it could lead (preemptDelayMs ${delay})`,
      );
    }
  }

  private closeLeadership(id: number): void {
    const leadership = this.open.get(id);
    if (leadership) {
      leadership.to = this.now;
      this.open.delete(id);
    }
  }

  private leadersNow(): number[] {
    const leaders: number[] = [];
    for (const node of this.nodes.values()) {
      // A paused process is judged by what it would conclude if it acted now.
      if (node.core?.isLeaderAt(this.local(node))) leaders.push(node.id);
    }
    return leaders;
  }

  private checkSafety(): void {
    const leaders = this.leadersNow();
    if (leaders.length > 1) this.fail(`two leaders at once: ${leaders.join(', ')}`);
    // Events come in pairs: a node is leader only within a gainedLeadership it emitted for that very term.
    for (const id of leaders) {
      if (this.nodes.get(id)!.stalledUntil > this.now) this.fail(`node ${id} leads while its application is stalled`);
      if (this.isWitness(id)) this.fail(`voter-only node ${id} leads`);
      if (!this.nodes.get(id)!.healthy) this.fail(`node ${id} leads while unhealthy`);
      const term = this.nodes.get(id)!.core!.term;
      if (this.open.get(id)?.term !== term) this.fail(`node ${id} leads term ${term} without gainedLeadership for it`);
    }
    if (this.stable && this.stableLeaderAt === null && leaders.length === 1) this.stableLeaderAt = this.now;
  }

  private finish(): SimResult {
    const up = this.options.ids.filter((id) => this.nodes.get(id)!.core !== null);
    const leaders = this.leadersNow();
    return {
      seed: this.options.seed,
      leaderships: this.leaderships,
      stableLeaderAfterMs: this.stableLeaderAt === null ? null : this.stableLeaderAt - this.stableAt,
      finalLeader: leaders[0] ?? null,
      expectedFinalLeader: this.expectedLeader(up),
      events: this.eventCount,
      faults: this.faults,
      noPreempt: this.options.preempt === false,
      preemptionsChecked: this.preemptionsChecked,
      eligible: up.filter((id) => !this.isWitness(id) && this.nodes.get(id)!.healthy),
      ...(this.appends && {
        broadcast: {
          appends: this.appends.appends,
          commits: this.appends.commits,
          deliveries: this.appends.deliveries,
          catchUps: this.appends.catchUps,
        },
      }),
    };
  }

  /** The lowest healthy, eligible node that is up (null when none: then nobody may lead). */
  private expectedLeader(up: number[]): number | null {
    const eligible = up.filter((id) => !this.isWitness(id) && this.nodes.get(id)!.healthy);
    return eligible.length === 0 ? null : Math.min(...eligible);
  }

  private log(line: string): void {
    this.trace.push(`${this.now.toFixed(3)} ${line}`);
    if (this.trace.length > 400) this.trace.splice(0, 200);
  }

  private fail(message: string): never {
    throw new InvariantViolation(
      `seed ${this.options.seed}: ${message} at t=${this.now.toFixed(3)}ms\n--- last events ---\n${this.trace.slice(-60).join('\n')}`,
    );
  }
}
