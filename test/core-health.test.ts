import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, encodeMessage } from '../src/core/codec.ts';
import type { Heartbeat } from '../src/core/messages.ts';
import { CoreCluster } from './support/core-cluster.ts';

/**
 * Health gating, voter-only witnesses and preemption control in the pure core (issue 9): they only decide who
 * campaigns, so every test here also relies on CoreCluster's check that no two cores ever lead at once.
 */
const LEASE = 1000;
const HB = 100;

function settled(cluster: CoreCluster, leader: number, limitMs = 4 * LEASE): void {
  cluster.advanceUntil(() => cluster.leaders()[0] === leader, limitMs);
}

describe('core: health, voterOnly, preemption', () => {
  it('an unhealthy leader steps down at once with "unhealthy", releases, and the next node leads within a round trip', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    settled(cluster, 1);
    cluster.advance(3 * HB + 7);
    cluster.setHealthy(1, false);
    assert.deepEqual(cluster.leaders(), [], 'the unhealthy leader must stop leading at once');
    assert.deepEqual(cluster.eventsOf(1, 'lost').at(-1), { type: 'lost', term: 1, reason: 'unhealthy' });
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 2, LEASE, 0.5);
    assert.ok(took <= 5, `handover took ${took} ms with a 1 ms link delay (a lease would be ${LEASE})`);
    // It keeps voting: with node 3 down, node 2 still has a majority thanks to node 1's vote.
    cluster.crash(3);
    cluster.advance(5 * LEASE);
    assert.deepEqual(cluster.leaders(), [2]);
    assert.deepEqual(cluster.eventsOf(1, 'gained').length, 1, 'an unhealthy node must never gain leadership');
    const status = cluster.cores.get(1)!.status(cluster.now);
    assert.equal(status.healthy, false);
    assert.equal(status.cannotLead, 'unhealthy');
    assert.equal(
      cluster.cores
        .get(2)!
        .status(cluster.now)
        .peers.find((p) => p.id === 1)?.healthy,
      false,
    );
  });

  it('a node that turns healthy again takes the lead back (preempt: true)', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    settled(cluster, 1);
    cluster.setHealthy(1, false);
    settled(cluster, 2);
    cluster.setHealthy(1, true);
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE, 0.5);
    assert.ok(took <= 2 * HB, `took ${took} ms`);
    assert.deepEqual(cluster.eventsOf(2, 'lost').at(-1), {
      type: 'lost',
      term: 2,
      reason: 'preempted',
    });
  });

  it('an unhealthy node never campaigns; when every node is unhealthy nobody leads, and status says why', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    for (const id of [1, 2, 3]) cluster.setHealthy(id, false);
    cluster.advance(6 * LEASE);
    assert.deepEqual(cluster.leaders(), []);
    assert.equal(cluster.events.filter((e) => e.event.type === 'gained').length, 0);
    const reason = cluster.cores.get(2)!.status(cluster.now).noLeaderReason;
    assert.equal(reason, 'no leader: 2 unhealthy, 1 unhealthy, 3 unhealthy');
    cluster.setHealthy(3, true);
    settled(cluster, 3);
    cluster.advance(2 * HB);
    assert.equal(cluster.cores.get(1)!.status(cluster.now).noLeaderReason, null);
  });

  it('a voter-only node never leads, even when it is the lowest ID, yet its vote makes the majority', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.settings.set(1, { voterOnly: true });
    cluster.startAll();
    settled(cluster, 2);
    cluster.crash(3);
    cluster.advance(3 * LEASE);
    assert.deepEqual(cluster.leaders(), [2], 'node 2 keeps leading with the witness vote');
    cluster.crash(2);
    cluster.advance(6 * LEASE);
    assert.deepEqual(cluster.leaders(), []);
    assert.deepEqual(cluster.eventsOf(1, 'gained'), []);
    const status = cluster.cores.get(1)!.status(cluster.now);
    assert.equal(status.cannotLead, 'voter-only');
    assert.equal(status.voterOnly, true);
  });

  it('preemptDelayMs: a returning lower ID takes over only after being able to lead that long', () => {
    const delay = 3 * LEASE;
    const cluster = new CoreCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) cluster.settings.set(id, { preemptDelayMs: delay });
    cluster.startAll();
    settled(cluster, 1);
    cluster.crash(1);
    settled(cluster, 2);
    cluster.start(1);
    const restartedAt = cluster.now;
    settled(cluster, 1, 2 * LEASE + delay);
    // Able to lead one lease after the restart (restart wait), then the delay.
    const took = cluster.now - restartedAt;
    assert.ok(took >= LEASE + delay, `took over after ${took} ms, before the restart wait plus ${delay} ms`);
    assert.ok(took <= LEASE + delay + 3 * HB, `took over after ${took} ms`);
  });

  it('preemptDelayMs does not delay an election after a failure', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) cluster.settings.set(id, { preemptDelayMs: 10 * LEASE });
    cluster.startAll();
    const first = cluster.advanceUntil(() => cluster.leaders().length === 1, 3 * LEASE);
    assert.ok(first <= LEASE + 2 * HB, `first election after ${first} ms`);
    cluster.crash(1);
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 2, 3 * LEASE);
    assert.ok(took <= LEASE + 2 * HB, `failover took ${took} ms`);
  });

  it('preempt: false: a returning lower ID does not displace a live, healthy leader; it leads once that one fails', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) cluster.settings.set(id, { preempt: false });
    cluster.startAll();
    settled(cluster, 1);
    cluster.crash(1);
    settled(cluster, 2);
    cluster.start(1);
    cluster.advance(10 * LEASE);
    assert.deepEqual(cluster.leaders(), [2], 'node 2 must keep leading');
    assert.deepEqual(cluster.eventsOf(2, 'lost'), []);
    assert.equal(cluster.eventsOf(1, 'gained').length, 1, 'only its leadership before the crash');
    // Unhealthy is not "healthy and connected": node 2 hands over, and node 1 (lowest) takes it.
    cluster.setHealthy(2, false);
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 1, LEASE, 0.5);
    assert.ok(took <= 5, `handover took ${took} ms`);
    assert.equal(
      cluster.cores
        .get(3)!
        .status(cluster.now)
        .peers.find((p) => p.id === 1)?.canLead,
      true,
    );
  });

  it('preempt: false: a leader holding its lease does not step aside for a lower candidate that raced it', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) cluster.settings.set(id, { preempt: false });
    cluster.startAll();
    settled(cluster, 1);
    cluster.crash(1);
    settled(cluster, 2);
    cluster.start(1);
    // Node 1 cannot hear node 2 (one-way cut): it sees no leader and campaigns; 2 and 3 keep 2's leadership.
    cluster.cut.add('2>1');
    cluster.advance(8 * LEASE);
    assert.deepEqual(cluster.leaders(), [2]);
    assert.deepEqual(cluster.eventsOf(2, 'lost'), []);
  });

  it('heartbeats carry the unhealthy, voter-only and no-preempt bits only when set (default bytes unchanged)', () => {
    const base: Heartbeat = {
      type: 'heartbeat',
      incarnation: 5,
      ready: true,
      canLead: true,
      leaving: false,
      healthy: true,
      voterOnly: false,
      preempt: true,
      term: 3,
      leaderTerm: 0,
      sees: [2],
    };
    assert.equal(encodeMessage(base)[1], 0x03);
    for (const [change, bit] of [
      [{ healthy: false }, 0x08],
      [{ voterOnly: true }, 0x10],
      [{ preempt: false }, 0x20],
    ] as const) {
      const hb = { ...base, ...change };
      const bytes = encodeMessage(hb);
      assert.equal(bytes[1], 0x03 | bit);
      assert.deepEqual(decodeMessage(bytes), hb);
    }
    const bad = encodeMessage(base);
    bad[1] = 0x40 | 0x80;
    assert.throws(() => decodeMessage(bad), /unknown heartbeat flags/);
  });
});
