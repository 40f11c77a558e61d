import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthChange } from '../src/health/health-monitor.ts';
import { AbortError, ConfigError, ElectionNode, StateError } from '../src/index.ts';
import { monotonicMs } from '../src/util/monotonic.ts';
import { nextEvent, startCluster } from './support/tcp-cluster.ts';
import { waitFor } from './support/wait.ts';

/**
 * Health gating, voter-only witnesses, preemption control and the leadership signal on real nodes over TCP, in
 * both thread modes (issue 9). Timing is short; the protocol is the same at any scale.
 */
const TIMING = { heartbeatIntervalMs: 20, leaseMs: 200 } as const;
const LIVENESS_MS = 10_000;

describe('ElectionNode health options: validation', () => {
  const base = { id: 1, listen: '127.0.0.1:0' };
  const cases: [Record<string, unknown>, string][] = [
    [{ health: { check: 'yes' } }, 'health.check'],
    [{ health: { check: () => true, fall: 0 } }, 'health.fall'],
    [{ health: { check: () => true, rise: 1.5 } }, 'health.rise'],
    [{ health: { check: () => true, intervalMs: -1 } }, 'health.intervalMs'],
    [{ health: { check: () => true, intervalMs: 200, timeoutMs: 200 } }, 'health.timeoutMs'],
    [{ health: { check: () => true, falls: 2 } }, 'health.falls'],
    [{ voterOnly: 'yes' }, 'voterOnly'],
    [{ voterOnly: true, clusterSize: 1 }, 'voterOnly'],
    [{ voterOnly: true, peers: ['127.0.0.1:9'], health: { check: () => true } }, 'health'],
    [{ preempt: 0 }, 'preempt'],
    [{ preemptDelayMs: -5 }, 'preemptDelayMs'],
    [{ preemptDelayMs: 0.5 }, 'preemptDelayMs'],
    [{ preempt: false, preemptDelayMs: 1000 }, 'preemptDelayMs'],
  ];
  for (const [extra, field] of cases) {
    it(`rejects ${JSON.stringify(extra)} naming ${field}`, () => {
      assert.throws(
        () => new ElectionNode({ ...base, ...extra } as never),
        (error: unknown) => error instanceof ConfigError && error.field === field,
      );
    });
  }

  it('accepts explicit undefined for every new option, and the defaults', () => {
    const node = new ElectionNode({
      ...base,
      voterOnly: undefined,
      health: undefined,
      preempt: undefined,
      preemptDelayMs: undefined,
    });
    const status = node.status();
    assert.equal(status.health.healthy, true);
    assert.equal(status.health.checked, false);
    assert.equal(status.voterOnly, false);
  });

  it('setHealthy validates its arguments', () => {
    const node = new ElectionNode(base);
    assert.throws(
      () => node.setHealthy('no' as never),
      (e: unknown) => e instanceof ConfigError && e.field === 'healthy',
    );
    assert.throws(
      () => node.setHealthy(false, ''),
      (e: unknown) => e instanceof ConfigError && e.field === 'reason',
    );
  });
});

for (const thread of ['worker', 'main'] as const) {
  const FAST = { ...TIMING, thread } as const;

  describe(`ElectionNode health gating over TCP (thread: ${thread})`, () => {
    it('setHealthy(false) on the leader hands over within a round trip: signal aborts, reason "unhealthy", no overlap', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        const gained = await nextEvent<[{ term: number; signal: AbortSignal }]>(
          cluster.node(1),
          'gainedLeadership',
          LIVENESS_MS,
        );
        const { signal } = gained[0];
        assert.equal(signal.aborted, false);
        const waited = await cluster.node(1).waitForLeadership();
        assert.equal(waited.signal, signal, 'waitForLeadership resolves at once with the current leadership');
        const changes: HealthChange[] = [];
        cluster.node(1).on('healthChange', (change) => changes.push(change));
        const lost = nextEvent<[{ reason: string }]>(cluster.node(1), 'lostLeadership', LIVENESS_MS);
        const started = monotonicMs();
        cluster.node(1).setHealthy(false, 'draining');
        assert.equal((await lost)[0].reason, 'unhealthy');
        assert.equal(signal.aborted, true, 'the signal aborts before lostLeadership is emitted');
        assert.ok(signal.reason instanceof AbortError);
        await cluster.leaderGained(2, LIVENESS_MS);
        const handoverMs = monotonicMs() - started;
        // A lease is 200 ms; a round trip on loopback is well under that even on a loaded machine.
        assert.ok(handoverMs < TIMING.leaseMs, `handover took ${handoverMs.toFixed(1)} ms`);
        console.log(`# setHealthy(false) handover (${thread}): ${handoverMs.toFixed(1)} ms`);
        assert.deepEqual(changes, [{ healthy: false, reason: 'draining' }]);
        const status = cluster.node(1).status();
        assert.equal(status.health.healthy, false);
        assert.equal(status.health.reason, 'draining');
        assert.equal(status.healthy, false);
        assert.equal(status.cannotLead, 'unhealthy');
        assert.deepEqual(
          cluster.gains.filter((g) => g.overlapping.length > 0),
          [],
        );
        // Healthy again: the lowest ID takes the lead back.
        cluster.node(1).setHealthy(true);
        await cluster.leaderGained(1, LIVENESS_MS);
        assert.equal(cluster.gains.filter((g) => g.id === 1).length, 2);
      } finally {
        await cluster.stopAll();
      }
    });

    it('a failing health check (intervalMs 50, fall 2) hands over; a passing one (rise 2) brings it back', async () => {
      const verdict = new Map<number, boolean>([
        [1, true],
        [2, true],
        [3, true],
      ]);
      const cluster = await startCluster([1, 2, 3], FAST, (id) => ({
        health: { check: () => verdict.get(id) === true, intervalMs: 50, timeoutMs: 25, fall: 2, rise: 2 },
      }));
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        const lost = nextEvent<[{ reason: string }]>(cluster.node(1), 'lostLeadership', LIVENESS_MS);
        const started = monotonicMs();
        verdict.set(1, false);
        assert.equal((await lost)[0].reason, 'unhealthy');
        await cluster.leaderGained(2, LIVENESS_MS);
        const took = monotonicMs() - started;
        // fall 2 at 50 ms: the second failure comes 50-100 ms after the flip; the handover is a round trip more.
        assert.ok(took < 3 * 50 + TIMING.leaseMs, `took ${took.toFixed(1)} ms`);
        console.log(`# failing check (interval 50, fall 2) to new leader (${thread}): ${took.toFixed(1)} ms`);
        const health = cluster.node(1).status().health;
        assert.equal(health.healthy, false);
        assert.ok(health.consecutiveFailures >= 2);
        assert.match(health.reason, /health check failed \d+x: returned false/);
        verdict.set(1, true);
        await cluster.leaderGained(1, LIVENESS_MS);
        assert.ok(cluster.node(1).status().health.consecutiveSuccesses >= 2);
        assert.deepEqual(
          cluster.gains.filter((g) => g.overlapping.length > 0),
          [],
        );
      } finally {
        await cluster.stopAll();
      }
    });

    it('every node unhealthy: nobody leads, status says why; the first to recover leads', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        for (const id of [3, 2, 1]) cluster.node(id).setHealthy(false, 'maintenance');
        await waitFor(() => [1, 2, 3].every((id) => cluster.node(id).leaderId === null), LIVENESS_MS, 'no leader');
        const expected = 'no leader: 3 unhealthy, 1 unhealthy, 2 unhealthy';
        await waitFor(
          () => cluster.node(3).status().noLeaderReason === expected,
          LIVENESS_MS,
          'a reason naming every unhealthy member',
        );
        const gainsBefore = cluster.gains.length;
        // An absence: several leases pass and still nobody leads (nothing to wait on but time).
        await new Promise((resolve) => setTimeout(resolve, 3 * TIMING.leaseMs));
        assert.equal(cluster.gains.length, gainsBefore);
        cluster.node(3).setHealthy(true);
        await cluster.leaderGained(3, LIVENESS_MS);
      } finally {
        await cluster.stopAll();
      }
    });

    it('a voter-only witness never leads but keeps the majority; waitForLeadership and its abort/stop', async () => {
      const cluster = await startCluster([1, 2, 3], FAST, (id) => (id === 1 ? { voterOnly: true } : {}));
      try {
        await cluster.leaderGained(2, LIVENESS_MS);
        const waiting = cluster.node(3).waitForLeadership();
        const aborter = new AbortController();
        const aborted = cluster.node(3).waitForLeadership({ signal: aborter.signal });
        aborter.abort();
        await assert.rejects(aborted, AbortError);
        await cluster.node(2).stop();
        const { term, signal } = await waiting;
        assert.equal(cluster.node(3).isLeader, true);
        assert.ok(term > 0);
        assert.equal(signal.aborted, false);
        assert.equal(cluster.node(1).status().cannotLead, 'voter-only');
        assert.equal(
          cluster
            .node(3)
            .status()
            .peers.find((p) => p.id === 1)?.voterOnly,
          true,
        );
        assert.equal(
          cluster.gains.some((g) => g.id === 1),
          false,
        );
        const never = cluster.node(1).waitForLeadership();
        await cluster.node(1).stop();
        await assert.rejects(never, StateError);
        await cluster.node(3).stop();
        assert.equal(signal.aborted, true, 'stop() ends the leadership and aborts its signal');
      } finally {
        await cluster.stopAll();
      }
    });
  });
}
