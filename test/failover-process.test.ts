import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Kill } from '../src/testing/leadership-intervals.ts';
import { ProcessCluster } from '../src/testing/process-cluster.ts';
import { assertSafeWhenSettled } from './support/process-safety.ts';

/**
 * Real OS processes on 127.0.0.1, crashed with SIGKILL and stopped with SIGTERM. Leadership intervals come from
 * the processes' own reports on the host-wide monotonic clock; a killed leader's interval ends at the kill.
 * Short timing keeps the suite fast; `npm run bench` measures failover at the default timing.
 */
const TIMING = ['--heartbeat-ms', '20', '--lease-ms', '200'];
const LIVENESS_MS = 10_000;
/**
 * A waiter created before (re)starting processes also covers their boot, which is not the protocol's: under load
 * (and with the election's worker thread loading its code) it can take seconds. ProcessCluster allows 30 s for it.
 */
const BOOT_MS = 30_000;

const assertSafe = (cluster: ProcessCluster, kills: Kill[]) => assertSafeWhenSettled(cluster, kills, LIVENESS_MS);

/**
 * The one node leading, once every process's lines are in: the old leader's `lostLeadership` travels through
 * another pipe than the new leader's `gainedLeadership` and may arrive after it.
 */
async function settledLeader(cluster: ProcessCluster): Promise<number> {
  if (cluster.currentLeader() === null) await cluster.waitFor(() => cluster.currentLeader() !== null, LIVENESS_MS);
  return cluster.currentLeader()!;
}

for (const thread of ['worker', 'main'] as const) {
  describe(`failover with real processes (thread: ${thread})`, () => {
    const cluster = new ProcessCluster({ ids: [1, 2, 3], args: [...TIMING, '--thread', thread] });
    after(() => cluster.stop());
    const kills: Kill[] = [];

    it('elects node 1, fails over on SIGKILL, and takes leadership back on restart', async () => {
      // Processes start a few hundred ms apart and each waits a lease before voting, so whichever is ready first
      // may lead briefly; node 1 must take over.
      const first = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 1, BOOT_MS + LIVENESS_MS);
      await cluster.start();
      await first;
      for (let round = 0; round < 4; round++) {
        const leader = await settledLeader(cluster);
        const next = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id !== leader, LIVENESS_MS);
        kills.push({ id: leader, at: await cluster.kill(leader, 'SIGKILL') });
        const gained = await next;
        assert.notEqual(gained.id, 3, 'node 3 of 3 must never lead');
        // The lowest ID must come back: restart the victim and wait for it to lead again.
        const back = cluster.waitFor(
          (e) => e.event === 'gainedLeadership' && e.id === Math.min(leader, gained.id),
          BOOT_MS + LIVENESS_MS,
        );
        await cluster.spawn(leader);
        await back;
      }
      await assertSafe(cluster, kills);
    });

    it('fails over when the whole leader process is stopped (SIGSTOP), and the paused node reports it late', async () => {
      const leader = await settledLeader(cluster);
      assert.equal(leader, 1);
      const next = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 2, LIVENESS_MS);
      const lost = cluster.waitFor((e) => e.event === 'lostLeadership' && e.id === 1, LIVENESS_MS);
      cluster.signal(1, 'SIGSTOP');
      const gained = await next;
      // Made before resuming: the resumed node may report its loss and its new leadership in one burst.
      const back = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 1, LIVENESS_MS);
      cluster.signal(1, 'SIGCONT');
      const loss = await lost;
      assert.equal(loss.reason, 'lease-expired');
      // It noticed after resuming, and says when its leadership really ended: before node 2 began.
      assert.ok(loss.mono - Number(loss.endedMsAgo) <= gained.mono, 'the paused leader overlapped its successor');
      await back;
      await assertSafe(cluster, kills);
    });

    it('hands over at once when the leader gets SIGTERM', async () => {
      const leader = await settledLeader(cluster);
      assert.equal(leader, 1);
      const next = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 2, LIVENESS_MS);
      const lost = cluster.waitFor((e) => e.event === 'lostLeadership' && e.id === 1, LIVENESS_MS);
      await cluster.kill(1, 'SIGTERM');
      assert.equal((await lost).reason, 'stopped');
      const gained = await next;
      // Within the lease means it did not wait for the lease to run out.
      assert.ok(gained.mono - (await lost).mono < 200, `handoff took ${gained.mono - (await lost).mono} ms`);
      await assertSafe(cluster, kills);
    });
  });
}
