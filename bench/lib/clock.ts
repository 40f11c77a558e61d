/**
 * The one clock every bench process shares.
 *
 * `process.hrtime.bigint()` reads CLOCK_MONOTONIC on Linux, which is a single system-wide clock: a timestamp taken
 * in a child process can be subtracted from one taken in the orchestrator. `Date.now()` can jump (NTP, manual
 * changes) and has only millisecond resolution, so it must never be used for latencies.
 */

/** Monotonic time in milliseconds (microsecond resolution), comparable across all processes on this machine. */
export function nowMs(): number {
  // Divide in bigint first: the raw nanosecond count exceeds 2^53 after ~104 days of uptime.
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** Milliseconds elapsed since `startMs` (a value from {@link nowMs}). */
export function elapsedMs(startMs: number): number {
  return nowMs() - startMs;
}
