import { Prng } from './prng.ts';
import { type SimOptions, type SimResult, Simulator } from './simulator.ts';

/**
 * Draws a whole simulation scenario from one seed (cluster size, IDs, timing, persistence, fault mix), runs it,
 * and checks liveness on top of the safety the simulator checks after every event.
 */

export function scenarioFor(seed: number): SimOptions {
  const rng = new Prng(seed ^ 0x5eed);
  const n = rng.pick([1, 2, 3, 3, 3, 4, 5, 5, 5, 7]);
  const ids = rng.chance(0.5) ? Array.from({ length: n }, (_, i) => i + 1) : randomIds(rng, n);
  const timing = rng.chance(0.5)
    ? { heartbeatIntervalMs: 100, leaseMs: 1000, peerTimeoutMs: 400, maxDriftRate: 0.01 }
    : { heartbeatIntervalMs: 50, leaseMs: 300, peerTimeoutMs: 150, maxDriftRate: rng.pick([0, 0.001, 0.01, 0.05]) };
  const majority = Math.floor(n / 2) + 1;
  return {
    seed,
    ids,
    timing,
    persistence: rng.chance(0.8),
    faultMs: rng.range(5, 15) * timing.leaseMs,
    stableMs: 12 * timing.leaseMs,
    faultEveryMs: rng.range(0.2, 1.5) * timing.leaseMs,
    permanentlyDown: rng.int(0, n - majority),
  };
}

function randomIds(rng: Prng, n: number): number[] {
  const ids = new Set<number>();
  while (ids.size < n) ids.add(rng.int(1, rng.chance(0.5) ? 20 : Number.MAX_SAFE_INTEGER));
  return [...ids];
}

/**
 * After the network turns stable at time s, old vote-leases end within a lease of voter time, restarted nodes
 * become ready within a lease, and messages the fault phase delayed by up to two leases still land. A leader must
 * exist once all that has drained, plus a few heartbeats of election rounds; a failed candidate's cooldown
 * (2 leases) can delay the lowest ID taking over, so the final leader is checked at the very end.
 */
export function livenessBoundMs(options: SimOptions): number {
  const { leaseMs, heartbeatIntervalMs, maxDriftRate } = options.timing;
  return (3 * leaseMs) / (1 - maxDriftRate) + 10 * heartbeatIntervalMs;
}

export function runScenario(seed: number): SimResult {
  const options = scenarioFor(seed);
  const result = new Simulator(options).run();
  const bound = livenessBoundMs(options);
  if (result.stableLeaderAfterMs === null || result.stableLeaderAfterMs > bound) {
    throw new Error(
      `seed ${seed}: no leader within ${bound.toFixed(0)} ms of the network turning stable (first leader after ${result.stableLeaderAfterMs} ms)`,
    );
  }
  if (result.finalLeader !== result.expectedFinalLeader) {
    throw new Error(
      `seed ${seed}: stable leader is ${result.finalLeader}, expected the lowest live ID ${result.expectedFinalLeader}`,
    );
  }
  return result;
}
