/**
 * The leadership view shared between the election engine and the `ElectionNode` facade: a `SharedArrayBuffer`
 * that the engine writes after every core call (`applyEffects` step 2) and the facade reads synchronously, so
 * `isLeader` is exact at the moment of reading even while the engine's thread is busy or a message is in flight.
 *
 * Times are on the host-wide monotonic clock (`monotonicMs`, CLOCK_MONOTONIC), the one clock every thread
 * agrees on; `performance.now()` would not do, its origin is per thread. The engine is the only writer of the
 * view (a seqlock keeps a reader from seeing half an update); the facade is the only writer of the heartbeat by
 * which the main thread proves it runs (`maxStallMs`).
 * @module
 */
import type { LeadershipView } from '../core/election-core.ts';

const SEQ = 0;
/** Int32 slots: the seqlock, then the sync-query flag (see engine-host.ts). */
const INT32_SLOTS = 2;
/** Float64 slots after the Int32 ones, 8-byte aligned. */
const LEASE = 0;
const TERM = 1;
const LEADER = 2;
const LEADER_UNTIL = 3;
const F64_SLOTS = 4;
const F64_OFFSET = 8;
/** BigInt64 slot for the main thread's heartbeat (µs), written and read with Atomics. */
const ALIVE_OFFSET = F64_OFFSET + 8 * F64_SLOTS;
const BYTES = ALIVE_OFFSET + 8;

/** Index of the Int32 slot that the sync status query uses to signal its reply. */
export const QUERY_FLAG = 1;

export class SharedView {
  readonly buffer: SharedArrayBuffer;
  readonly int32: Int32Array;
  readonly #f64: Float64Array;
  readonly #alive: BigInt64Array;

  /** Wraps `buffer` (from the other thread), or allocates a new one. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer;
    this.int32 = new Int32Array(buffer, 0, INT32_SLOTS);
    this.#f64 = new Float64Array(buffer, F64_OFFSET, F64_SLOTS);
    this.#alive = new BigInt64Array(buffer, ALIVE_OFFSET, 1);
    if (Atomics.load(this.int32, SEQ) === 0 && this.#f64[LEASE] === 0) {
      this.#f64[LEASE] = Number.NEGATIVE_INFINITY;
      this.#f64[LEADER_UNTIL] = Number.NEGATIVE_INFINITY;
    }
  }

  /** Engine side: publishes the core's view. */
  publish(view: LeadershipView): void {
    Atomics.add(this.int32, SEQ, 1);
    this.#f64[LEASE] = view.leaseExpiry;
    this.#f64[TERM] = view.term;
    this.#f64[LEADER] = view.leaderId ?? 0;
    this.#f64[LEADER_UNTIL] = view.leaderUntil;
    Atomics.add(this.int32, SEQ, 1);
  }

  /** Facade side: a consistent snapshot of the last published view. */
  read(): LeadershipView {
    for (;;) {
      const before = Atomics.load(this.int32, SEQ);
      if (before % 2 === 0) {
        const leaseExpiry = this.#f64[LEASE]!;
        const term = this.#f64[TERM]!;
        const leader = this.#f64[LEADER]!;
        const leaderUntil = this.#f64[LEADER_UNTIL]!;
        if (Atomics.load(this.int32, SEQ) === before) {
          return { leaseExpiry, term, leaderId: leader === 0 ? null : leader, leaderUntil };
        }
      }
    }
  }

  /** Main thread: proves it is running, at `now` (monotonic ms). */
  beat(now: number): void {
    Atomics.store(this.#alive, 0, BigInt(Math.round(now * 1000)));
  }

  /** Engine side: when the main thread last proved it runs (monotonic ms), or -Infinity if it never did. */
  lastBeat(): number {
    const micros = Atomics.load(this.#alive, 0);
    return micros === 0n ? Number.NEGATIVE_INFINITY : Number(micros) / 1000;
  }
}
