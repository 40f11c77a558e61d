import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kill, leadershipIntervals, overlaps, termRegressions } from '../../src/testing/leadership-intervals.ts';
import { monotonicNow, type NodeProcessEvent, ProcessCluster } from '../../src/testing/process-cluster.ts';
import { TRANSPORT_DEFAULTS } from '../../src/transport/options.ts';
import { Prng } from '../sim/prng.ts';
import { ChaosProxy, type FlowMode, type ProxyStats } from './proxy.ts';

/**
 * Chaos against real `leader-ip run` processes: every byte between nodes crosses a {@link ChaosProxy}, and a
 * seeded schedule partitions (majority/minority, bridge, one-way), delays, stalls, drops and flaps links, and
 * SIGKILLs, SIGTERMs, SIGSTOPs/SIGCONTs and restarts processes. The run alternates fault phases with heals;
 * after each heal a leader must appear within a bound and the lowest live ID must end up leading. Safety is
 * checked on the leadership intervals the processes report (test/support/leadership.ts): none overlap, terms
 * grow.
 *
 * The seed fixes every random choice of the schedule; the processes' own timing still varies from run to run,
 * so a seed replays the same kind of run, not the same interleaving.
 * @module
 */

export interface ChaosOptions {
  seed: number;
  /** Total time spent in fault phases, ms (heals and liveness waits come on top). */
  faultMs: number;
  heartbeatMs: number;
  leaseMs: number;
  /** Node IDs; default 1..5. */
  ids?: readonly number[];
  /** How to replay this run, quoted in failures. */
  replay: string;
  /** Progress lines (the driver's actions). */
  log?: (line: string) => void;
  /** Write every line the processes printed, and the kills, to this file (JSON lines) when the run ends. */
  dumpTo?: string;
}

export interface ChaosReport {
  seed: number;
  faultSeconds: number;
  wallSeconds: number;
  rounds: number;
  partitions: number;
  bridges: number;
  oneWay: number;
  delays: number;
  flaps: number;
  kills: number;
  stops: number;
  pauses: number;
  restarts: number;
  leaderships: number;
  overlaps: number;
  termRegressions: number;
  /** Slowest time, over all heals, from the heal to a leader, and to the lowest live ID leading (ms). */
  maxLeaderAfterHealMs: number;
  maxLowestAfterHealMs: number;
  proxy: ProxyStats;
}

export class ChaosFailure extends Error {
  override name = 'ChaosFailure';
}

/** One line summary of a report, for logs. */
export function formatReport(r: ChaosReport): string {
  return (
    `chaos seed ${r.seed}: ${(r.faultSeconds / 60).toFixed(2)} min of faults (${r.wallSeconds.toFixed(0)} s wall), ` +
    `${r.rounds} heals, ${r.partitions} partitions (${r.bridges} bridge), ${r.oneWay} one-way cuts, ` +
    `${r.delays} delays, ${r.flaps} flaps, ${r.kills} SIGKILLs, ${r.stops} SIGTERMs, ${r.pauses} pauses, ` +
    `${r.restarts} restarts, ${r.leaderships} leaderships, ${r.overlaps} overlaps, ${r.termRegressions} term ` +
    `regressions; leader after heal <= ${r.maxLeaderAfterHealMs.toFixed(0)} ms, lowest ID leading <= ` +
    `${r.maxLowestAfterHealMs.toFixed(0)} ms`
  );
}

type NodeState = 'up' | 'paused' | 'stopping' | 'down' | 'starting';

interface Partition {
  /** Directed links ("a>b") that carry nothing. */
  blocked: Set<string>;
  mode: FlowMode | 'refuse';
}

const directed = (from: number, to: number): string => `${from}>${to}`;
/** Processes that are not up at once, at most (so a run keeps electing between heals). */
const MAX_IMPAIRED = 2;
/** How long a SIGTERMed node may take to hand over and exit. */
const STOP_BOUND_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const run = new ChaosRun(options);
  try {
    return await run.run();
  } finally {
    await run.cleanup();
  }
}

class ChaosRun {
  readonly #o: ChaosOptions;
  readonly #ids: readonly number[];
  readonly #rng: Prng;
  readonly #dir: string;
  readonly #cluster: ProcessCluster;
  readonly #proxy: ChaosProxy;
  readonly #state = new Map<number, NodeState>();
  readonly #kills: Kill[] = [];
  readonly #expectedExit = new Set<number>();
  readonly #failures: string[] = [];
  readonly #stderr = new Map<number, string[]>();
  readonly #trace: string[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Each process's status URL, from its `http` line. */
  readonly #urls = new Map<number, string>();
  /** Per node, from its own lines: leading now, and whom it last reported as leader. */
  readonly #leading = new Map<number, boolean>();
  readonly #view = new Map<number, number | null>();
  #partition: Partition | null = null;
  readonly #oneWay = new Map<string, FlowMode>();
  readonly #delay = new Map<string, number>();
  readonly #t0 = monotonicNow();
  readonly #counts = { rounds: 0, partitions: 0, bridges: 0, oneWay: 0, delays: 0, flaps: 0 };
  readonly #process = { kills: 0, stops: 0, pauses: 0, restarts: 0 };
  #maxLeader = 0;
  #maxLowest = 0;

  constructor(options: ChaosOptions) {
    this.#o = options;
    this.#ids = options.ids ?? [1, 2, 3, 4, 5];
    this.#rng = new Prng(options.seed);
    this.#dir = mkdtempSync(join(tmpdir(), 'leader-ip-chaos-'));
    const secretFile = join(this.#dir, 'secret');
    writeFileSync(secretFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    this.#proxy = new ChaosProxy(this.#ids, (id) => this.#cluster.ports.get(id));
    this.#cluster = new ProcessCluster({
      ids: this.#ids,
      args: [
        ...['--heartbeat-ms', String(options.heartbeatMs), '--lease-ms', String(options.leaseMs)],
        ...['--secret-file', secretFile, '--state-dir', join(this.#dir, 'state')],
        // Asked before every SIGKILL whether the node leads, and for how much longer (see #crash).
        ...['--http', '127.0.0.1:0'],
      ],
      peersFor: (id) => this.#proxy.peersFor(id),
      onStderr: (id, line) => {
        const lines = this.#stderr.get(id) ?? [];
        lines.push(line);
        if (lines.length > 20) lines.shift();
        this.#stderr.set(id, lines);
      },
    });
    this.#cluster.on('event', (e) => this.#onEvent(e));
    this.#cluster.on('exit', (id, code, signal) => {
      if (this.#expectedExit.has(id)) return;
      const stderr = (this.#stderr.get(id) ?? []).join('\n');
      this.#failures.push(`node ${id} exited unexpectedly (${signal ?? code})${stderr ? `:\n${stderr}` : ''}`);
    });
  }

  async run(): Promise<ChaosReport> {
    const { leaseMs } = this.#o;
    await this.#proxy.start();
    for (const id of this.#ids) this.#state.set(id, 'starting');
    await this.#cluster.start();
    for (const id of this.#ids) this.#state.set(id, 'up');
    this.#log(`started ${this.#ids.length} nodes`);
    await this.#stabilized(this.#now());

    let faultLeft = this.#o.faultMs;
    while (faultLeft > 0) {
      const phaseMs = Math.min(faultLeft, this.#rng.range(6, 20) * leaseMs);
      faultLeft -= phaseMs;
      await this.#faultPhase(phaseMs);
      await this.#heal(faultLeft > 0);
      this.#counts.rounds++;
      await this.#stabilized(this.#now());
    }
    return this.#report();
  }

  async cleanup(): Promise<void> {
    if (this.#o.dumpTo !== undefined) {
      const lines = [...this.#cluster.history, ...this.#kills.map((k) => ({ ...k, event: 'SIGKILL', mono: k.at }))];
      writeFileSync(this.#o.dumpTo, lines.map((line) => JSON.stringify(line)).join('\n'));
    }
    for (const timer of this.#timers) clearTimeout(timer);
    for (const id of this.#ids) {
      this.#expectedExit.add(id);
      if (this.#state.get(id) === 'paused') this.#cluster.signal(id, 'SIGCONT');
    }
    await Promise.allSettled([...this.#pending]);
    await this.#cluster.stop();
    await this.#proxy.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Phases

  async #faultPhase(phaseMs: number): Promise<void> {
    const end = this.#now() + phaseMs;
    this.#log(`fault phase of ${phaseMs.toFixed(0)} ms`);
    // Nodes left down by the previous heal come back at some point of this phase.
    for (const id of this.#ids) {
      if (this.#state.get(id) === 'down') this.#later(this.#rng.range(0, 3) * this.#o.leaseMs, () => this.#restart(id));
    }
    for (;;) {
      // About one fault per 1.5 leases: often enough to hit every phase of an election, rarely enough that
      // elections still complete in between (a run where nobody ever leads would check little).
      const gap = this.#rng.exp(1.5 * this.#o.leaseMs);
      if (this.#now() + gap >= end) break;
      await sleep(gap);
      this.#act();
      this.#throwIfFailed();
    }
    await sleep(end - this.#now());
  }

  /** Heals every link and resumes every process; restarts the dead ones, except a minority left down on purpose. */
  async #heal(mayLeaveDown: boolean): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#partition = null;
    this.#oneWay.clear();
    this.#delay.clear();
    this.#applyNetwork();
    for (const id of this.#ids) if (this.#state.get(id) === 'paused') this.#resume(id);
    await this.#settle();
    const leaveDown = new Set(
      mayLeaveDown ? this.#shuffled(this.#ids).slice(0, this.#rng.pick([0, 0, 0, 1, 2])) : ([] as number[]),
    );
    for (const id of this.#ids) {
      const state = this.#state.get(id);
      if (leaveDown.has(id) && state === 'up') this.#crash(id);
      else if (!leaveDown.has(id) && state === 'down') this.#restart(id);
    }
    await this.#settle();
    this.#log(`healed${leaveDown.size > 0 ? `, nodes ${[...leaveDown].join(', ')} left down` : ''}`);
  }

  /**
   * After a heal at `since`: a leader within the liveness bound, then the lowest live ID leading, then every
   * live process reporting that leader (so each has printed everything up to now), then the safety checks.
   */
  async #stabilized(since: number): Promise<void> {
    const { leaseMs, heartbeatMs } = this.#o;
    // Links cut during the faults redial after a capped backoff; then old vote-leases run out, restarted nodes
    // pass their restart wait and a candidate collects its votes: about three leases and a few heartbeats.
    const leaderBound = TRANSPORT_DEFAULTS.reconnectMaxMs + 3 * leaseMs + 10 * heartbeatMs;
    // The lowest ID may first sit out a failed candidacy's cooldown (two leases) and the current leader's lease.
    const lowestBound = leaderBound + 3 * leaseMs + 10 * heartbeatMs;
    const live = this.#ids.filter((id) => this.#state.get(id) === 'up');
    const lowest = Math.min(...live);
    const leaderAt = await this.#leaderSince(since, () => true, since + leaderBound, 'a leader');
    const lowestAt = await this.#leaderSince(
      since,
      (id) => id === lowest,
      since + lowestBound,
      `node ${lowest} leading`,
    );
    this.#maxLeader = Math.max(this.#maxLeader, leaderAt - since);
    this.#maxLowest = Math.max(this.#maxLowest, lowestAt - since);
    await this.#until(
      () => (live.every((id) => this.#view.get(id) === lowest) ? true : undefined),
      this.#now() + lowestBound,
      () =>
        `every live node reporting node ${lowest} as leader (views: ${live.map((id) => `${id}→${this.#view.get(id)}`).join(', ')})`,
    );
    this.#log(
      `leader ${(leaderAt - since).toFixed(0)} ms after the heal, node ${lowest} ${(lowestAt - since).toFixed(0)} ms`,
    );
    this.#checkSafety();
  }

  /**
   * When, at or after `since`, a node matching `which` led: its gain after `since`, or `since` itself when it was
   * already leading then and still is a lease later (a paused leader just resumed would have reported its loss).
   */
  #leaderSince(since: number, which: (id: number) => boolean, deadline: number, what: string): Promise<number> {
    const confirmAt = since + this.#o.leaseMs;
    return this.#until(
      () => {
        const now = this.#now();
        for (const interval of leadershipIntervals(this.#cluster.history, this.#kills).intervals) {
          if (!which(interval.id)) continue;
          if (interval.from >= since) return interval.from;
          if (interval.to > confirmAt && now >= confirmAt) return since;
        }
        return undefined;
      },
      deadline,
      () => `${what} within ${(deadline - since).toFixed(0)} ms of the heal (liveness)`,
      [confirmAt],
    );
  }

  /** Resolves with `check()`'s first defined value, re-checked on every process event and at `wakeAt` times. */
  #until<T>(check: () => T | undefined, deadline: number, what: () => string, wakeAt: number[] = []): Promise<T> {
    return new Promise((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = () => {
        this.#cluster.off('event', attempt);
        for (const timer of timers) clearTimeout(timer);
      };
      const attempt = (): void => {
        if (this.#failures.length > 0) {
          finish();
          reject(this.#failure(this.#failures.join('\n')));
          return;
        }
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.#now() >= deadline) {
          finish();
          reject(this.#failure(`no ${what()}`));
        }
      };
      this.#cluster.on('event', attempt);
      for (const at of [...wakeAt, deadline]) timers.push(setTimeout(attempt, Math.max(0, at - this.#now()) + 1));
      attempt();
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Faults

  #act(): void {
    const roll = this.#rng.next();
    if (roll < 0.2) this.#partitionAction();
    else if (roll < 0.3) this.#oneWayAction();
    else if (roll < 0.4) this.#delayAction();
    else if (roll < 0.47) this.#flapAction();
    else if (roll < 0.63) this.#processAction('crash');
    else if (roll < 0.67) this.#processAction('stop');
    else if (roll < 0.85) this.#processAction('pause');
    else if (roll < 0.9) {
      this.#log('network healed');
      this.#partition = null;
      this.#oneWay.clear();
      this.#delay.clear();
      this.#applyNetwork();
    } else {
      const down = this.#ids.filter((id) => this.#state.get(id) === 'down');
      if (down.length > 0) this.#restart(this.#rng.pick(down));
    }
  }

  #partitionAction(): void {
    const ids = this.#shuffled(this.#ids);
    const mode = this.#rng.pick<FlowMode | 'refuse'>(['stall', 'stall', 'drop', 'refuse']);
    const blocked = new Set<string>();
    const cut = (a: readonly number[], b: readonly number[]) => {
      for (const x of a) for (const y of b) blocked.add(directed(x, y)).add(directed(y, x));
    };
    let description: string;
    if (ids.length >= 3 && this.#rng.chance(0.3)) {
      // A bridge: two sides that cannot talk, and one node that talks to both.
      const [bridge, ...rest] = ids;
      const split = this.#rng.int(1, rest.length - 1);
      cut(rest.slice(0, split), rest.slice(split));
      description = `bridge ${bridge} between {${rest.slice(0, split).join(',')}} and {${rest.slice(split).join(',')}}`;
      this.#counts.bridges++;
    } else {
      const minority = this.#rng.int(1, Math.max(1, Math.floor((ids.length - 1) / 2)));
      cut(ids.slice(0, minority), ids.slice(minority));
      description = `{${ids.slice(0, minority).join(',')}} | {${ids.slice(minority).join(',')}}`;
    }
    this.#counts.partitions++;
    const partition: Partition = { blocked, mode };
    this.#partition = partition;
    this.#applyNetwork();
    // Long enough, often, for the majority side to elect a leader of its own.
    const ms = this.#rng.range(1, 8) * this.#o.leaseMs;
    this.#log(`partition ${description} (${mode}) for ${ms.toFixed(0)} ms`);
    this.#later(ms, () => {
      if (this.#partition !== partition) return;
      this.#partition = null;
      this.#applyNetwork();
      this.#log('partition healed');
    });
  }

  #oneWayAction(): void {
    const node = this.#rng.pick(this.#ids);
    const others = this.#ids.filter((id) => id !== node);
    const variant = this.#rng.pick(['link', 'deaf', 'mute'] as const);
    const links =
      variant === 'link'
        ? [directed(node, this.#rng.pick(others))]
        : others.map((other) => (variant === 'mute' ? directed(node, other) : directed(other, node)));
    const mode = this.#rng.pick<FlowMode>(['stall', 'stall', 'drop']);
    const ms = this.#rng.range(1, 6) * this.#o.leaseMs;
    for (const link of links) this.#oneWay.set(link, mode);
    this.#counts.oneWay++;
    this.#applyNetwork();
    this.#log(`one-way ${variant} ${links.join(' ')} (${mode}) for ${ms.toFixed(0)} ms`);
    this.#later(ms, () => {
      for (const link of links) if (this.#oneWay.get(link) === mode) this.#oneWay.delete(link);
      this.#applyNetwork();
    });
  }

  #delayAction(): void {
    const node = this.#rng.pick(this.#ids);
    const others = this.#ids.filter((id) => id !== node);
    const links = this.#rng.chance(0.5)
      ? [directed(node, this.#rng.pick(others))]
      : others.flatMap((other) => [directed(node, other), directed(other, node)]);
    // Up to a little over a lease: long enough for renewals to arrive after the leases they were meant to extend.
    const delayMs = this.#rng.range(0.05, 1.2) * this.#o.leaseMs;
    const ms = this.#rng.range(1, 6) * this.#o.leaseMs;
    for (const link of links) this.#delay.set(link, delayMs);
    this.#counts.delays++;
    this.#applyNetwork();
    this.#log(`delay ${delayMs.toFixed(0)} ms on ${links.join(' ')} for ${ms.toFixed(0)} ms`);
    this.#later(ms, () => {
      for (const link of links) if (this.#delay.get(link) === delayMs) this.#delay.delete(link);
      this.#applyNetwork();
    });
  }

  #flapAction(): void {
    const [a, b] = this.#shuffled(this.#ids);
    const reset = this.#proxy.reset(a!, b!);
    this.#counts.flaps++;
    this.#log(`flap ${a}-${b} (${reset} connections reset)`);
  }

  #processAction(kind: 'crash' | 'stop' | 'pause'): void {
    const impaired = this.#ids.filter((id) => this.#state.get(id) !== 'up').length;
    const up = this.#ids.filter((id) => this.#state.get(id) === 'up');
    if (impaired >= MAX_IMPAIRED || up.length === 0) return;
    // Half the time aim at the leader: its loss is what the protocol has to get right.
    const leader = up.find((id) => this.#leading.get(id) === true);
    const victim = leader !== undefined && this.#rng.chance(0.5) ? leader : this.#rng.pick(up);
    if (kind === 'pause') this.#pause(victim, this.#rng.range(0.3, 4) * this.#o.leaseMs);
    else {
      this.#crash(victim, kind === 'stop');
      const id = victim;
      this.#later(this.#rng.range(0.5, 4) * this.#o.leaseMs, () => this.#restart(id));
    }
  }

  /** Recomputes every link's state from the partition, one-way and delay layers. */
  #applyNetwork(): void {
    for (const a of this.#ids) {
      for (const b of this.#ids) {
        if (a === b) continue;
        const key = directed(a, b);
        const partitioned = this.#partition?.blocked.has(key) === true ? this.#partition.mode : undefined;
        // A refused pair has no connection to carry data: its flows stay as they are otherwise.
        const mode = this.#oneWay.get(key) ?? (partitioned === 'refuse' ? undefined : partitioned) ?? 'open';
        const delayMs = this.#delay.get(key) ?? 0;
        this.#proxy.setFlow(a, b, { mode, delayMs });
        if (a < b) this.#proxy.setRefused(a, b, partitioned === 'refuse');
      }
    }
  }

  /**
   * Ends a process, with SIGKILL unless `graceful`. A killed leader's interval ends at the kill, which is exact
   * only if its lease was still valid then: a leader whose lease lapsed while it was paused, cut off or starved
   * has not necessarily printed its loss yet, and its interval would look longer than it was. So the node is
   * asked first (`/status`, judged at the moment of asking): it is SIGKILLed if it does not lead by its own
   * account nor by its lines, or if it leads and the kill lands before the lease it reported can have run out.
   * Otherwise it gets SIGTERM, and reports when its leadership really ended.
   */
  #crash(id: number, graceful = false): void {
    this.#state.set(id, 'stopping');
    this.#expectedExit.add(id);
    const leading = this.#leading.get(id) === true;
    this.#track(
      (graceful ? Promise.resolve(() => false) : this.#killable(id)).then(async (killable) => {
        const signal = killable() ? 'SIGKILL' : 'SIGTERM';
        if (signal === 'SIGKILL') this.#process.kills++;
        else this.#process.stops++;
        // A graceful stop takes a round trip and at most the transport's linger; one that hangs is a bug.
        const watchdog =
          signal === 'SIGTERM'
            ? setTimeout(() => {
                this.#failures.push(`node ${id} still running ${STOP_BOUND_MS} ms after SIGTERM`);
                this.#cluster.signal(id, 'SIGKILL');
              }, STOP_BOUND_MS)
            : undefined;
        const exited = this.#cluster.kill(id, signal);
        this.#log(`${signal} node ${id}${leading ? ' (leader)' : ''}`);
        const at = await exited;
        clearTimeout(watchdog);
        if (signal === 'SIGKILL') this.#kills.push({ id, at });
        this.#state.set(id, 'down');
        this.#leading.set(id, false);
      }),
    );
  }

  /** Resolves with a check to make right before sending SIGKILL: whether the kill time ends the leadership exactly. */
  async #killable(id: number): Promise<() => boolean> {
    const url = this.#urls.get(id);
    const never = () => false;
    if (url === undefined) return never;
    const askedAt = this.#now();
    let status: { isLeader: boolean; leaseRemainingMs: number };
    try {
      const response = await fetch(`${url}/status`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(10 * this.#o.leaseMs),
      });
      status = (await response.json()) as typeof status;
    } catch {
      return never;
    }
    if (!status.isLeader) return this.#leading.get(id) === true ? never : () => true;
    // The node read its clock after the request was sent, so its lease ends no earlier than this.
    const validUntil = askedAt + status.leaseRemainingMs;
    return () => this.#now() < validUntil - 1;
  }

  #restart(id: number): void {
    if (this.#state.get(id) !== 'down') return;
    this.#state.set(id, 'starting');
    this.#expectedExit.delete(id);
    this.#process.restarts++;
    this.#leading.set(id, false);
    this.#view.delete(id);
    this.#log(`restart node ${id}`);
    this.#track(
      this.#cluster.spawn(id).then(
        () => {
          this.#state.set(id, 'up');
        },
        (error: Error) => {
          this.#failures.push(`node ${id} failed to restart: ${error.message}`);
        },
      ),
    );
  }

  #pause(id: number, ms: number): void {
    this.#state.set(id, 'paused');
    this.#process.pauses++;
    this.#cluster.signal(id, 'SIGSTOP');
    this.#log(`SIGSTOP node ${id}${this.#leading.get(id) ? ' (leader)' : ''} for ${ms.toFixed(0)} ms`);
    this.#later(ms, () => this.#resume(id));
  }

  #resume(id: number): void {
    if (this.#state.get(id) !== 'paused') return;
    this.#cluster.signal(id, 'SIGCONT');
    this.#state.set(id, 'up');
    this.#log(`SIGCONT node ${id}`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Checks and bookkeeping

  #onEvent(e: NodeProcessEvent): void {
    // A process may report its first leaderChange/gainedLeadership before its 'started' line (start() resolves
    // after the engine runs), so what a restarted node said before is forgotten when it is spawned, not here.
    if (e.event === 'gainedLeadership') this.#leading.set(e.id, true);
    else if (e.event === 'lostLeadership') this.#leading.set(e.id, false);
    else if (e.event === 'leaderChange') this.#view.set(e.id, e.leaderId as number | null);
    else if (e.event === 'http' && typeof e.url === 'string') this.#urls.set(e.id, e.url);
  }

  #checkSafety(): void {
    const { intervals, problems } = leadershipIntervals(this.#cluster.history, this.#kills);
    const violations = [...problems, ...overlaps(intervals), ...termRegressions(intervals)];
    if (violations.length > 0) throw this.#failure(`safety violated:\n${violations.join('\n')}`);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failures.length > 0) throw this.#failure(this.#failures.join('\n'));
  }

  #failure(message: string): ChaosFailure {
    const leadership = this.#cluster.history
      .filter((e) => e.event === 'gainedLeadership' || e.event === 'lostLeadership' || e.event === 'started')
      .slice(-40)
      .map(
        (e) =>
          `${this.#rel(e.mono)} node ${e.id} ${e.event}${e.term === undefined ? '' : ` term ${e.term}`}` +
          `${e.reason === undefined ? '' : ` ${e.reason}`}${e.endedMsAgo ? ` endedMsAgo ${e.endedMsAgo}` : ''}` +
          `${e.beganMsAgo ? ` beganMsAgo ${e.beganMsAgo}` : ''}`,
      );
    return new ChaosFailure(
      `chaos seed ${this.#o.seed}: ${message}\nreplay: ${this.#o.replay}\n` +
        `--- last driver actions ---\n${this.#trace.slice(-40).join('\n')}\n` +
        `--- last leadership lines (mono s since start) ---\n${leadership.join('\n')}`,
    );
  }

  #report(): ChaosReport {
    const { intervals } = leadershipIntervals(this.#cluster.history, this.#kills);
    return {
      seed: this.#o.seed,
      faultSeconds: this.#o.faultMs / 1000,
      wallSeconds: (this.#now() - this.#t0) / 1000,
      ...this.#counts,
      ...this.#process,
      leaderships: intervals.length,
      overlaps: overlaps(intervals).length,
      termRegressions: termRegressions(intervals).length,
      maxLeaderAfterHealMs: this.#maxLeader,
      maxLowestAfterHealMs: this.#maxLowest,
      proxy: { ...this.#proxy.stats },
    };
  }

  /** Waits for every kill, stop and restart under way. */
  async #settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    this.#throwIfFailed();
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }

  #shuffled(ids: readonly number[]): number[] {
    const out = [...ids];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.#rng.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  #now(): number {
    return monotonicNow();
  }

  #rel(mono: number): string {
    return ((mono - this.#t0) / 1000).toFixed(3);
  }

  #log(line: string): void {
    const stamped = `${this.#rel(this.#now())} ${line}`;
    this.#trace.push(stamped);
    if (this.#trace.length > 400) this.#trace.splice(0, 200);
    this.#o.log?.(stamped);
  }
}
