import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElectionCore } from '../src/core/election-core.ts';
import type { VoteReply } from '../src/core/messages.ts';
import { CoreCluster, persisting } from './support/core-cluster.ts';

const LEASE = 1000;
const HB = 100;

describe('ElectionCore', () => {
  it('a single-node cluster leads only after its restart wait', () => {
    const cluster = new CoreCluster([7]);
    cluster.startAll();
    cluster.advance(LEASE - 1);
    assert.deepEqual(cluster.leaders(), [], 'granted itself a vote before a full lease had passed');
    cluster.advance(2);
    assert.deepEqual(cluster.leaders(), [7]);
    assert.deepEqual(cluster.eventsOf(7, 'gained'), [{ type: 'gained', term: 1 }]);
  });

  it('elects the lowest ID of a 3-node cluster, and every node agrees on the leader', () => {
    const cluster = new CoreCluster([3, 1, 2]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders().length === 1, 2 * LEASE);
    assert.deepEqual(cluster.leaders(), [1]);
    cluster.advance(5 * HB);
    for (const id of [1, 2, 3]) assert.equal(cluster.cores.get(id)!.leaderAt(cluster.now), 1, `node ${id}`);
    const leaderEvents = cluster.eventsOf(3, 'leader');
    assert.deepEqual(leaderEvents.at(-1), { type: 'leader', leaderId: 1, term: 1 });
  });

  it('node 3 of 3 never leads, even when it is the only node up besides one other', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advance(2 * LEASE);
    cluster.crash(1);
    cluster.advanceUntil(() => cluster.leaders()[0] === 2, 2 * LEASE);
    cluster.crash(2);
    cluster.advance(10 * LEASE);
    assert.deepEqual(cluster.leaders(), [], 'a minority must not lead');
    assert.deepEqual(cluster.eventsOf(3, 'gained'), []);
  });

  it('fails over within about one lease after the leader crashes, with a higher term', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    cluster.advance(5 * HB + 37);
    const firstTerm = cluster.cores.get(1)!.term;
    cluster.crash(1);
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 2, 3 * LEASE);
    assert.ok(took <= LEASE + 2 * HB, `failover took ${took} ms`);
    assert.ok(took >= LEASE - 2 * HB, `failover ${took} ms is faster than the voters' leases allow`);
    assert.ok(cluster.cores.get(2)!.term > firstTerm);
  });

  it('hands over within a few message delays when the leader stops gracefully', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    cluster.advance(3 * HB + 11);
    cluster.stop(1);
    assert.deepEqual(cluster.eventsOf(1, 'lost'), [{ type: 'lost', term: 1, reason: 'stopped' }]);
    const took = cluster.advanceUntil(() => cluster.leaders()[0] === 2, LEASE, 0.5);
    assert.ok(took <= 5, `handoff took ${took} ms with a 1 ms link delay`);
  });

  it('a restarted lower ID takes leadership back without overlapping the current leader', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    cluster.crash(1);
    cluster.advanceUntil(() => cluster.leaders()[0] === 2, 3 * LEASE);
    cluster.start(1);
    cluster.advance(LEASE - 10);
    assert.deepEqual(cluster.leaders(), [2], 'the restarted node must wait a full lease');
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE, 0.5);
    const lost = cluster.eventsOf(2, 'lost');
    assert.deepEqual(lost.at(-1), {
      type: 'lost',
      term: cluster.eventsOf(2, 'gained').at(-1)!.term,
      reason: 'preempted',
    } as never);
    const gainedAt = cluster.events.filter((e) => e.id === 1 && e.event.type === 'gained').at(-1)!.at;
    const lostAt = cluster.events.filter((e) => e.id === 2 && e.event.type === 'lost').at(-1)!.at;
    assert.ok(lostAt <= gainedAt, 'the old leader must step down before the new one leads');
  });

  it('a restarted node grants no vote, not even to itself, until a full lease has passed', () => {
    const core = new ElectionCore({
      id: 2,
      clusterSize: 3,
      heartbeatIntervalMs: HB,
      leaseMs: LEASE,
      peerTimeoutMs: 400,
      maxDriftRate: 0.01,
      incarnation: 9,
    });
    core.start(0);
    const ask = (now: number, seq: number) =>
      persisting(
        core,
        core.receive(1, { type: 'vote-request', term: 5, incarnation: 77, seq }, now),
        now,
      ).messages.find((m) => m.message.type === 'vote-reply')?.message as VoteReply | undefined;
    const hear = (now: number) => persisting(core, core.receive(1, heartbeat(77, true), now), now);
    hear(10);
    assert.equal(ask(10, 1)?.reason, 'not-ready');
    hear(LEASE - 1);
    assert.equal(ask(LEASE - 1, 2)?.reason, 'not-ready');
    // The remembered request is granted the moment the wait ends, with the heartbeat that finds it over.
    const reply = hear(LEASE).messages.find((m) => m.message.type === 'vote-reply')?.message as VoteReply | undefined;
    assert.equal(reply?.granted ?? ask(LEASE, 3)?.granted, true);
  });

  it('a vote whose write failed is neither counted nor sent: no leadership, no reply, until a write succeeds', () => {
    const core = new ElectionCore({
      id: 1,
      clusterSize: 1,
      heartbeatIntervalMs: 100,
      leaseMs: LEASE,
      peerTimeoutMs: 400,
      maxDriftRate: 0.01,
      incarnation: 3,
    });
    let now = 0;
    let effects = core.start(now);
    // Past the restart wait, the single node campaigns and votes for itself: that grant must be written first.
    for (; effects.persist === null && now < 3 * LEASE; now += 10) effects = core.tick(now);
    assert.ok(effects.persist !== null, 'never asked to persist its own vote');
    assert.equal(core.isLeaderAt(now), false, 'counted its own vote before it was written');
    const failed = core.persistDone(false, now);
    assert.equal(core.isLeaderAt(now), false);
    assert.deepEqual(failed.events, []);
    assert.equal(core.status(now).vote, null, 'the failed grant was not undone');
    // The next round asks again; this time the write succeeds and the node leads, with its gained event.
    let done = null;
    for (let guard = 0; done === null && guard < 100; guard++, now += 10) {
      const next = core.tick(now);
      if (next.persist !== null) done = persisting(core, next, now);
    }
    assert.ok(done !== null);
    assert.deepEqual(
      done.events.filter((e) => e.type === 'gained'),
      [{ type: 'gained', term: core.term }],
    );
    assert.equal(core.isLeaderAt(now), true);
  });

  it('persists the highest granted term before replying, and never grants a lower term after restart', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    const persisted = cluster.durable.get(3);
    assert.deepEqual(persisted, { highestTerm: 1, highestTermHolder: 1 });
    const core = new ElectionCore(cluster.config(3), persisted);
    core.start(0);
    const effects = core.receive(2, { type: 'vote-request', term: 1, incarnation: 5, seq: 1 }, 2 * LEASE);
    const reply = effects.messages.find((m) => m.message.type === 'vote-reply')?.message as VoteReply;
    assert.equal(reply.granted, false);
    assert.equal(reply.reason, 'stale-term');
    assert.equal(reply.highestTerm, 1);
  });

  it('reports isLeader false the moment its lease ends, even if no timer has fired (a paused process)', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    const core = cluster.cores.get(1)!;
    const t = cluster.now;
    assert.equal(core.isLeaderAt(t), true);
    assert.equal(core.isLeaderAt(t + LEASE), false);
  });

  it('loses leadership with lease-expired when cut off from the majority, and the majority elects anew', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    for (const peer of [2, 3]) {
      cluster.cut.add(`1>${peer}`);
      cluster.cut.add(`${peer}>1`);
    }
    cluster.advanceUntil(() => cluster.leaders()[0] === 2, 3 * LEASE);
    assert.equal(cluster.eventsOf(1, 'lost').at(-1)?.type, 'lost');
    assert.deepEqual(cluster.eventsOf(1, 'lost').at(-1), { type: 'lost', term: 1, reason: 'lease-expired' });
    cluster.cut.clear();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 3 * LEASE);
    const terms = cluster.events
      .filter((e) => e.event.type === 'gained')
      .map((e) => (e.event as { term: number }).term);
    assert.deepEqual(
      terms,
      [...terms].sort((a, b) => a - b),
    );
    assert.equal(new Set(terms).size, terms.length);
  });

  it('works with arbitrary large IDs', () => {
    const ids = [Number.MAX_SAFE_INTEGER, 4_000_000_001, 123_456_789];
    const cluster = new CoreCluster(ids);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders().length === 1, 2 * LEASE);
    assert.deepEqual(cluster.leaders(), [123_456_789]);
  });

  it('exposes a JSON-serialisable status', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders()[0] === 1, 2 * LEASE);
    const status = cluster.cores.get(1)!.status(cluster.now);
    assert.deepEqual(JSON.parse(JSON.stringify(status)), status);
    assert.equal(status.role, 'leader');
    assert.equal(status.peers.length, 2);
    assert.ok(status.leaseRemainingMs > 0);
  });
});

function heartbeat(incarnation: number, canLead: boolean) {
  return {
    type: 'heartbeat' as const,
    incarnation,
    ready: true,
    canLead,
    leaving: false,
    healthy: true,
    voterOnly: false,
    preempt: true,
    term: 0,
    leaderTerm: 0,
    sees: [],
  };
}
