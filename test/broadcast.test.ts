import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Broadcast, type BroadcastEvent } from '../src/core/broadcast.ts';
import type { Message } from '../src/core/messages.ts';
import { CoreCluster } from './support/core-cluster.ts';

const LEASE = 1000;
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A cluster with a settled leader (the lowest ID). */
function settled(ids: number[]): CoreCluster {
  const cluster = new CoreCluster(ids);
  cluster.startAll();
  cluster.advanceUntil(() => cluster.leaders().length === 1, 3 * LEASE);
  cluster.advance(200);
  return cluster;
}

let nextRequest = 1;
function append(cluster: CoreCluster, id: number, data: string): number {
  const requestId = nextRequest++;
  cluster.drive(id, (core, now) => core.append(requestId, bytes(data), now));
  return requestId;
}

function accepted(cluster: CoreCluster, id: number, requestId: number) {
  return cluster.eventsOf(id, 'append-accepted').find((e) => e.requestId === requestId);
}

/** Confirms every entry delivered to `id` so far (its application stored them). */
function confirmAll(cluster: CoreCluster, id: number): void {
  for (const d of cluster.eventsOf(id, 'delivered'))
    cluster.drive(id, (core, now) => core.confirmAppend(d.term, d.index, now));
}

describe('broadcast (core)', () => {
  it('commits once a majority (the leader included) confirmed, and tells the followers', () => {
    const cluster = settled([1, 2, 3]);
    const term = cluster.cores.get(1)!.term;
    const request = append(cluster, 1, 'config v1');
    assert.deepEqual(accepted(cluster, 1, request), { type: 'append-accepted', requestId: request, term, index: 1 });
    cluster.advance(5);
    for (const id of [2, 3]) {
      const delivered = cluster.eventsOf(id, 'delivered');
      assert.equal(delivered.length, 1, `node ${id}`);
      assert.deepEqual(
        { ...delivered[0]!, data: text(delivered[0]!.data) },
        {
          type: 'delivered',
          term,
          index: 1,
          data: 'config v1',
          catchUp: false,
          leaderId: 1,
        },
      );
    }
    assert.deepEqual(cluster.eventsOf(1, 'committed'), [], 'committed before any follower confirmed');
    cluster.advance(50);
    assert.deepEqual(cluster.eventsOf(1, 'committed'), [], 'delivery alone is not a confirmation');
    confirmAll(cluster, 2);
    cluster.advance(5);
    assert.deepEqual(cluster.eventsOf(1, 'committed'), [{ type: 'committed', term, index: 1 }]);
    assert.deepEqual(cluster.eventsOf(2, 'committed'), [{ type: 'committed', term, index: 1 }]);
    assert.deepEqual(cluster.eventsOf(3, 'committed'), [{ type: 'committed', term, index: 1 }], 'node 3 hears too');
  });

  it('needs two follower confirmations in a cluster of five', () => {
    const cluster = settled([1, 2, 3, 4, 5]);
    append(cluster, 1, 'x');
    cluster.advance(5);
    confirmAll(cluster, 4);
    cluster.advance(5);
    assert.deepEqual(cluster.eventsOf(1, 'committed'), []);
    confirmAll(cluster, 5);
    cluster.advance(5);
    assert.equal(cluster.eventsOf(1, 'committed').length, 1);
  });

  it('a single-node cluster commits at once', () => {
    const cluster = settled([1]);
    append(cluster, 1, 'alone');
    assert.equal(cluster.eventsOf(1, 'committed').length, 1);
  });

  it('refuses an append on a non-leader, a too large one, and beyond the in-flight limits', () => {
    const cluster = settled([1, 2, 3]);
    const refusal = (id: number, request: number) =>
      cluster.eventsOf(id, 'append-refused').find((e) => e.requestId === request)?.reason;
    assert.equal(refusal(2, append(cluster, 2, 'x')), 'notLeader');
    const big = nextRequest++;
    cluster.drive(1, (core, now) => core.append(big, new Uint8Array(60 * 1024 + 1), now));
    assert.equal(refusal(1, big), 'tooLarge');
    for (let i = 0; i < 64; i++) assert.ok(accepted(cluster, 1, append(cluster, 1, `e${i}`)));
    assert.equal(refusal(1, append(cluster, 1, 'one too many')), 'backpressure');
    cluster.advance(5);
    confirmAll(cluster, 2);
    cluster.advance(5);
    assert.equal(cluster.eventsOf(1, 'committed').length, 64);
    assert.ok(accepted(cluster, 1, append(cluster, 1, 'room again')), 'commits free the pipeline');
    assert.equal(cluster.cores.get(1)!.status(cluster.now).broadcast.inFlight, 1);
  });

  it('bounds the bytes in flight', () => {
    const cluster = new CoreCluster([1, 2, 3]);
    cluster.config = (id) => ({
      id,
      clusterSize: 3,
      ...cluster.timing,
      incarnation: id,
      broadcast: { maxEntryBytes: 1000, maxInFlightEntries: 100, maxInFlightBytes: 2500 },
    });
    cluster.startAll();
    cluster.advanceUntil(() => cluster.leaders().length === 1, 3 * LEASE);
    const request = () => {
      const id = nextRequest++;
      cluster.drive(1, (core, now) => core.append(id, new Uint8Array(1000), now));
      return id;
    };
    assert.ok(accepted(cluster, 1, request()));
    assert.ok(accepted(cluster, 1, request()));
    const third = request();
    const refused = cluster.eventsOf(1, 'append-refused').find((e) => e.requestId === third);
    assert.equal(refused?.reason, 'backpressure');
    assert.match(refused!.message, /maxInFlightBytes/);
  });

  it('delivers a pipeline in order and commits it with cumulative confirmations, in order', () => {
    const cluster = settled([1, 2, 3]);
    for (let i = 1; i <= 10; i++) append(cluster, 1, `entry ${i}`);
    cluster.advance(5);
    const delivered = cluster.eventsOf(2, 'delivered');
    assert.deepEqual(
      delivered.map((d) => [d.index, text(d.data)]),
      Array.from({ length: 10 }, (_, i) => [i + 1, `entry ${i + 1}`]),
    );
    // The application confirms out of order: nothing past a hole counts.
    for (const index of [3, 2, 5]) cluster.drive(2, (core, now) => core.confirmAppend(delivered[0]!.term, index, now));
    cluster.advance(5);
    assert.deepEqual(cluster.eventsOf(1, 'committed'), []);
    cluster.drive(2, (core, now) => core.confirmAppend(delivered[0]!.term, 1, now));
    cluster.advance(5);
    assert.deepEqual(
      cluster.eventsOf(1, 'committed').map((e) => e.index),
      [1, 2, 3],
    );
  });

  it('fails every entry in flight when leadership ends, and never reports them committed', () => {
    const cluster = settled([1, 2, 3]);
    const term = cluster.cores.get(1)!.term;
    append(cluster, 1, 'a');
    append(cluster, 1, 'b');
    cluster.advance(5);
    cluster.stop(1);
    assert.deepEqual(cluster.eventsOf(1, 'append-failed'), [
      { type: 'append-failed', term, index: 1 },
      { type: 'append-failed', term, index: 2 },
    ]);
    confirmAll(cluster, 2);
    confirmAll(cluster, 3);
    cluster.advance(100);
    assert.deepEqual(cluster.eventsOf(1, 'committed'), []);
  });

  it("refuses a deposed leader's late entries once a higher leader term was seen", () => {
    const cluster = settled([1, 2, 3]);
    const oldTerm = cluster.cores.get(1)!.term;
    cluster.crash(1);
    cluster.advanceUntil(() => cluster.leaders()[0] === 2, 3 * LEASE);
    cluster.advance(200);
    const late = {
      type: 'append',
      incarnation: 1,
      term: oldTerm,
      index: 1,
      catchUp: false,
      data: bytes('late'),
    } as const;
    cluster.drive(3, (core, now) => core.receive(1, late, now));
    assert.deepEqual(cluster.eventsOf(3, 'delivered'), []);
    assert.equal(cluster.cores.get(3)!.status(cluster.now).broadcast.refusedStale, 1);
    // The new leader's entries are delivered.
    append(cluster, 2, 'new');
    cluster.advance(5);
    assert.equal(cluster.eventsOf(3, 'delivered').length, 1);
    // And an entry of the old term, arriving after the new one, is refused too.
    cluster.drive(3, (core, now) => core.receive(1, { ...late, index: 2 }, now));
    assert.equal(cluster.eventsOf(3, 'delivered').length, 1);
  });

  it('a gap is not delivered across; the follower reports it and the leader catches it up', () => {
    const cluster = settled([1, 2, 3]);
    append(cluster, 1, 'one');
    cluster.advance(5);
    cluster.cut.add('1>3');
    append(cluster, 1, 'two (lost to 3)');
    cluster.advance(5);
    cluster.cut.delete('1>3');
    confirmAll(cluster, 2);
    cluster.advance(5);
    assert.equal(cluster.eventsOf(1, 'committed').length, 2);
    append(cluster, 1, 'three');
    cluster.advance(20);
    const seen = cluster.eventsOf(3, 'delivered').map((d) => [d.index, d.catchUp]);
    // 3 missed entry 2: it gets entry 2 as a catch-up (committed), then 3; never 3 before 2.
    assert.deepEqual(seen, [
      [1, false],
      [2, true],
      [3, false],
    ]);
    assert.equal(cluster.cores.get(3)!.status(cluster.now).broadcast.gaps, 1);
  });

  it('a late node sees the latest committed entry of the current term when it (re)connects, then what follows', () => {
    const cluster = settled([1, 2, 3]);
    cluster.cut.add('1>3');
    for (const v of ['v1', 'v2', 'v3']) append(cluster, 1, v);
    cluster.advance(5);
    confirmAll(cluster, 2);
    cluster.advance(5);
    append(cluster, 1, 'v4 in flight');
    cluster.advance(5);
    cluster.cut.delete('1>3');
    cluster.relink(1, 3);
    cluster.advance(5);
    const seen = cluster.eventsOf(3, 'delivered').map((d) => [d.index, text(d.data), d.catchUp]);
    assert.deepEqual(seen, [
      [3, 'v3', true],
      [4, 'v4 in flight', false],
    ]);
    assert.deepEqual(
      cluster.eventsOf(3, 'committed').map((e) => e.index),
      [3],
    );
  });
});

describe('Broadcast (unit, hostile inputs)', () => {
  function harness(majority = 2) {
    const sent: { to: number | 'all'; message: Message }[] = [];
    const events: BroadcastEvent[] = [];
    const b = new Broadcast(
      99,
      majority,
      { maxEntryBytes: 100, maxInFlightEntries: 4, maxInFlightBytes: 400 },
      {
        send: (to, message) => sent.push({ to, message }),
        sendAll: (message) => sent.push({ to: 'all', message }),
        emit: (event) => events.push(event),
      },
    );
    return { b, sent, events };
  }

  it('ignores an ack claiming entries never sent, or for another term or leader incarnation', () => {
    const { b, events } = harness();
    b.append(1, bytes('a'), 5);
    b.onAck(2, { type: 'append-ack', term: 5, incarnation: 99, confirmed: 7, missing: 0 }, 5);
    b.onAck(2, { type: 'append-ack', term: 4, incarnation: 99, confirmed: 1, missing: 0 }, 5);
    b.onAck(2, { type: 'append-ack', term: 5, incarnation: 98, confirmed: 1, missing: 0 }, 5);
    assert.deepEqual(
      events.filter((e) => e.type === 'committed'),
      [],
    );
    b.onAck(2, { type: 'append-ack', term: 5, incarnation: 99, confirmed: 1, missing: 0 }, null);
    assert.deepEqual(
      events.filter((e) => e.type === 'committed'),
      [],
      'an ack arriving once the lease is gone commits nothing',
    );
    b.onAck(2, { type: 'append-ack', term: 5, incarnation: 99, confirmed: 1, missing: 0 }, 5);
    assert.deepEqual(
      events.filter((e) => e.type === 'committed'),
      [{ type: 'committed', term: 5, index: 1 }],
    );
  });

  it('a follower takes a new term only from its first entry or a catch-up, and one sender per term', () => {
    const { b, events } = harness();
    const entry = (term: number, index: number, catchUp = false) =>
      ({ type: 'append', incarnation: 1, term, index, catchUp, data: bytes(`${term}.${index}`) }) as const;
    b.onAppend(1, entry(3, 2));
    assert.equal(events.length, 0, 'index 2 of a term never seen');
    b.onAppend(1, entry(3, 1));
    b.onAppend(9, entry(3, 2));
    assert.equal(events.filter((e) => e.type === 'delivered').length, 1, 'another sender for term 3');
    b.onAppend(2, entry(4, 7, true));
    b.onAppend(1, entry(3, 2));
    const delivered = events.flatMap((e) => (e.type === 'delivered' ? [[e.term, e.index, e.leaderId]] : []));
    assert.deepEqual(delivered, [
      [3, 1, 1],
      [4, 7, 2],
    ]);
  });

  it('refuses a term reused by the same leader after a restart (no stateDir): a new incarnation', () => {
    const { b, events } = harness();
    const entry = (incarnation: number, index: number) =>
      ({ type: 'append', term: 4, incarnation, index, catchUp: false, data: bytes('x') }) as const;
    b.onAppend(1, entry(10, 1));
    b.onAppend(1, entry(10, 2));
    b.onAppend(1, entry(11, 1)); // node 1 restarted and leads term 4 again
    b.onAppend(1, entry(11, 3));
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'delivered' ? [e.index] : [])),
      [1, 2],
    );
  });

  it('a confirm for an entry not delivered, or of another term, is ignored', () => {
    const { b, sent } = harness();
    b.onAppend(1, { type: 'append', incarnation: 1, term: 2, index: 1, catchUp: false, data: bytes('x') });
    b.confirm(2, 5);
    b.confirm(1, 1);
    assert.deepEqual(sent, []);
    b.confirm(2, 1);
    assert.deepEqual(sent, [
      { to: 1, message: { type: 'append-ack', term: 2, incarnation: 1, confirmed: 1, missing: 0 } },
    ]);
  });
});
