import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokenBroadcast } from './sim/broadcast-workload.ts';
import { runScenario, scenarioFor } from './sim/scenarios.ts';
import { InvariantViolation, Simulator } from './sim/simulator.ts';

/**
 * The broadcast under every fault of the simulator (partitions, one-way cuts, drops, duplicates, long delays,
 * crashes and restarts, pauses, link flaps, stalls, health flaps): whoever leads appends about once per heartbeat,
 * and besides every election invariant, the broadcast's are checked after every event (broadcast-workload.ts):
 * commit only with a majority storing the entry, per-process delivery in `(term, index)` order without gaps except
 * catch-ups, catch-ups only of committed entries, a failed entry never committed. A failure names its seed:
 * `npm run sim -- --seed N --appends` replays it; `npm run sim -- --seeds 3000 --appends` runs a campaign.
 */
const SEEDS = Number(process.env.SIM_BROADCAST_SEEDS ?? 120);

describe('deterministic simulation with broadcast', () => {
  it(`holds the election's and the broadcast's invariants, and liveness, for ${SEEDS} seeds`, () => {
    const total = { appends: 0, commits: 0, deliveries: 0, catchUps: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = runScenario(seed, { appends: true });
      for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += result.broadcast![key];
    }
    // The runs must exercise the broadcast, commits and catch-ups, or passing means nothing.
    assert.ok(total.appends > SEEDS * 50, `only ${total.appends} appends`);
    assert.ok(total.commits > SEEDS * 20, `only ${total.commits} commits`);
    assert.ok(total.catchUps > SEEDS / 2, `only ${total.catchUps} catch-ups`);
  });

  it('replays a seed with appends exactly', () => {
    assert.deepEqual(runScenario(7, { appends: true }), runScenario(7, { appends: true }));
  });

  /** Runs seeds with a broken broadcast until an invariant catches it; returns the first catching message. */
  const caught = (broken: BrokenBroadcast): string => {
    for (let seed = 1; seed <= 200; seed++) {
      const options = scenarioFor(seed);
      try {
        new Simulator({ ...options, appendEveryMs: options.timing.heartbeatIntervalMs, brokenBroadcast: broken }).run();
      } catch (error) {
        if (error instanceof InvariantViolation && error.message.includes('broadcast:')) {
          return error.message.split('\n')[0]!;
        }
        throw error;
      }
    }
    return 'not caught';
  };

  it('catches a leader that commits with one confirmation fewer than a majority', () => {
    assert.match(caught('majority-minus-one'), /committed by node \d+ with only/);
  });

  it("catches followers that do not fence a deposed leader's late entries", () => {
    assert.match(caught('no-fence'), /delivered \d+:\d+ after \d+:\d+/);
  });

  it('catches followers that deliver across gaps (every entry taken as a catch-up)', () => {
    assert.match(caught('everything-catch-up'), /as a catch-up, but it was not committed|delivered/);
  });
});
