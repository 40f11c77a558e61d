import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport, runChaos } from './chaos/chaos.ts';

/**
 * Chaos with five real processes whose every byte crosses a fault-injecting proxy: partitions (majority/minority,
 * bridge, one-way), stalls, drops, delays, flaps, SIGKILL, SIGTERM, SIGSTOP/SIGCONT and restarts, on a seeded
 * schedule, alternating with heals. Checked: reported leaderships never overlap and their terms grow; after each
 * heal a leader appears within the bound and the lowest live ID ends up leading (see test/chaos/chaos.ts).
 * A short budget keeps `npm test` fast; `npm run chaos -- --minutes 10` is the long run.
 * Replay a failure with CHAOS_SEED=<seed> (and CHAOS_FAULT_MS to lengthen it).
 */
const SEED = Number(process.env.CHAOS_SEED ?? 1);
const FAULT_MS = Number(process.env.CHAOS_FAULT_MS ?? 12_000);

describe('chaos with real processes', () => {
  it(`stays safe and live under a seeded fault schedule (seed ${SEED})`, { timeout: 180_000 }, async (t) => {
    const report = await runChaos({
      seed: SEED,
      faultMs: FAULT_MS,
      heartbeatMs: 20,
      leaseMs: 200,
      replay: `CHAOS_SEED=${SEED} CHAOS_FAULT_MS=${FAULT_MS} node --import tsx --test test/chaos.test.ts`,
    });
    t.diagnostic(formatReport(report));
    assert.equal(report.overlaps, 0);
    assert.equal(report.termRegressions, 0);
    // Passing means little unless the schedule really hit the cluster.
    assert.ok(report.rounds >= 2, `only ${report.rounds} heals`);
    assert.ok(report.partitions + report.oneWay > 0, 'no network faults');
    assert.ok(report.kills + report.stops + report.pauses > 0, 'no process faults');
    assert.ok(report.leaderships > report.rounds, `only ${report.leaderships} leaderships`);
  });
});
