import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type NodeProcessEvent, ProcessCluster } from '../src/testing/process-cluster.ts';

/**
 * Real OS processes on 127.0.0.1, crashed with SIGKILL and stopped with SIGTERM. Leadership intervals come from
 * the processes' own reports on the host-wide monotonic clock; a killed leader's interval ends at the kill.
 * Short timing keeps the suite fast; `npm run bench` measures failover at the default timing.
 */
const TIMING = ['--heartbeat-ms', '20', '--lease-ms', '200'];
const LIVENESS_MS = 10_000;

interface Interval {
  id: number;
  term: number;
  from: number;
  to: number;
}

function intervals(history: NodeProcessEvent[], kills: { id: number; at: number }[]): Interval[] {
  const open = new Map<number, { term: number; from: number }>();
  const done: Interval[] = [];
  const timeline = [
    ...history.map((e) => ({ kind: e.event, id: e.id, at: e.mono, term: Number(e.term) })),
    ...kills.map((k) => ({ kind: 'killed', id: k.id, at: k.at, term: 0 })),
  ].sort((a, b) => a.at - b.at);
  for (const item of timeline) {
    if (item.kind === 'gainedLeadership') open.set(item.id, { term: item.term, from: item.at });
    if (item.kind === 'lostLeadership' || item.kind === 'killed') {
      const interval = open.get(item.id);
      if (interval) done.push({ id: item.id, ...interval, to: item.at });
      open.delete(item.id);
    }
  }
  for (const [id, interval] of open) done.push({ id, ...interval, to: Number.POSITIVE_INFINITY });
  return done.sort((a, b) => a.from - b.from);
}

function assertNoOverlap(list: Interval[]): void {
  for (let i = 1; i < list.length; i++) {
    const previous = list[i - 1]!;
    const current = list[i]!;
    assert.ok(
      current.from >= previous.to,
      `node ${current.id} led from ${current.from} before node ${previous.id} stopped at ${previous.to}`,
    );
    assert.ok(current.term > previous.term, `term ${current.term} after ${previous.term}`);
  }
}

describe('failover with real processes', () => {
  const cluster = new ProcessCluster({ ids: [1, 2, 3], args: TIMING });
  after(() => cluster.stop());
  const kills: { id: number; at: number }[] = [];

  it('elects node 1, fails over on SIGKILL, and takes leadership back on restart', async () => {
    const first = cluster.waitFor((e) => e.event === 'gainedLeadership', LIVENESS_MS);
    await cluster.start();
    assert.equal((await first).id, 1);
    for (let round = 0; round < 4; round++) {
      const leader = cluster.currentLeader();
      assert.ok(leader !== null, 'a leader before the kill');
      const next = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id !== leader, LIVENESS_MS);
      kills.push({ id: leader, at: await cluster.kill(leader, 'SIGKILL') });
      const gained = await next;
      assert.notEqual(gained.id, 3, 'node 3 of 3 must never lead');
      // The lowest ID must come back: restart the victim and wait for it to lead again.
      const back = cluster.waitFor(
        (e) => e.event === 'gainedLeadership' && e.id === Math.min(leader, gained.id),
        LIVENESS_MS,
      );
      await cluster.spawn(leader);
      await back;
    }
    assertNoOverlap(intervals(cluster.history, kills));
  });

  it('hands over at once when the leader gets SIGTERM', async () => {
    const leader = cluster.currentLeader();
    assert.equal(leader, 1);
    const next = cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id === 2, LIVENESS_MS);
    const lost = cluster.waitFor((e) => e.event === 'lostLeadership' && e.id === 1, LIVENESS_MS);
    await cluster.kill(1, 'SIGTERM');
    assert.equal((await lost).reason, 'stopped');
    const gained = await next;
    // Within the lease means it did not wait for the lease to run out.
    assert.ok(gained.mono - (await lost).mono < 200, `handoff took ${gained.mono - (await lost).mono} ms`);
    assertNoOverlap(intervals(cluster.history, kills));
  });
});
