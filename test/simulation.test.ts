import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLiveness, runScenario, scenarioFor } from './sim/scenarios.ts';
import { type FaultCommand, InvariantViolation, type SimOptions, Simulator } from './sim/simulator.ts';

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

  it('holds safety and liveness for 200 seeds when partitions hold messages and deliver them at the heal (TCP)', () => {
    let held = 0;
    for (let seed = FIRST; seed < FIRST + 200; seed++) held += runScenario(seed, { tcpHold: true }).faults.held ?? 0;
    // The bursts after a heal must really happen.
    assert.ok(held > 200 * 50, `only ${held} held messages`);
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

  /** A seed's scenario with the lowest non-witness ID unhealthy from the stable phase on, healthy again at `backAt`. */
  const returning = (seed: number, extra: Partial<SimOptions>, backAt: (lease: number) => number): SimOptions => {
    const options = scenarioFor(seed);
    const lease = options.timing.leaseMs;
    const lowest = Math.min(...options.ids.filter((id) => !(extra.voterOnly ?? []).includes(id)));
    return {
      ...options,
      permanentlyDown: 0,
      healthFlaps: true,
      stableHealth: [
        { id: lowest, healthy: false, at: 0 },
        { id: lowest, healthy: true, at: backAt(lease) },
      ],
      ...extra,
    };
  };

  it('health flaps, witnesses and both preemption settings: no witness or unhealthy node leads; the right one does', () => {
    let flaps = 0;
    let preemptions = 0;
    let witnesses = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const base = scenarioFor(seed);
      const voterOnly = base.ids.length >= 3 ? [Math.min(...base.ids)] : [];
      witnesses += voterOnly.length;
      const variants: Partial<SimOptions>[] = [
        { voterOnly, preempt: true, preemptDelayMs: 0 },
        { voterOnly, preempt: true, preemptDelayMs: base.timing.leaseMs },
        { voterOnly, preempt: false, preemptDelayMs: 0 },
      ];
      const options = returning(seed, variants[seed % 3]!, (lease) => 4 * lease);
      const result = checkLiveness(options, new Simulator(options).run());
      flaps += result.faults['health-flap'] ?? 0;
      preemptions += result.preemptionsChecked;
    }
    // The runs must exercise what they claim to, or passing means nothing.
    assert.ok(flaps > 100, `only ${flaps} health flaps`);
    assert.ok(preemptions > 30, `only ${preemptions} preemptions checked`);
    assert.ok(witnesses > 30, `only ${witnesses} witnesses`);
  });

  /** Runs seeds until one violates an invariant; returns the violation (or null: the checker is blind). */
  const firstViolation = (make: (seed: number) => SimOptions, seeds = 150): InvariantViolation | null => {
    for (let seed = 1; seed <= seeds; seed++) {
      try {
        new Simulator(make(seed)).run();
      } catch (error) {
        if (!(error instanceof InvariantViolation)) throw error;
        return error;
      }
    }
    return null;
  };

  it('catches a witness that leads when the core is not told it is voter-only', () => {
    const caught = firstViolation((seed) => {
      const options = scenarioFor(seed);
      return { ...options, voterOnly: [Math.min(...options.ids)], brokenVoterOnly: true };
    });
    assert.ok(caught, 'no violation found: the witness invariant is blind');
    assert.match(caught.message, /voter-only node \d+ leads/);
  });

  it('catches an unhealthy leader when the core is not told of health changes', () => {
    const caught = firstViolation((seed) => returning(seed, { brokenHealth: true }, (lease) => 4 * lease));
    assert.ok(caught, 'no violation found: the health invariant is blind');
    assert.match(caught.message, /leads while unhealthy/);
  });

  it('catches a preemption when the core ignores preempt: false', () => {
    const caught = firstViolation((seed) =>
      returning(seed, { preempt: false, brokenPreempt: true }, (lease) => 4 * lease),
    );
    assert.ok(caught, 'no violation found: the no-preempt invariant is blind');
    assert.match(caught.message, /preempted by \d+ although preempt is false/);
  });

  it('catches a preemption sooner than preemptDelayMs when the core ignores the delay', () => {
    const caught = firstViolation((seed) => {
      const lease = scenarioFor(seed).timing.leaseMs;
      return returning(seed, { preemptDelayMs: 2 * lease, brokenPreempt: true }, () => 4 * lease);
    });
    assert.ok(caught, 'no violation found: the preemption-delay invariant is blind');
    assert.match(caught.message, /preempted \d+ [\d.]+ ms after it could lead \(preemptDelayMs \d+\)/);
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
