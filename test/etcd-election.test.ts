import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import { EtcdElection, type EtcdElectionOptions } from '../src/etcd.ts';
import type { LeadershipSource } from '../src/leadership/leadership-source.ts';
import {
  type EtcdCluster,
  etcdBinary,
  etcdSkip,
  type LeadershipInterval,
  overlaps,
  startEtcdCluster,
  termRegressions,
} from '../src/testing.ts';
import { monotonicMs } from '../src/util/monotonic.ts';
import { ChaosProxy } from './chaos/proxy.ts';
import { leadershipContract } from './support/leadership-contract.ts';
import { waitFor } from './support/wait.ts';

// etcd's minimum lease TTL with its default raft timing is 2 s.
const LEASE_MS = 2000;
const LIVENESS_MS = 20_000;
const skip = etcdSkip();
let names = 0;
const uniqueName = (): string => `t${process.pid}-${++names}`;

/**
 * Every leadership of `sources`, on the monotonic clock, for the same interval checks as the built-in protocol's
 * (`leader-ip/testing`): a leadership ends where `lostLeadership` says it did (`mono − endedMsAgo`).
 */
function intervals(sources: LeadershipSource[]): () => string[] {
  const all: LeadershipInterval[] = [];
  for (const s of sources) {
    let open: LeadershipInterval | undefined;
    s.on('gainedLeadership', ({ term }) => {
      open = { id: s.id, term, from: monotonicMs(), to: Number.POSITIVE_INFINITY, end: 'open' };
      all.push(open);
    });
    s.on('lostLeadership', ({ reason, endedMsAgo }) => {
      if (open === undefined) return;
      open.to = monotonicMs() - endedMsAgo;
      open.end = 'lost';
      open.reason = reason;
      open = undefined;
    });
  }
  return () => [...overlaps(all), ...termRegressions(all)];
}

describe('etcd backend: under CI the real-etcd tests run', () => {
  it('has etcd installed when CI=true (so the etcd tests below are not skipped)', {
    skip: process.env.CI !== 'true',
  }, () => {
    assert.ok(etcdBinary(), 'CI must install etcd-server (.ci/run)');
  });
});

describe('EtcdElection options', () => {
  const base: EtcdElectionOptions = { id: 1, endpoints: 'http://127.0.0.1:2379', name: 'web' };
  const cases: [string, Partial<Record<keyof EtcdElectionOptions, unknown>> & Record<string, unknown>, string][] = [
    ['a missing id', { id: undefined }, 'id'],
    ['id 0', { id: 0 }, 'id'],
    ['no endpoints', { endpoints: [] }, 'endpoints'],
    ['an endpoint that is not a URL', { endpoints: ['127.0.0.1:2379'] }, 'endpoints[0]'],
    ['a second endpoint with a bad scheme', { endpoints: ['http://a:1', 'tcp://b:2'] }, 'endpoints[1]'],
    ['credentials in an endpoint URL', { endpoints: ['http://u:secret@a:1'] }, 'endpoints[0]'],
    ['an endpoint without a port', { endpoints: ['http://a'] }, 'endpoints[0]'],
    ['a name with a slash', { name: 'a/b' }, 'name'],
    ['leaseMs not whole seconds', { leaseMs: 1500 }, 'leaseMs'],
    ['leaseMs below 1 s', { leaseMs: 0 }, 'leaseMs'],
    ['keepAliveIntervalMs not below half a lease', { leaseMs: 2000, keepAliveIntervalMs: 1000 }, 'keepAliveIntervalMs'],
    ['maxDriftRate above 0.2', { maxDriftRate: 0.5 }, 'maxDriftRate'],
    ['voterOnly not a boolean', { voterOnly: 'yes' }, 'voterOnly'],
    ['an unknown option', { leasMs: 2000 }, 'leasMs'],
    ['tls.cert without tls.key', { tls: { cert: 'PEM' } }, 'tls.key'],
    ['an unknown tls option', { tls: { pfx: 'x' } }, 'tls.pfx'],
    ['auth without a password', { auth: { username: 'u' } }, 'auth.password'],
    ['health.check not a function', { health: { check: 1 } }, 'health.check'],
    ['health.fall of 0', { health: { check: () => true, fall: 0 } }, 'health.fall'],
    ['preempt: true (first come)', { preempt: true }, 'preempt'],
    ['a preemptDelayMs', { preemptDelayMs: 100 }, 'preemptDelayMs'],
  ];
  for (const [what, patch, field] of cases) {
    it(`rejects ${what} naming '${field}'`, () => {
      assert.throws(
        () => new EtcdElection({ ...base, ...patch } as EtcdElectionOptions),
        (error: unknown) => error instanceof ConfigError && error.field === field,
      );
    });
  }

  it('accepts every optional option given as undefined, and a comma-separated endpoint list', () => {
    const election = new EtcdElection({
      id: 1,
      endpoints: 'http://127.0.0.1:2379, https://10.0.0.2:2379',
      name: 'web',
      keyPrefix: undefined,
      leaseMs: undefined,
      keepAliveIntervalMs: undefined,
      maxDriftRate: undefined,
      requestTimeoutMs: undefined,
      voterOnly: undefined,
      health: undefined,
      preempt: undefined,
      preemptDelayMs: undefined,
      tls: undefined,
      auth: undefined,
    });
    assert.equal(election.status().key, 'leader-ip/election/web');
    assert.equal(election.status().state, 'new');
  });

  it('never echoes a password or a private key, in errors or status', () => {
    const election = new EtcdElection({
      ...base,
      auth: { username: 'root', password: 'hunter2-secret' },
      tls: { ca: 'CA', cert: 'CERT', key: 'PRIVATE-KEY-secret' },
    });
    const text = JSON.stringify(election.status()) + JSON.stringify(election);
    assert.doesNotMatch(text, /hunter2|PRIVATE-KEY/);
    assert.throws(
      () => new EtcdElection({ ...base, auth: { username: 'root', password: 42 as unknown as string } }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('42'),
    );
  });
});

describe('EtcdElection against a real 3-member etcd cluster', { skip, timeout: 300_000 }, () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcdCluster(3);
  });
  after(async () => {
    await etcd?.stop();
  });

  const make = (id: number, name: string, extra: Partial<EtcdElectionOptions> = {}): EtcdElection =>
    new EtcdElection({ id, endpoints: etcd.endpoints, name, leaseMs: LEASE_MS, ...extra });

  leadershipContract(
    'EtcdElection',
    async () => {
      const name = uniqueName();
      const sources = [1, 2, 3].map((id) => make(id, name));
      return {
        sources,
        start: async () => {
          await Promise.all(sources.map((s) => s.start()));
        },
        cleanup: async () => {
          await Promise.all(sources.map((s) => s.stop()));
        },
      };
    },
    LIVENESS_MS,
  );

  it('terms are etcd revisions: strictly increasing across restarts of every client', async () => {
    const name = uniqueName();
    const terms: number[] = [];
    for (let round = 0; round < 3; round++) {
      const group = [1, 2].map((id) => make(id, name));
      for (const e of group) e.on('gainedLeadership', ({ term }) => terms.push(term));
      await Promise.all(group.map((e) => e.start()));
      await waitFor(() => group.some((e) => e.isLeader), LIVENESS_MS, 'a leader');
      // Every client of the round stops (the leader resigns): the next round starts from scratch.
      await Promise.all(group.map((e) => e.stop()));
    }
    assert.equal(terms.length, 3);
    for (let i = 1; i < terms.length; i++) assert.ok(terms[i]! > terms[i - 1]!, `terms ${terms.join(', ')}`);
  });

  it('a voterOnly node never campaigns but follows the leader', async () => {
    const name = uniqueName();
    const observer = make(1, name, { voterOnly: true });
    const candidate = make(2, name);
    try {
      await observer.start();
      await candidate.start();
      await waitFor(() => candidate.isLeader, LIVENESS_MS, 'the candidate to lead');
      await waitFor(() => observer.leaderId === 2, LIVENESS_MS, 'the observer to see it');
      await candidate.stop();
      await waitFor(() => observer.leaderId === null, LIVENESS_MS, 'the observer to see no leader');
      assert.equal(observer.isLeader, false);
      assert.equal(observer.status().transitions, 0);
    } finally {
      await Promise.all([observer.stop(), candidate.stop()]);
    }
  });

  it('health gating: a leader turning unhealthy resigns at once; an unhealthy node does not campaign', async () => {
    const name = uniqueName();
    let checkOk = true;
    const a = make(1, name, { health: { check: () => checkOk, intervalMs: 50, timeoutMs: 40, fall: 1, rise: 1 } });
    const b = make(2, name);
    const violations = intervals([a, b]);
    try {
      await a.start();
      await waitFor(() => a.isLeader, LIVENESS_MS, 'node 1 to lead');
      await b.start();
      const lost = new Promise<string>((resolve) => a.once('lostLeadership', ({ reason }) => resolve(reason)));
      const change = new Promise<boolean>((resolve) => a.once('healthChange', ({ healthy }) => resolve(healthy)));
      checkOk = false;
      assert.equal(await change, false);
      assert.equal(await lost, 'unhealthy');
      await waitFor(() => b.isLeader, LIVENESS_MS, 'node 2 to take over');
      b.setHealthy(false, 'draining');
      await waitFor(() => !b.isLeader, LIVENESS_MS, 'node 2 to resign');
      // Nobody healthy: nobody leads, and the unhealthy ones do not campaign.
      await waitFor(() => a.leaderId === null && b.leaderId === null, LIVENESS_MS, 'no leader');
      assert.equal(a.isLeader || b.isLeader, false);
      checkOk = true;
      await waitFor(() => a.isLeader, LIVENESS_MS, 'node 1 to lead again once healthy');
      assert.deepEqual(violations(), []);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a leader cut off from etcd (TCP blackhole) stops believing before another node gains', async (t) => {
    const name = uniqueName();
    // Node 1 reaches every etcd member through a fault-injecting proxy (members are IDs 101..103 there).
    const memberIds = etcd.members.map((_, i) => 101 + i);
    const proxy = new ChaosProxy([1, ...memberIds], (id) => etcd.members[id - 101]?.clientPort);
    await proxy.start();
    const cutOff = new EtcdElection({
      id: 1,
      endpoints: memberIds.map((m) => `http://127.0.0.1:${proxy.portFor(1, m)}`),
      name,
      leaseMs: LEASE_MS,
    });
    const other = make(2, name);
    const violations = intervals([cutOff, other]);
    try {
      await cutOff.start();
      await waitFor(() => cutOff.isLeader, LIVENESS_MS, 'node 1 to lead');
      // Cut it off while it leads on keep-alives, not on its lease grant alone.
      const confirmed = cutOff.status().keepAlives;
      await waitFor(() => cutOff.status().keepAlives >= confirmed + 2, LIVENESS_MS, 'two keep-alives');
      await other.start();
      let lostAt: number | undefined;
      cutOff.on('lostLeadership', ({ reason, endedMsAgo }) => {
        assert.equal(reason, 'lease-expired');
        lostAt = monotonicMs() - endedMsAgo;
      });
      const gained = new Promise<{ at: number; cutOffLeads: boolean }>((resolve) =>
        other.once('gainedLeadership', () => resolve({ at: monotonicMs(), cutOffLeads: cutOff.isLeader })),
      );
      const cutAt = monotonicMs();
      for (const m of memberIds) {
        proxy.setFlow(1, m, { mode: 'stall', delayMs: 0 });
        proxy.setFlow(m, 1, { mode: 'stall', delayMs: 0 });
      }
      const { at, cutOffLeads } = await gained;
      t.diagnostic(
        `cut at 0; node 1 stopped believing at +${Math.round((lostAt ?? 0) - cutAt)} ms; node 2 gained at +${Math.round(at - cutAt)} ms`,
      );
      assert.equal(cutOffLeads, false, 'the cut-off leader still believed it led when another gained');
      assert.ok(lostAt !== undefined && lostAt <= at, `node 1 lost at ${lostAt}, node 2 gained at ${at}`);
      assert.ok(at - cutAt < LEASE_MS * 4, `took over ${Math.round(at - cutAt)} ms after the cut`);
      assert.deepEqual(violations(), []);
    } finally {
      proxy.healAll();
      await Promise.all([cutOff.stop(), other.stop()]);
      await proxy.stop();
    }
  });

  it('the election goes on with one etcd member killed (the raft leader)', async () => {
    const name = uniqueName();
    const group = [1, 2, 3].map((id) => make(id, name));
    const violations = intervals(group);
    try {
      await Promise.all(group.map((e) => e.start()));
      await waitFor(() => group.some((e) => e.isLeader), LIVENESS_MS, 'a leader');
      const victim = await etcd.leaderIndex();
      await etcd.kill(victim === -1 ? 0 : victim);
      const first = group.find((e) => e.isLeader)!;
      // The leader keeps its lease through etcd's own leader election, or a successor takes over; then a graceful
      // handoff still works on the two remaining members.
      await waitFor(() => group.some((e) => e.isLeader), LIVENESS_MS, 'a leader after the member died');
      const leader = group.find((e) => e.isLeader)!;
      await leader.stop();
      await waitFor(() => group.some((e) => e !== leader && e.isLeader), LIVENESS_MS, 'a successor');
      assert.ok(group.find((e) => e.isLeader)!.term > first.term);
      assert.deepEqual(violations(), []);
    } finally {
      await Promise.all(group.map((e) => e.stop()));
    }
  });
});
