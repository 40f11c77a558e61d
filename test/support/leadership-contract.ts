import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { LeadershipSource } from '../../src/leadership/leadership-source.ts';
import type { GainedLeadershipInfo, LostLeadershipInfo } from '../../src/node/events.ts';
import { waitFor } from './wait.ts';

/**
 * The behaviour every `LeadershipSource` backend owes its users (bindFloatingIp, the CLI, host code), run
 * against each backend: ElectionNode and EtcdElection. `group` makes sources that elect among themselves.
 */
export interface ContractGroup {
  /** Not started yet. */
  sources: LeadershipSource[];
  /** Starts every source (and connects them, where the backend needs that). */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

interface Log {
  gained: (GainedLeadershipInfo & { source: LeadershipSource; isLeaderThen: boolean })[];
  lost: (LostLeadershipInfo & { source: LeadershipSource; signalAbortedThen: boolean; isLeaderThen: boolean })[];
}

function record(sources: LeadershipSource[]): Log {
  const log: Log = { gained: [], lost: [] };
  for (const source of sources) {
    let signal: AbortSignal | undefined;
    source.on('gainedLeadership', (info) => {
      signal = info.signal;
      log.gained.push({ ...info, source, isLeaderThen: source.isLeader });
    });
    source.on('lostLeadership', (info) => {
      log.lost.push({ ...info, source, signalAbortedThen: signal?.aborted === true, isLeaderThen: source.isLeader });
    });
  }
  return log;
}

export function leadershipContract(name: string, group: () => Promise<ContractGroup>, livenessMs: number): void {
  it(`${name}: one leader, seen by all; status() agrees; stop() hands over with a higher term; events paired`, async () => {
    const { sources, start, cleanup } = await group();
    try {
      const log = record(sources);
      await start();
      // Settled: one leader that everyone sees (a backend may move leadership once early on, e.g. bully preemption).
      const settled = (): LeadershipSource | undefined => {
        const leaders = sources.filter((s) => s.isLeader);
        const only = leaders.length === 1 ? leaders[0] : undefined;
        return only !== undefined && sources.every((s) => s.leaderId === only.id) ? only : undefined;
      };
      // status() is read separately from isLeader (in worker mode, a snapshot taken at another moment), so an early
      // leader preempted in between would disagree with itself: wait for a settled leader whose status agrees too.
      const agreed = (): LeadershipSource | undefined => {
        const only = settled();
        if (only === undefined) return undefined;
        const status = only.status();
        return status.isLeader && status.term === only.term ? only : undefined;
      };
      await waitFor(() => agreed() !== undefined, livenessMs, 'one leader seen by everyone');
      const leader = agreed()!;
      const first = log.gained.filter((g) => g.source === leader).at(-1)!;
      assert.equal(first.source, leader);
      assert.equal(first.isLeaderThen, true);
      assert.equal(first.signal.aborted, false);
      assert.ok(first.term > 0);
      assert.equal(leader.term, first.term);
      const status = leader.status();
      assert.deepEqual(
        { id: status.id, state: status.state, isLeader: status.isLeader, leaderId: status.leaderId, term: status.term },
        { id: leader.id, state: 'running', isLeader: true, leaderId: leader.id, term: first.term },
      );
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(status)));

      const stopped = performance.now();
      await leader.stop();
      assert.equal(leader.isLeader, false);
      assert.equal(leader.status().state, 'stopped');
      assert.equal(first.signal.aborted, true);
      const lost = log.lost.filter((l) => l.source === leader).at(-1)!;
      assert.deepEqual(
        [lost.term, lost.reason, lost.signalAbortedThen, lost.isLeaderThen],
        [first.term, 'stopped', true, false],
      );
      const rest = sources.filter((s) => s !== leader);
      await waitFor(() => rest.some((s) => s.isLeader), livenessMs, 'a successor');
      const handoffMs = performance.now() - stopped;
      const second = log.gained.at(-1)!;
      assert.notEqual(second.source, leader);
      assert.ok(second.term > first.term, `term ${second.term} after ${first.term}`);
      assert.ok(handoffMs < livenessMs);
      await Promise.all(rest.map((s) => s.stop()));
      // Every gain was paired with one loss of the same term, and each signal was aborted by then.
      assert.equal(log.lost.length, log.gained.length);
      for (const g of log.gained) {
        const l = log.lost.filter((x) => x.source === g.source && x.term === g.term);
        assert.equal(l.length, 1, `one lostLeadership for term ${g.term}`);
        assert.equal(l[0]!.signalAbortedThen, true);
        assert.equal(g.signal.aborted, true);
      }
    } finally {
      await cleanup();
    }
  });
}
