import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessCluster } from '../src/testing/process-cluster.ts';

/**
 * The broadcast with real OS processes: the leader keeps appends in flight and is killed with SIGKILL in the middle
 * of them. Every entry its caller heard "committed" must have been stored by a majority before (here: by a
 * follower, the leader being the other half), every follower delivers in `(term, index)` order with no gap outside a
 * catch-up, and the new leader's entries follow in a higher term. Times are the processes' own reports on the
 * host-wide monotonic clock.
 */
const SCRIPT = fileURLToPath(new URL('./support/append-node.ts', import.meta.url));
const TIMING = ['--heartbeat-ms', '50', '--lease-ms', '1000'];
const BOOT_MS = 30_000;
const LIVENESS_MS = 15_000;

for (const thread of ['worker', 'main'] as const) {
  describe(`broadcast with real processes (thread: ${thread})`, () => {
    const cluster = new ProcessCluster({ ids: [1, 2, 3], args: [...TIMING, '--thread', thread], script: SCRIPT });
    after(() => cluster.stop());

    it('SIGKILL of the leader with appends in flight: no caller heard "committed" for an entry a majority did not store', async () => {
      await cluster.start();
      // The leader is the node whose pipeline gets going: a node that led first may be preempted by a lower ID that
      // booted later (bully order), so the first gainedLeadership is not necessarily the one to kill.
      const commits = new Map<unknown, number>();
      const busy = await cluster.waitFor((e) => {
        if (e.event !== 'committed') return false;
        const n = (commits.get(e.id) ?? 0) + 1;
        commits.set(e.id, n);
        return n >= 200;
      }, BOOT_MS + LIVENESS_MS);
      const leader = busy.id;
      const first = cluster.history.filter((e) => e.id === leader && e.event === 'gainedLeadership').at(-1)!;
      // Kill the leader in the middle of its pipeline.
      const killedAt = await cluster.kill(leader, 'SIGKILL');
      const next = await cluster.waitFor((e) => e.event === 'gainedLeadership' && e.id !== leader, LIVENESS_MS);
      let newCommits = 0;
      await cluster.waitFor((e) => e.id === next.id && e.event === 'committed' && ++newCommits >= 20, LIVENESS_MS);

      const history = cluster.history;
      const ofLeader = history.filter((e) => e.id === leader);
      const appended = new Set(ofLeader.filter((e) => e.event === 'append').map((e) => e.seq));
      const settled = new Set(
        ofLeader.filter((e) => e.event === 'committed' || e.event === 'appendFailed').map((e) => e.seq),
      );
      assert.ok(appended.size - settled.size > 0, 'the leader was killed with no append in flight');

      // Every commit its caller heard was stored, before, by a follower (with the leader: 2 of 3).
      const stored = history.filter((e) => e.event === 'stored');
      for (const commit of ofLeader.filter((e) => e.event === 'committed')) {
        const by = stored.filter(
          (s) => s.term === commit.term && s.index === commit.index && s.mono <= commit.mono && s.id !== leader,
        );
        assert.ok(by.length >= 1, `entry ${commit.term}:${commit.index} reported committed, stored by no follower`);
      }
      assert.ok(
        ofLeader.every((e) => e.mono <= killedAt + 1),
        'the killed leader said something after the kill',
      );

      // Each follower process delivers in (term, index) order, consecutively within a term unless a catch-up.
      for (const id of [1, 2, 3]) {
        let last: { term: number; index: number } | null = null;
        for (const s of stored.filter((e) => e.id === id)) {
          const term = s.term as number;
          const index = s.index as number;
          if (last !== null) {
            assert.ok(
              term > last.term || (term === last.term && index > last.index),
              `node ${id}: ${term}:${index} after ${last.term}:${last.index}`,
            );
            if (!s.catchUp)
              assert.equal(index, term === last.term ? last.index + 1 : 1, `node ${id}: gap before ${term}:${index}`);
          }
          last = { term, index };
        }
      }
      // The new leader's entries reached the surviving follower in the new, higher term. The survivor's lines come
      // through another pipe than the new leader's, so wait for them rather than read them at once.
      const survivor = [1, 2, 3].find((id) => id !== leader && id !== next.id)!;
      const survivorStored = () =>
        cluster.history.filter((e) => e.id === survivor && e.event === 'stored' && e.term === next.term);
      let seen = survivorStored().length;
      if (seen < 20) {
        await cluster.waitFor(
          (e) => e.id === survivor && e.event === 'stored' && e.term === next.term && ++seen >= 20,
          LIVENESS_MS,
        );
      }
      const late = survivorStored();
      assert.ok(late.length >= 20, `survivor ${survivor} stored ${late.length} entries of term ${next.term}`);
      assert.ok((next.term as number) > (first.term as number));
      // And the killed leader's data never reappears in the new term.
      assert.ok(late.every((e) => String(e.data).startsWith(`${next.id}-`)));
    });
  });
}
