import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AppendEntry, AppendError, ConfigError, type ElectionNode, ElectionNode as Node } from '../src/index.ts';
import { startCluster, type TestCluster } from './support/tcp-cluster.ts';
import { waitFor } from './support/wait.ts';

// Short timing keeps the suite fast; the protocol is the same at any scale.
// A lease long enough that a loaded test machine does not move leadership in the middle of a test.
const TIMING = { heartbeatIntervalMs: 50, leaseMs: 1000 } as const;
const THREADS = ['worker', 'main'] as const;
const LIVENESS_MS = 10_000;
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Records every entry `node` delivers; `store` decides how (and whether) it confirms. */
function record(node: ElectionNode, store: (entry: AppendEntry) => void | Promise<void> = (e) => e.confirm()) {
  const entries: AppendEntry[] = [];
  const commits: { term: number; index: number }[] = [];
  node.on('append', (entry) => {
    entries.push(entry);
    return store(entry);
  });
  node.on('commit', (info) => commits.push(info));
  return { entries, commits };
}

async function leaderOf(cluster: TestCluster): Promise<ElectionNode> {
  return cluster.node(await cluster.leaderGained(undefined, LIVENESS_MS));
}

for (const thread of THREADS) {
  const FAST = { ...TIMING, thread } as const;

  describe(`broadcast over TCP (thread: ${thread})`, () => {
    it('3 nodes: append resolves once a majority stored it; followers deliver in order and hear the commits', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        const leader = await leaderOf(cluster);
        const followers = [...cluster.nodes.values()].filter((n) => n !== leader);
        // One follower confirms with confirm(), the other by returning a promise (an async store).
        const a = record(followers[0]!);
        const b = record(followers[1]!, async () => {
          await new Promise((resolve) => setImmediate(resolve));
        });
        const leaderCommits: number[] = [];
        leader.on('commit', ({ index }) => leaderCommits.push(index));
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => leader.append(`entry ${i + 1}`)));
        const term = leader.term;
        assert.deepEqual(
          results,
          Array.from({ length: 20 }, (_, i) => ({ term, index: i + 1 })),
        );
        assert.deepEqual(
          leaderCommits,
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        for (const f of [a, b]) {
          await waitFor(() => f.commits.length === 20, LIVENESS_MS, 'follower commits').catch((e) => {
            throw new Error(`${e.message}: ${f.entries.length} delivered, ${JSON.stringify(f.commits)}`);
          });
          assert.deepEqual(
            f.entries.map((e) => [e.term, e.index, text(e.data), e.catchUp, e.leaderId]),
            Array.from({ length: 20 }, (_, i) => [term, i + 1, `entry ${i + 1}`, false, leader.id]),
          );
        }
        assert.equal(leader.status().broadcast.inFlight, 0);
      } finally {
        await cluster.stopAll();
      }
    });

    it('5 nodes: two followers confirming make a majority; the two that never confirm are not needed', async () => {
      const cluster = await startCluster([1, 2, 3, 4, 5], FAST);
      try {
        const leader = await leaderOf(cluster);
        const followers = [...cluster.nodes.values()].filter((n) => n !== leader);
        const silent = followers.slice(0, 2).map((n) => record(n, () => {}));
        const confirming = followers.slice(2, 3).map((n) => record(n));
        let release = () => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const gated = record(followers[3]!, () => gate);
        const pending = leader.append('needs 3 of 5');
        let settled = false;
        pending.then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        await waitFor(() => silent.every((f) => f.entries.length === 1), LIVENESS_MS, 'delivery');
        await waitFor(() => confirming[0]!.entries.length === 1, LIVENESS_MS, 'delivery');
        await waitFor(() => gated.entries.length === 1, LIVENESS_MS, 'delivery');
        // Leader + 1 confirmation = 2 of 5: not a majority.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(settled, false, 'committed without a majority');
        release(); // the fourth follower's store completes: 3 of 5
        assert.deepEqual(await pending, { term: leader.term, index: 1 });
        assert.deepEqual(await leader.append('again'), { term: leader.term, index: 2 });
        // Nodes that never confirm still receive every entry, in order.
        await waitFor(() => silent.every((f) => f.entries.length === 2), LIVENESS_MS, 'delivery to silent nodes');
        assert.deepEqual(
          silent.map((f) => f.entries.map((e) => e.index)),
          [
            [1, 2],
            [1, 2],
          ],
        );
      } finally {
        await cluster.stopAll();
      }
    });

    it('typed refusals: not the leader, too large, back-pressure; aborted; leadership lost with entries in flight', async () => {
      const cluster = await startCluster([1, 2, 3], {
        ...FAST,
        broadcast: { maxEntryBytes: 1000, maxInFlightEntries: 3, maxInFlightBytes: 2000 },
      });
      try {
        const leader = await leaderOf(cluster);
        const followers = [...cluster.nodes.values()].filter((n) => n !== leader);
        for (const f of followers) record(f, () => {}); // store nothing: every entry stays in flight
        const reason = (p: Promise<unknown>) =>
          p.then(
            () => 'resolved',
            (e: unknown) => (e instanceof AppendError ? e.reason : String(e)),
          );
        assert.equal(await reason(followers[0]!.append('x')), 'notLeader');
        assert.equal(await reason(leader.append(new Uint8Array(1001))), 'tooLarge');
        const inFlight = [leader.append('1'), leader.append('2')];
        const outcomes = inFlight.map(reason);
        const controller = new AbortController();
        const abortable = leader.append('3', { signal: controller.signal });
        await waitFor(() => leader.status().broadcast.inFlight === 3, LIVENESS_MS, 'three in flight');
        controller.abort();
        const abortError = await abortable.catch((e: unknown) => e);
        assert.ok(abortError instanceof AppendError && abortError.reason === 'aborted');
        // An entry the facade already knew as taken says which one it was (the acceptance may still be on its way).
        assert.ok(abortError.entry === undefined || abortError.entry.index === 3, String(abortError.entry?.index));
        // The aborted entry is still in flight (it was sent and may commit), so the pipeline is full.
        assert.equal(await reason(leader.append('4')), 'backpressure');
        await leader.stop();
        assert.deepEqual(await Promise.all(outcomes), ['leadershipLost', 'leadershipLost']);
        const error = await inFlight[0]!.catch((e: unknown) => e);
        assert.ok(error instanceof AppendError);
        assert.equal(error.code, 'ERR_APPEND');
        assert.equal(error.entry?.index, 1);
      } finally {
        await cluster.stopAll();
      }
    });

    it('a node that was down when entries committed sees the latest committed entry as a catch-up when it returns', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        const leader = await leaderOf(cluster);
        const [up, down] = [...cluster.nodes.values()].filter((n) => n !== leader);
        record(up!);
        await down!.stop();
        for (const v of ['config v1', 'config v2', 'config v3']) await leader.append(v);
        const back = await cluster.restart(down!.id);
        const seen = record(back);
        await waitFor(() => seen.commits.length === 1, LIVENESS_MS, 'catch-up commit');
        assert.deepEqual(
          seen.entries.map((e) => [e.index, text(e.data), e.catchUp]),
          [[3, 'config v3', true]],
        );
        // And it follows from there.
        await leader.append('config v4');
        await waitFor(() => seen.entries.length === 2, LIVENESS_MS, 'next entry');
        assert.deepEqual([seen.entries[1]!.index, seen.entries[1]!.catchUp], [4, false]);
      } finally {
        await cluster.stopAll();
      }
    });
  });
}

describe('broadcast options', () => {
  const base = { id: 1, listen: '127.0.0.1:0' };
  for (const [name, broadcast, field] of [
    ['entry larger than a frame', { maxEntryBytes: 65536 }, 'broadcast.maxEntryBytes'],
    ['zero entries in flight', { maxInFlightEntries: 0 }, 'broadcast.maxInFlightEntries'],
    ['in-flight bytes below one entry', { maxEntryBytes: 1000, maxInFlightBytes: 999 }, 'broadcast.maxInFlightBytes'],
    ['in-flight bytes above half the write buffer', { maxInFlightBytes: 600_000 }, 'broadcast.maxInFlightBytes'],
    ['unknown key', { maxEntries: 3 }, 'broadcast.maxEntries'],
    ['not an object', 5, 'broadcast'],
  ] as const) {
    it(`refuses ${name}, naming ${field}`, () => {
      assert.throws(
        () => new Node({ ...base, broadcast: broadcast as never }),
        (e: unknown) => e instanceof ConfigError && e.field === field,
      );
    });
  }

  it('a small frame without an explicit entry bound names the frame option', () => {
    assert.throws(
      () => new Node({ ...base, transport: { maxFrameBytes: 4096 } }),
      (e: unknown) => e instanceof ConfigError && e.field === 'transport.maxFrameBytes',
    );
    assert.doesNotThrow(
      () => new Node({ ...base, transport: { maxFrameBytes: 4096 }, broadcast: { maxEntryBytes: 4000 } }),
    );
  });

  it('accepts explicit undefined everywhere', () => {
    const node = new Node({
      ...base,
      broadcast: { maxEntryBytes: undefined, maxInFlightEntries: undefined, maxInFlightBytes: undefined },
    });
    assert.equal(node.status().broadcast.inFlight, 0);
  });
});
