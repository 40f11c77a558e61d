import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type EtcdCluster,
  etcdSkip,
  type Kill,
  leadershipViolations,
  type NodeProcessEvent,
  ProcessCluster,
  startEtcdCluster,
} from '../src/testing.ts';

// Real OS processes on the etcd backend: crash (SIGKILL), pause (SIGSTOP) and graceful stop (SIGTERM) of the leader,
// with the same leadership-interval checker as the built-in protocol's process tests.
const LEASE_MS = 2000;
const WAIT_MS = 30_000;
const SCRIPT = fileURLToPath(new URL('./fixtures/etcd-node.ts', import.meta.url));
const skip = etcdSkip();
let names = 0;

describe('etcd backend with real processes', { skip, timeout: 300_000 }, () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcdCluster(3);
  });
  after(async () => {
    await etcd?.stop();
  });

  const cluster = (): ProcessCluster =>
    new ProcessCluster({
      ids: [1, 2, 3],
      script: SCRIPT,
      args: [
        '--etcd-endpoints',
        etcd.endpoints.join(','),
        '--name',
        `p${process.pid}-${++names}`,
        '--lease-ms',
        String(LEASE_MS),
      ],
    });

  const gain = (c: ProcessCluster, predicate: (e: NodeProcessEvent) => boolean = () => true) =>
    c.waitFor((e) => e.event === 'gainedLeadership' && predicate(e), WAIT_MS);

  it('SIGKILL of the leader: the next leads about one TTL later; SIGTERM: handoff in a round trip; no overlap, terms grow', async (t) => {
    const c = cluster();
    const kills: Kill[] = [];
    try {
      const first = gain(c);
      await c.start();
      const leader = (await first).id;
      const next = gain(c, (e) => e.id !== leader);
      const killedAt = await c.kill(leader, 'SIGKILL');
      kills.push({ id: leader, at: killedAt });
      const second = await next;
      const failoverMs = second.mono - killedAt;
      t.diagnostic(`crash failover: ${Math.round(failoverMs)} ms (TTL ${LEASE_MS} ms)`);
      assert.ok(failoverMs < LEASE_MS + 2000, `failover took ${Math.round(failoverMs)} ms`);

      // The killed node comes back (it does not preempt: first come), then the leader stops gracefully.
      await c.spawn(leader);
      const third = gain(c, (e) => e.id !== second.id);
      const stoppedAt = await c.kill(second.id, 'SIGTERM');
      const handoffMs = (await third).mono - stoppedAt;
      t.diagnostic(`graceful handoff: ${Math.round(handoffMs)} ms`);
      assert.ok(handoffMs < LEASE_MS / 2, `handoff took ${Math.round(handoffMs)} ms: it waited for the lease`);
      assert.ok(
        c.history.some((e) => e.id === second.id && e.event === 'lostLeadership' && e.reason === 'stopped'),
        'the stopped leader reported lostLeadership (stopped)',
      );
      assert.deepEqual(leadershipViolations(c.history, kills), []);
    } finally {
      await c.stop();
    }
  });

  it('SIGSTOP of the leader past its TTL: another leads; when it resumes it has already stopped leading', async (t) => {
    const c = cluster();
    try {
      const first = gain(c);
      await c.start();
      const leader = (await first).id;
      const next = gain(c, (e) => e.id !== leader);
      const pausedAt = performance.now();
      c.signal(leader, 'SIGSTOP');
      const successor = await next;
      t.diagnostic(`failover from a paused leader: ${Math.round(performance.now() - pausedAt)} ms`);
      const resumed = c.waitFor((e) => e.id === leader && e.event === 'lostLeadership', WAIT_MS);
      c.signal(leader, 'SIGCONT');
      const lost = await resumed;
      assert.equal(lost.reason, 'lease-expired');
      // It noticed late (it was paused), and says by how much: its leadership ended before the successor's began.
      assert.ok(Number(lost.endedMsAgo) > 0);
      assert.ok(lost.mono - Number(lost.endedMsAgo) <= successor.mono, 'the paused leader believed past the successor');
      // Back in the race, it follows the successor.
      await c.waitFor((e) => e.id === leader && e.event === 'leaderChange' && e.leaderId === successor.id, WAIT_MS);
      assert.deepEqual(leadershipViolations(c.history, []), []);
    } finally {
      await c.stop();
    }
  });
});
