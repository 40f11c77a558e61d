/**
 * Milliseconds (microsecond resolution) on CLOCK_MONOTONIC, the one system-wide monotonic clock on Linux: a value
 * read in one process can be subtracted from a value read in another on the same host. The CLI stamps every JSON
 * line with it (`mono`), and the tests, the demo and the benchmarks measure against the same clock.
 */
export function monotonicMs(): number {
  // Divide in bigint first: the raw nanosecond count exceeds 2^53 after ~104 days of uptime.
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
