import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScenario, scenarioFor } from './sim/scenarios.ts';
import { type FaultCommand, InvariantViolation, Simulator } from './sim/simulator.ts';

/**
 * Deterministic simulation: hundreds of seeded runs with partitions, one-way cuts, drops, duplicates, long delays,
 * crashes and restarts, pauses longer than the lease, late timers and clock drift. Safety is checked after every
 * event (never two leaders at one instant; terms strictly increase per leadership when state persists), liveness
 * once the network is stable (a leader within the bound; the lowest live ID leads in the end).
 * A failure names its seed; `npm run sim -- --seed N --verbose` replays it exactly. `npm run sim -- --seeds 100000`
 * runs a long campaign.
 */
const SEEDS = Number(process.env.SIM_SEEDS ?? 400);
const FIRST = Number(process.env.SIM_FIRST_SEED ?? 1);

describe('deterministic simulation', () => {
  it(`holds safety and liveness for ${SEEDS} seeds`, () => {
    let leaderships = 0;
    let faults = 0;
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const result = runScenario(seed);
      leaderships += result.leaderships.length;
      faults += Object.values(result.faults).reduce((a, b) => a + b, 0);
    }
    // The runs must actually exercise elections and faults, or passing means nothing.
    assert.ok(leaderships > SEEDS * 2, `only ${leaderships} leaderships`);
    assert.ok(faults > SEEDS * 5, `only ${faults} faults`);
  });

  it('replays a seed exactly', () => {
    const a = runScenario(42);
    const b = runScenario(42);
    assert.deepEqual(a, b);
  });

  it('keeps safety and paired events when writing the state file fails (votes not durable are not counted)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const options = scenarioFor(seed);
      new Simulator({ ...options, persistence: true, persistFailRate: 0.3 }).run();
    }
  });

  const stallRun = (seed: number, brokenStall: boolean) => {
    const options = scenarioFor(seed);
    const lease = options.timing.leaseMs;
    const [first, second] = [...options.ids].sort((a, b) => a - b);
    const schedule: FaultCommand[] = [
      { at: 3 * lease, kind: 'stall', id: first!, forMs: 3 * lease },
      { at: 4 * lease, kind: 'pause', id: first!, forMs: lease / 2 },
      { at: 5 * lease, kind: 'stall', id: second ?? first!, forMs: lease / 3 },
      { at: 7 * lease, kind: 'stall', id: first!, forMs: lease },
    ];
    return new Simulator({ ...options, faultMs: 10 * lease, schedule, brokenStall }).run();
  };

  it('a node whose application stalls (maxStallMs) stands down at once and never leads while stalled', () => {
    let stalls = 0;
    for (let seed = 1; seed <= 80; seed++) stalls += stallRun(seed, false).faults.stall ?? 0;
    assert.ok(stalls > 100, `only ${stalls} stalls injected`);
  });

  it('catches a stalled leader when the core is not told of the stall', () => {
    let caught: InvariantViolation | null = null;
    for (let seed = 1; seed <= 80 && caught === null; seed++) {
      try {
        stallRun(seed, true);
      } catch (error) {
        if (!(error instanceof InvariantViolation)) throw error;
        caught = error;
      }
    }
    assert.ok(caught, 'no violation found: the stall invariant is blind');
    assert.match(caught.message, /while its application is stalled/);
  });

  it('catches a leader without gainedLeadership when a failed write is ignored (defect 2 as a mutant)', () => {
    let caught: InvariantViolation | null = null;
    for (let seed = 1; seed <= 300 && caught === null; seed++) {
      const options = scenarioFor(seed);
      try {
        new Simulator({ ...options, persistence: true, persistFailRate: 0.3, brokenPersistFailure: true }).run();
      } catch (error) {
        if (!(error instanceof InvariantViolation)) throw error;
        caught = error;
      }
    }
    assert.ok(caught, 'no violation found: the pairing invariant is blind');
    assert.match(caught.message, /without gainedLeadership|without having gained|still open/);
  });

  it('catches two leaders when clocks drift beyond the configured bound', () => {
    // The checker must be able to fail: nodes told "no drift" whose clocks drift 20% do overlap.
    let caught: InvariantViolation | null = null;
    for (let seed = 1; seed <= 300 && caught === null; seed++) {
      const options = scenarioFor(seed);
      try {
        new Simulator({ ...options, timing: { ...options.timing, maxDriftRate: 0 }, actualDriftRate: 0.2 }).run();
      } catch (error) {
        if (!(error instanceof InvariantViolation)) throw error;
        caught = error;
      }
    }
    assert.ok(caught, 'no violation found: the invariant checker is blind');
    assert.match(caught.message, /two leaders at once/);
    assert.match(caught.message, /^seed \d+:/);
  });
});
