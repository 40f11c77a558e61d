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
    ...leadershipScenario(rng, ids, timing.leaseMs),
  };
}

/**
 * Half the seeds also exercise who may lead (issue 9): witnesses, health flaps during the faults, the lowest node
 * unhealthy at the start of the stable phase and healthy again later (it must take over, no sooner than
 * `preemptDelayMs`; or with `preempt: false` not at all), or every node unhealthy (then nobody may lead). Drawn
 * after everything else, so the rest of a seed's scenario is what it always was.
 */
function leadershipScenario(rng: Prng, ids: number[], leaseMs: number): Partial<SimOptions> {
  if (!rng.chance(0.5)) return {};
  const sorted = [...ids].sort((a, b) => a - b);
  const voterOnly = ids.length >= 2 && rng.chance(0.3) ? [rng.pick(ids)] : [];
  const preempt = !rng.chance(0.25);
  const preemptDelayMs = preempt ? rng.pick([0, 0, leaseMs / 2, 2 * leaseMs]) : 0;
  const candidates = sorted.filter((id) => !voterOnly.includes(id));
  const roll = rng.next();
  let stableHealth: SimOptions['stableHealth'] = [];
  if (roll < 0.4) {
    const lowest = candidates[0]!;
    const back = rng.range(0.5, 4) * leaseMs;
    stableHealth = [
      { id: lowest, healthy: false, at: 0 },
      { id: lowest, healthy: true, at: back },
    ];
  } else if (roll < 0.5) {
    stableHealth = candidates.map((id) => ({ id, healthy: false, at: 0 }));
  }
  return { voterOnly, preempt, preemptDelayMs, healthFlaps: rng.chance(0.6), stableHealth };
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

export function runScenario(seed: number, extra: { appends?: boolean; tcpHold?: boolean } = {}): SimResult {
  const scenario = scenarioFor(seed);
  // With --tcp-hold, what partitions block arrives after the heal instead of being lost (SimOptions.holdCutMessages).
  const base = extra.tcpHold === true ? { ...scenario, holdCutMessages: true } : scenario;
  // With appends, whoever leads appends about once per heartbeat, under all the faults (broadcast-workload.ts).
  const options = extra.appends === true ? { ...base, appendEveryMs: base.timing.heartbeatIntervalMs } : base;
  const result = new Simulator(options).run();
  return checkLiveness(options, result);
}

/** Liveness once the network is stable: a leader within the bound, and the right one at the end. */
export function checkLiveness(options: SimOptions, result: SimResult): SimResult {
  const seed = options.seed;
  if (result.expectedFinalLeader === null) {
    // Every live node that could lead is unhealthy (or a witness): nobody may lead.
    if (result.finalLeader !== null)
      throw new Error(`seed ${seed}: ${result.finalLeader} leads, but nobody is eligible`);
    return result;
  }
  // A node turning healthy during the stable phase may be the first that can lead at all.
  const lastChange = Math.max(0, ...(options.stableHealth ?? []).filter((c) => c.healthy).map((c) => c.at));
  const bound = livenessBoundMs(options) + lastChange;
  if (result.stableLeaderAfterMs === null || result.stableLeaderAfterMs > bound) {
    throw new Error(
      `seed ${seed}: no leader within ${bound.toFixed(0)} ms of the network turning stable (first leader after ${result.stableLeaderAfterMs} ms)`,
    );
  }
  if (result.noPreempt) {
    // Without preemption the leader is whichever healthy, eligible node got there first, and it stays.
    if (result.finalLeader === null || !result.eligible.includes(result.finalLeader)) {
      throw new Error(`seed ${seed}: stable leader is ${result.finalLeader}, expected one of ${result.eligible}`);
    }
    return result;
  }
  if (result.finalLeader !== result.expectedFinalLeader) {
    throw new Error(
      `seed ${seed}: stable leader is ${result.finalLeader}, expected the lowest healthy eligible live ID ${result.expectedFinalLeader}`,
    );
  }
  return result;
}
