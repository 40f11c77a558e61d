import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leadershipIntervals, leadershipViolations } from '../src/testing/leadership-intervals.ts';
import type { NodeProcessEvent } from '../src/testing/process-cluster.ts';

/** The interval checker that the process, chaos and demo runs rely on: it must catch what it claims to. */
const ev = (id: number, mono: number, event: string, fields: Record<string, unknown> = {}): NodeProcessEvent =>
  ({ id, mono, event, ...fields }) as NodeProcessEvent;

describe('leadership intervals', () => {
  it('accepts a clean handover and ends a loss at its endedMsAgo', () => {
    const history = [
      ev(1, 100, 'gainedLeadership', { term: 1 }),
      ev(1, 500, 'lostLeadership', { term: 1, reason: 'lease-expired', endedMsAgo: 100 }),
      ev(2, 450, 'gainedLeadership', { term: 2 }),
    ];
    assert.deepEqual(leadershipViolations(history, []), []);
    assert.equal(leadershipIntervals(history, []).intervals[0]!.to, 400);
  });

  it('catches an overlap: a loss that ended after the successor began', () => {
    const history = [
      ev(1, 100, 'gainedLeadership', { term: 1 }),
      ev(2, 450, 'gainedLeadership', { term: 2 }),
      ev(1, 500, 'lostLeadership', { term: 1, reason: 'preempted', endedMsAgo: 10 }),
    ];
    assert.match(leadershipViolations(history, []).join('\n'), /overlaps .* by 40\.000 ms/);
  });

  it('catches a term that does not grow, and a leadership still open beside another', () => {
    const regress = [
      ev(1, 100, 'gainedLeadership', { term: 5 }),
      ev(1, 200, 'lostLeadership', { term: 5, reason: 'stopped', endedMsAgo: 0 }),
      ev(2, 300, 'gainedLeadership', { term: 4 }),
    ];
    assert.match(leadershipViolations(regress, []).join('\n'), /with a term not above it/);
    const open = [ev(1, 100, 'gainedLeadership', { term: 1 }), ev(2, 300, 'gainedLeadership', { term: 2 })];
    assert.match(leadershipViolations(open, []).join('\n'), /overlaps .* by Infinity ms/);
  });

  it('ends a killed leader at the kill, and only then', () => {
    const history = [
      ev(1, 100, 'gainedLeadership', { term: 1 }),
      ev(2, 400, 'gainedLeadership', { term: 2 }),
      ev(1, 600, 'starting'),
    ];
    assert.deepEqual(leadershipViolations(history, [{ id: 1, at: 350 }]), []);
    assert.match(leadershipViolations(history, [{ id: 1, at: 450 }]).join('\n'), /overlaps/);
  });

  it('starts a leadership at its gain line minus beganMsAgo (a gain delivered late)', () => {
    const history = [
      ev(1, 100, 'gainedLeadership', { term: 1 }),
      ev(1, 400, 'lostLeadership', { term: 1, reason: 'preempted', endedMsAgo: 0 }),
      // Printed at 700, begun at 380: before node 1's end, an overlap the print time alone would hide.
      ev(2, 700, 'gainedLeadership', { term: 2, beganMsAgo: 320 }),
    ];
    assert.equal(leadershipIntervals(history, []).intervals[1]!.from, 380);
    assert.match(leadershipViolations(history, []).join('\n'), /overlaps .* by 20\.000 ms/);
  });

  it('orders a gain printed after its leadership ended by that end, without hiding a real regression', () => {
    // Node 1's main thread was starved: it printed gain and loss of term 29 together at 900, the loss saying the
    // leadership ended 500 ms earlier (at 400), before node 2's term 32 began at 450.
    const late = [
      ev(2, 450, 'gainedLeadership', { term: 32 }),
      ev(2, 480, 'lostLeadership', { term: 32, reason: 'preempted', endedMsAgo: 0 }),
      ev(1, 900, 'gainedLeadership', { term: 29 }),
      ev(1, 900, 'lostLeadership', { term: 29, reason: 'lease-expired', endedMsAgo: 500 }),
    ];
    assert.deepEqual(leadershipViolations(late, []), []);
    // Ended at 470 instead: it may have begun after term 32 did, which is a regression the checker must report.
    const real = late.map((e) => (e.id === 1 && e.event === 'lostLeadership' ? { ...e, endedMsAgo: 430 } : e));
    assert.match(leadershipViolations(real, []).join('\n'), /term 29 .* with a term not above it/);
  });
});
