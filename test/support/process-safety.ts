import assert from 'node:assert/strict';
import { type Kill, leadershipViolations } from '../../src/testing/leadership-intervals.ts';
import type { ProcessCluster } from '../../src/testing/process-cluster.ts';

/**
 * Checks a process cluster's leadership intervals once every process's lines are in: the old leader's
 * `lostLeadership` travels through another pipe than the new leader's `gainedLeadership` and may arrive after it,
 * which would read as an overlap that never happened. Waits (up to `timeoutMs`) until exactly one running node is
 * leading by the history, then asserts there is no violation.
 */
export async function assertSafeWhenSettled(cluster: ProcessCluster, kills: Kill[], timeoutMs: number): Promise<void> {
  if (cluster.currentLeader() === null) await cluster.waitFor(() => cluster.currentLeader() !== null, timeoutMs);
  const violations = leadershipViolations(cluster.history, kills);
  assert.deepEqual(violations, [], violations.join('\n'));
}
