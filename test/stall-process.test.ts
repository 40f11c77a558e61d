import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { leadershipViolations } from '../src/testing/leadership-intervals.ts';
import { type NodeProcessEvent, ProcessCluster } from '../src/testing/process-cluster.ts';

/**
 * Real processes whose application blocks its main thread (test/support/stall-node.ts, SIGUSR2), at the default
 * timing (heartbeat 100 ms, lease 1 s) with the election on its worker thread. A stall shorter than `maxStallMs`
 * must change nothing; a longer one must hand leadership over once, cleanly, and the stalled node may come back
 * only by the ordinary preemption rules. Bounds are the protocol's, with room for a loaded machine.
 */
const STALL_NODE = fileURLToPath(new URL('./support/stall-node.ts', import.meta.url));
const LIVENESS_MS = 20_000;
/** Booting the processes (and their worker threads) is not the protocol's time: ProcessCluster allows 30 s. */
const BOOT_MS = 30_000;
const LEASE_MS = 1000;

/**
 * Starts the cluster and resolves once node 1 leads and every earlier leadership's end has been reported
 * (processes start a few hundred ms apart, so another node may lead briefly first; its line may come late).
 */
async function leaderOne(cluster: ProcessCluster): Promise<NodeProcessEvent> {
  const gained = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 1, BOOT_MS + LIVENESS_MS);
  await cluster.start();
  const event = await gained;
  if (cluster.currentLeader() !== 1) await cluster.waitFor(() => cluster.currentLeader() === 1, LIVENESS_MS);
  return event;
}

async function stall(cluster: ProcessCluster, id: number): Promise<{ start: NodeProcessEvent; end: NodeProcessEvent }> {
  const start = cluster.waitFor((e) => e.event === 'stall-start' && e.id === id, LIVENESS_MS);
  const end = cluster.waitFor((e) => e.event === 'stall-end' && e.id === id, LIVENESS_MS);
  cluster.signal(id, 'SIGUSR2');
  return { start: await start, end: await end };
}

describe('main-thread stalls with the election on a worker (real processes)', () => {
  it('three 1.5 s stalls of the leader (lease 1 s) move no leadership; isLeader is true right after each', async (t) => {
    const cluster = new ProcessCluster({ ids: [1, 2, 3], script: STALL_NODE, env: { LEADER_IP_STALL_MS: '1500' } });
    try {
      const gained = await leaderOne(cluster);
      let firstStall = Number.POSITIVE_INFINITY;
      for (let round = 0; round < 3; round++) {
        const { start, end } = await stall(cluster, 1);
        firstStall = Math.min(firstStall, start.mono);
        assert.ok(Number(end.stalledMs) >= 1500);
        // Same term and still leading: no one else led in between (every leadership gets a higher term).
        assert.equal(start.isLeader, true, `round ${round}: not leading before the stall`);
        assert.equal(end.isLeader, true, `round ${round}: not leading right after a ${end.stalledMs} ms stall`);
        assert.equal(end.term, gained.term, `round ${round}: term moved from ${gained.term} to ${end.term}`);
        t.diagnostic(`stall ${round + 1}: ${Number(end.stalledMs).toFixed(0)} ms, still leading, term ${end.term}`);
      }
      // Any leadership change from the first stall on (a late line about an earlier term is not one).
      const moved = cluster.history.filter(
        (e) =>
          (e.event === 'gainedLeadership' || e.event === 'lostLeadership') &&
          e.mono > firstStall &&
          Number(e.term) >= Number(gained.term),
      );
      assert.deepEqual(moved, []);
    } finally {
      await cluster.stop();
    }
  });

  it('a 7 s stall with maxStallMs 2500 hands over once, within maxStallMs + a lease, without overlap', async (t) => {
    const maxStallMs = 2500;
    const cluster = new ProcessCluster({
      ids: [1, 2, 3],
      script: STALL_NODE,
      args: ['--max-stall-ms', String(maxStallMs)],
      env: { LEADER_IP_STALL_MS: '7000' },
    });
    try {
      await leaderOne(cluster);
      const takeover = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id !== 1, LIVENESS_MS);
      const lost = cluster.waitFor((e) => e.event === 'lostLeadership' && e.id === 1, LIVENESS_MS);
      const back = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 1, LIVENESS_MS);
      const preempted = cluster.waitFor((e) => e.event === 'lostLeadership' && e.id === 2, LIVENESS_MS);
      const { start, end } = await stall(cluster, 1);
      const next = await takeover;
      assert.equal(next.id, 2, 'the next node by ID takes over');
      const handoverMs = next.mono - start.mono;
      assert.ok(handoverMs <= maxStallMs + LEASE_MS, `handover ${handoverMs} ms after the stall began`);
      assert.ok(handoverMs >= maxStallMs - 200, `handed over after only ${handoverMs} ms: shorter than maxStallMs`);
      // The moment the main thread runs again, before any event is delivered, the node knows it does not lead.
      assert.equal(end.isLeader, false);
      const loss = await lost;
      assert.equal(loss.reason, 'stalled');
      // endedMsAgo puts the end of the leadership where the worker stood down, before node 2 began.
      const endedAt = loss.mono - Number(loss.endedMsAgo);
      assert.ok(endedAt <= next.mono, `ended at ${endedAt}, after node 2 began at ${next.mono}`);
      assert.ok(endedAt >= start.mono + maxStallMs - 200, `ended ${endedAt - start.mono} ms into the stall`);
      // Node 1 comes back by the ordinary bully preemption once its application runs again.
      const regained = await back;
      assert.ok(regained.mono > end.mono);
      // (At start-up another node may lead briefly before node 1: only what happened from the stall on counts.)
      const during = cluster.history.filter(
        (e) => e.event === 'gainedLeadership' && e.mono > start.mono && e.mono < regained.mono,
      );
      assert.deepEqual(
        during.map((e) => e.id),
        [2],
        'leadership moved exactly once during the stall',
      );
      t.diagnostic(
        `handover ${handoverMs.toFixed(0)} ms after the stall began; node 1's leadership ended ${(endedAt - start.mono).toFixed(0)} ms into it (endedMsAgo ${Number(loss.endedMsAgo).toFixed(0)}); back by preemption ${(regained.mono - end.mono).toFixed(0)} ms after the stall`,
      );
      // Node 2's loss travels through another pipe than node 1's gain: have both before checking the intervals.
      assert.equal((await preempted).reason, 'preempted');
      const violations = leadershipViolations(cluster.history, []);
      assert.deepEqual(violations, [], violations.join('\n'));
    } finally {
      await cluster.stop();
    }
  });
});
