import type { BroadcastEvent } from '../../src/core/broadcast.ts';
import type { CoreEvent, Effects, ElectionCore } from '../../src/core/election-core.ts';
import type { Append } from '../../src/core/messages.ts';
import { Prng } from './prng.ts';

/**
 * The broadcast (append/confirm/commit, docs/protocol.md §12) under the simulator's faults: whoever leads appends
 * small entries all along, followers' applications confirm after a random delay (some never), and four
 * invariants are checked on every event:
 *
 * 1. **commit ⇒ majority**: a leader reports `(term, index)` committed only once a majority (itself included)
 *    stored it: the leader when it took it, followers when their application confirmed it (crashed since or not).
 * 2. **order**: each process delivers entries in strictly increasing `(term, index)`; without the catch-up flag,
 *    `index` is `last + 1` in the same term, or 1 in a new term. So no lower term after a higher one (a deposed
 *    leader's late entries are refused), and never `index + 1` before `index`.
 * 3. **catch-up ⇒ committed**: an entry delivered as a catch-up was committed by its leader before.
 * 4. **failed is final**: an entry a leader reported failed (leadership ended) is never reported committed.
 *
 * It draws from its own PRNG, so enabling it changes nothing in the election's random choices.
 */

/** Deliberately broken variants, each of which one invariant must catch. */
export type BrokenBroadcast =
  /** The leader needs one confirmation fewer than a majority. Invariant 1. */
  | 'majority-minus-one'
  /** Followers ignore the fence: a lower term's entry resets them and is delivered. Invariant 2. */
  | 'no-fence'
  /** Followers take every entry as a catch-up (gaps and uncommitted jumps accepted). Invariant 3 (or 2). */
  | 'everything-catch-up';

/** What the workload needs from the simulator. */
export interface BroadcastHost {
  readonly now: number;
  majority: number;
  /** The node's live core, its clock now, and its process generation; null while crashed. */
  node(id: number): { core: ElectionCore; local: number; generation: number } | null;
  /**
   * At `at` (real time), runs `input` on `id`'s core and applies its effects, if the node is up and (unless
   * `generation` is null) still the same process; a paused process runs it when it resumes.
   */
  schedule(
    at: number,
    id: number,
    generation: number | null,
    input: (core: ElectionCore, local: number) => Effects,
  ): void;
  /** Runs `run` at `at` (real time), whatever the nodes' state. */
  later(at: number, run: () => void): void;
  fail(message: string): never;
}

export class BroadcastWorkload {
  private readonly rng: Prng;
  private nextRequest = 1;
  /** `term:index` → nodes that stored it. */
  private readonly stored = new Map<string, Set<number>>();
  /** Entries committed, by {@link key} (any process of their leader). */
  private readonly committed = new Set<string>();
  /** `generation/key` of entries each leader process took, reported failed, reported committed. */
  private readonly taken = new Set<string>();
  private readonly failed = new Set<string>();
  private readonly committedHere = new Set<string>();
  /**
   * Per node and process generation: the term it leads now. A `committed` event is the leader's report only while
   * its process leads that term; otherwise it is a follower's notice of another leader's entry, which may carry the
   * same `(term, index)` as one this process took as leader earlier (terms are reused without `stateDir`; seed
   * 3027733).
   */
  private readonly leading = new Map<string, number>();
  /** Per node and process generation: the last entry delivered. */
  private readonly last = new Map<string, { term: number; index: number }>();
  appends = 0;
  commits = 0;
  deliveries = 0;
  catchUps = 0;

  constructor(
    seed: number,
    private readonly ids: readonly number[],
    private readonly everyMs: number,
    private readonly host: BroadcastHost,
    private readonly broken?: BrokenBroadcast,
  ) {
    this.rng = new Prng(seed ^ 0xb0ad);
  }

  /** Starts the append ticks (every node tries; only the leader's are accepted). */
  start(): void {
    for (const id of this.ids) this.tick(id);
  }

  /** A (re)started process: apply the broken variant to its core, if any. */
  booted(core: ElectionCore): void {
    if (this.broken === undefined) return;
    // biome-ignore lint/suspicious/noExplicitAny: a mutant reaches into the core's private broadcast on purpose
    const appends = (core as any).appends;
    if (this.broken === 'majority-minus-one') appends.majority = Math.max(1, appends.majority - 1);
    const onAppend = appends.onAppend.bind(appends);
    if (this.broken === 'no-fence') {
      appends.onAppend = (from: number, m: Append) => {
        if (m.term < appends.fence || (appends.follower !== null && m.term < appends.follower.term)) {
          appends.fence = 0;
          appends.follower = null;
          onAppend(from, { ...m, catchUp: true });
        } else onAppend(from, m);
      };
    }
    if (this.broken === 'everything-catch-up') {
      appends.onAppend = (from: number, m: Append) => onAppend(from, { ...m, catchUp: true });
    }
  }

  private tick(id: number): void {
    const at = this.host.now + this.rng.range(0.2, 2) * this.everyMs;
    this.host.later(at, () => {
      this.host.schedule(this.host.now, id, null, (core, local) => {
        const requestId = this.nextRequest++;
        return core.append(requestId, new Uint8Array(this.rng.int(0, 16)), local);
      });
      this.tick(id);
    });
  }

  /**
   * Called for every core event the simulator applies, with the emitting process's generation. Entries are keyed
   * by their leader as well as `(term, index)`: without `stateDir`, a cluster that restarted as a whole may elect
   * with terms it used before (each node's fence then refuses the lower ones, which is checked here too).
   */
  onEvent(id: number, generation: number, event: CoreEvent): void {
    if (event.type === 'gained') this.leading.set(`${id}/${generation}`, event.term);
    if (event.type === 'lost') this.leading.delete(`${id}/${generation}`);
    if (!isBroadcast(event)) return;
    switch (event.type) {
      case 'append-accepted': {
        this.appends++;
        this.stored.set(key(id, event.term, event.index), new Set([id]));
        this.taken.add(`${generation}/${key(id, event.term, event.index)}`);
        break;
      }
      case 'committed': {
        const k = key(id, event.term, event.index);
        const stored = this.stored.get(k);
        const mine = `${generation}/${k}`;
        // Reported by the leader (the node that took the entry, leading its term now): a majority must have stored it.
        if (this.leading.get(`${id}/${generation}`) !== event.term) break;
        if (stored === undefined || stored.values().next().value !== id || !this.taken.has(mine)) break;
        if (stored.size < this.host.majority) {
          this.host.fail(`broadcast: ${k} committed by node ${id} with only ${[...stored].join(',')} storing it`);
        }
        if (this.failed.has(mine)) this.host.fail(`broadcast: ${k} committed after it was reported failed`);
        this.committed.add(k);
        this.committedHere.add(mine);
        this.commits++;
        break;
      }
      case 'append-failed': {
        const mine = `${generation}/${key(id, event.term, event.index)}`;
        this.failed.add(mine);
        if (this.committedHere.has(mine)) this.host.fail(`broadcast: ${mine} failed after it was reported committed`);
        break;
      }
      case 'delivered': {
        this.deliveries++;
        if (event.catchUp) this.catchUps++;
        const slot = `${id}/${generation}`;
        const last = this.last.get(slot);
        const k = key(event.leaderId, event.term, event.index);
        const show = (e: { term: number; index: number } | undefined) => (e ? `${e.term}:${e.index}` : 'nothing');
        if (last !== undefined && !after(event, last)) {
          this.host.fail(`broadcast: node ${id} delivered ${show(event)} after ${show(last)}`);
        }
        if (!event.catchUp) {
          const next =
            last !== undefined && last.term === event.term ? event.index === last.index + 1 : event.index === 1;
          if (!next) this.host.fail(`broadcast: node ${id} delivered ${show(event)} after ${show(last)}`);
        } else if (!this.committed.has(k)) {
          this.host.fail(`broadcast: node ${id} got ${k} as a catch-up, but it was not committed`);
        }
        this.last.set(slot, { term: event.term, index: event.index });
        // The application stores it after a while, or (now and then) never.
        if (this.rng.chance(0.05)) break;
        const at = this.host.now + (this.rng.chance(0.8) ? this.rng.range(0, 5) : this.rng.range(5, 200));
        this.host.schedule(at, id, generation, (core, local) => {
          this.stored.get(k)?.add(id);
          return core.confirmAppend(event.term, event.index, local);
        });
        break;
      }
      default:
        break;
    }
  }
}

/** An entry, by the leader that took it: `leader/term:index`. */
const key = (leader: number, term: number, index: number) => `${leader}/${term}:${index}`;

function after(a: { term: number; index: number }, b: { term: number; index: number }): boolean {
  return a.term > b.term || (a.term === b.term && a.index > b.index);
}

function isBroadcast(event: CoreEvent): event is BroadcastEvent {
  return (
    event.type === 'append-accepted' ||
    event.type === 'append-refused' ||
    event.type === 'append-failed' ||
    event.type === 'committed' ||
    event.type === 'delivered'
  );
}
