/**
 * The one clock every bench process shares.
 *
 * `process.hrtime.bigint()` reads CLOCK_MONOTONIC on Linux, which is a single system-wide clock: a timestamp taken
 * in a child process can be subtracted from one taken in the orchestrator. `Date.now()` can jump (NTP, manual
 * changes) and has only millisecond resolution, so it must never be used for latencies.
 */

import { monotonicMs } from '../../src/util/monotonic.ts';

/** Monotonic time in milliseconds (microsecond resolution), comparable across all processes on this machine. */
export const nowMs = monotonicMs;

/** Milliseconds elapsed since `startMs` (a value from {@link nowMs}). */
export function elapsedMs(startMs: number): number {
  return nowMs() - startMs;
}
