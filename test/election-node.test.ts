import assert from 'node:assert/strict';
import { type EventEmitter as NodeEventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AbortError, ConfigError, ElectionNode, type ElectionNodeOptions, StateError } from '../src/index.ts';
import { TcpTransport } from '../src/transport/tcp-transport.ts';
import { monotonicMs } from '../src/util/monotonic.ts';
import { addressOf, nextEvent, startCluster } from './support/tcp-cluster.ts';
import { waitFor } from './support/wait.ts';

// Short timing keeps the suite fast; the protocol is the same at any scale.
const TIMING = { heartbeatIntervalMs: 20, leaseMs: 200 } as const;
// Every test of a real node runs in both thread modes: the engine on a worker (default) and on the main thread.
const THREADS = ['worker', 'main'] as const;
const LIVENESS_MS = 5_000;

for (const thread of THREADS) {
  const FAST = { ...TIMING, thread } as const;

  describe(`ElectionNode over TCP (thread: ${thread})`, () => {
    it('elects node 1 of 3, every node agrees, node 3 never leads; a stopped leader hands over at once', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        assert.equal(await cluster.leaderGained(undefined, LIVENESS_MS), 1);
        await Promise.all(
          [2, 3].map(async (id) => {
            const node = cluster.node(id);
            if (node.leaderId !== 1) await nextEvent(node, 'leaderChange', LIVENESS_MS);
            assert.equal(node.leaderId, 1);
          }),
        );
        const lost = nextEvent<[{ term: number; reason: string }]>(cluster.node(1), 'lostLeadership', LIVENESS_MS);
        await cluster.node(1).stop();
        assert.equal((await lost)[0].reason, 'stopped');
        assert.equal(await cluster.leaderGained(2, LIVENESS_MS), 2);
        assert.ok(cluster.node(2).term > 1);
        assert.deepEqual(
          cluster.gains.filter((g) => g.overlapping.length > 0),
          [],
        );
        assert.equal(
          cluster.gains.some((g) => g.id === 3),
          false,
        );
      } finally {
        await cluster.stopAll();
      }
    });

    it('a restarted lower ID takes leadership back (preemption) without overlap, with a higher term', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        await cluster.node(1).stop();
        await cluster.leaderGained(2, LIVENESS_MS);
        const termOf2 = cluster.node(2).term;
        const preempted = nextEvent<[{ reason: string }]>(cluster.node(2), 'lostLeadership', LIVENESS_MS);
        await cluster.restart(1);
        await cluster.leaderGained(1, LIVENESS_MS);
        // Normally 'preempted'; on a starved machine node 2's own lease may run out first, which is as safe.
        assert.ok(['preempted', 'lease-expired'].includes((await preempted)[0].reason));
        assert.ok(cluster.node(1).term > termOf2);
        assert.deepEqual(
          cluster.gains.filter((g) => g.overlapping.length > 0),
          [],
        );
        const terms = cluster.gains.map((g) => g.term);
        assert.deepEqual(
          terms,
          [...terms].sort((a, b) => a - b),
        );
      } finally {
        await cluster.stopAll();
      }
    });

    it('a 5-node cluster keeps electing while a majority is up, and stops when it is not', async () => {
      const cluster = await startCluster([1, 2, 3, 4, 5], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        await cluster.node(1).stop();
        await cluster.leaderGained(2, LIVENESS_MS);
        await cluster.node(2).stop();
        await cluster.leaderGained(3, LIVENESS_MS);
        const lost = nextEvent(cluster.node(3), 'lostLeadership', LIVENESS_MS);
        await cluster.node(4).stop();
        // Two of five left: node 3's lease must run out and nobody may lead.
        await lost;
        assert.equal(cluster.node(3).isLeader, false);
        assert.equal(cluster.node(5).isLeader, false);
        assert.equal(cluster.node(3).status().canLead, false);
      } finally {
        await cluster.stopAll();
      }
    });

    it('status() is a JSON-serialisable snapshot', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        const status = cluster.node(1).status();
        assert.deepEqual(JSON.parse(JSON.stringify(status)), status);
        assert.equal(status.state, 'running');
        assert.equal(status.role, 'leader');
        assert.equal(status.clusterSize, 3);
        assert.ok(status.transport && status.transport.framesOut > 0);
      } finally {
        await cluster.stopAll();
      }
    });

    it('garbage, truncated and oversized frames close that connection, are counted, and do not disturb the leader', async () => {
      const cluster = await startCluster([1, 2, 3], FAST);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        const node = cluster.node(1);
        const before = node.status().transport!.badFrames;
        const [host, port] = [node.address!.host, node.address!.port];
        const payloads = [
          Buffer.from('GET / HTTP/1.1\r\n\r\n'),
          Buffer.from([0, 0, 0, 9, 1, 1, 2]), // truncated: length says 9, connection ends early
          Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 1]), // 2 GiB frame announced
        ];
        for (const bytes of payloads) {
          await new Promise<void>((resolve) => {
            const socket = connect(port, host, () => socket.end(bytes));
            // Read (and discard) the refusal, or the socket never sees the server's FIN.
            socket.resume();
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
          });
        }
        await waitFor(() => node.status().transport!.badFrames >= before + payloads.length, LIVENESS_MS);
        assert.equal(node.isLeader, true);
      } finally {
        await cluster.stopAll();
      }
    });

    it('an authenticated peer sending an invalid protocol message is counted, not obeyed', async () => {
      const cluster = await startCluster([1, 2], { ...FAST, clusterSize: 3 } as Partial<ElectionNodeOptions>);
      try {
        const node = cluster.node(1);
        const rogue = new TcpTransport({
          nodeId: 3,
          listen: { host: '127.0.0.1', port: 0 },
          cluster: 'leader-ip',
          clusterSize: 3,
        });
        await rogue.start();
        rogue.addPeer(node.address!);
        await nextEvent(rogue, 'peerUp', LIVENESS_MS);
        rogue.send(1, Uint8Array.of(200, 1, 2, 3));
        await waitFor(() => node.status().badMessages === 1, LIVENESS_MS);
        await rogue.stop();
      } finally {
        await cluster.stopAll();
      }
    });

    it('with a secret, a node with a wrong secret is refused and cannot disturb the election', async () => {
      const secret = `${'a'.repeat(16)}correct horse battery staple`;
      const cluster = await startCluster([1, 2], { ...FAST, clusterSize: 3, secret } as Partial<ElectionNodeOptions>);
      try {
        await cluster.leaderGained(1, LIVENESS_MS);
        const intruder = new ElectionNode({
          id: 3,
          listen: '127.0.0.1:0',
          peers: [addressOf(cluster.node(1))],
          clusterSize: 3,
          secret: `${'b'.repeat(16)}correct horse battery staple`,
          ...FAST,
        });
        const refused = nextEvent<[{ reason: string; message: string }]>(intruder, 'warning', LIVENESS_MS);
        await intruder.start();
        const [error] = await refused;
        assert.equal(error.reason, 'auth-failed');
        assert.doesNotMatch(error.message, /correct horse/);
        await waitFor(() => (cluster.node(1).status().transport!.rejected['auth-failed'] ?? 0) > 0, LIVENESS_MS);
        assert.equal(cluster.node(1).isLeader, true);
        await intruder.stop();
      } finally {
        await cluster.stopAll();
      }
    });

    it("an intruder's refused handshake is a 'warning', so events.once(node, 'gainedLeadership') still resolves", async () => {
      const secret = `${'a'.repeat(16)}correct horse battery staple`;
      // A long lease: the restarted-node rule keeps node 1 from leading for one lease, ample time for the intruder.
      const node = new ElectionNode({
        id: 1,
        listen: '127.0.0.1:0',
        secret,
        thread,
        heartbeatIntervalMs: 50,
        leaseMs: 2000,
      });
      const order: string[] = [];
      node.on('warning', (warning) => order.push(`warning:${(warning as { reason?: string }).reason}`));
      node.on('gainedLeadership', () => order.push('gained'));
      // Node's own helper: it rejects on any 'error' event, so an informational problem must not be one.
      // eventemitter3 is not typed as a Node EventEmitter, though it works as one at run time.
      const emitter = node as unknown as NodeEventEmitter;
      const gained = once(emitter, 'gainedLeadership');
      const warned = once(emitter, 'warning');
      // Unhealthy until the intruder has been refused: the warning then surely comes before the gain, however long
      // the intruder takes to boot on a loaded machine.
      node.setHealthy(false, 'until the intruder is refused');
      await node.start();
      const intruder = new ElectionNode({
        id: 2,
        listen: '127.0.0.1:0',
        peers: [addressOf(node)],
        clusterSize: 2,
        secret: `${'b'.repeat(16)}correct horse battery staple`,
        thread,
        heartbeatIntervalMs: 50,
        leaseMs: 2000,
      });
      try {
        await intruder.start();
        const [warning] = await warned;
        assert.equal((warning as { reason?: string }).reason, 'auth-failed');
        node.setHealthy(true);
        const [info] = (await gained) as [{ term: number }];
        assert.ok(info.term >= 1);
        assert.equal(order.indexOf('warning:auth-failed'), 0, `the intruder came first: ${order.join(', ')}`);
        assert.ok(order.includes('gained'));
      } finally {
        await intruder.stop();
        await node.stop();
      }
    });

    it('with stateDir, terms keep growing across a restart of the whole cluster', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'leader-ip-state-'));
      after(() => rmSync(dir, { recursive: true, force: true }));
      const first = await startCluster([1, 2, 3], { ...FAST, stateDir: dir });
      await first.leaderGained(1, LIVENESS_MS);
      await first.node(1).stop();
      await first.leaderGained(2, LIVENESS_MS);
      const termBefore = first.node(2).term;
      await first.stopAll();
      const second = await startCluster([1, 2, 3], { ...FAST, stateDir: dir });
      try {
        await second.leaderGained(1, LIVENESS_MS);
        assert.ok(second.node(1).term > termBefore, `term ${second.node(1).term} after ${termBefore}`);
      } finally {
        await second.stopAll();
      }
    });

    it('gainedLeadership says how long before its delivery the leadership began (beganMsAgo)', async () => {
      const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', peers: [], ...FAST });
      const gained = nextEvent<[{ term: number; beganMsAgo: number }]>(node, 'gainedLeadership', LIVENESS_MS);
      try {
        await node.start();
        const startedAt = monotonicMs();
        // Hold this thread for 15 leases: a worker leads meanwhile (one lease after its start), and its gain can
        // only be delivered here afterwards. On the main thread nothing happens until the hold ends.
        const heldUntil = startedAt + 15 * FAST.leaseMs;
        while (monotonicMs() < heldUntil) {}
        const [info] = await gained;
        const began = monotonicMs() - info.beganMsAgo;
        assert.ok(began >= startedAt - 1, `began ${began - startedAt} ms after start()`);
        if (thread === 'worker') {
          assert.ok(began <= heldUntil, `began ${began - heldUntil} ms after the hold: beganMsAgo ${info.beganMsAgo}`);
        } else {
          assert.ok(began >= heldUntil - 1, 'the main thread cannot have led while it was held');
        }
      } finally {
        await node.stop();
      }
    });

    it('refuses a corrupt state file instead of silently starting over', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'leader-ip-state-'));
      after(() => rmSync(dir, { recursive: true, force: true }));
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'leader-ip-node-1.json'), '{not json');
      const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', stateDir: dir });
      await assert.rejects(node.start(), StateError);
    });
  });

  describe(`ElectionNode lifecycle defects, regressions (thread: ${thread})`, () => {
    it('defect 1: stop() during start() leaves the node stopped, not listening, not leading', async () => {
      const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', ...FAST });
      const started = node.start();
      await node.stop();
      await assert.rejects(started, (error: unknown) => error instanceof AbortError);
      assert.equal(node.status().state, 'stopped');
      assert.equal(node.isLeader, false);
      const address = node.address;
      if (address !== null) {
        // Nothing listens there any more.
        await assert.rejects(
          new Promise<void>((resolve, reject) => {
            const socket = connect(address.port, address.host, () => {
              socket.destroy();
              resolve();
            });
            socket.on('error', reject);
          }),
        );
      }
      assert.throws(() => node.addPeer('127.0.0.1:1'), StateError);
    });

    it('defect 1: concurrent stop() calls all resolve only once the node is stopped', async () => {
      const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', ...FAST });
      await node.start();
      await Promise.all(
        [node.stop(), node.stop()].map((p) => p.then(() => assert.equal(node.status().state, 'stopped'))),
      );
    });

    it('defect 2: with a state file that cannot be written, no unpersisted vote is counted: never leader, events paired', async () => {
      const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', stateDir: '/proc', ...FAST });
      const events: string[] = [];
      let leaderWithoutGained = false;
      node.on('gainedLeadership', () => events.push('gained'));
      node.on('lostLeadership', () => events.push('lost'));
      const error = nextEvent<[StateError]>(node, 'error', LIVENESS_MS);
      const probe = setInterval(() => {
        if (node.isLeader && events.at(-1) !== 'gained') leaderWithoutGained = true;
      }, 2);
      try {
        await node.start();
        assert.ok((await error)[0] instanceof StateError);
        // Several more rounds (leases) in which the node would have led with its unwritten vote.
        const until = performance.now() + 4 * FAST.leaseMs;
        await waitFor(() => performance.now() > until || node.isLeader, LIVENESS_MS, 'four leases');
        assert.equal(node.isLeader, false);
        assert.equal(leaderWithoutGained, false);
        assert.deepEqual(events, []);
      } finally {
        clearInterval(probe);
        await node.stop();
      }
    });
  });
}

describe('ElectionNode options', () => {
  const base: ElectionNodeOptions = { id: 1, listen: '127.0.0.1:7400', peers: ['127.0.0.1:7401', '127.0.0.1:7402'] };
  const cases: [string, Partial<ElectionNodeOptions> | Record<string, unknown>, string][] = [
    ['id zero', { id: 0 }, 'id'],
    ['fractional id', { id: 1.5 }, 'id'],
    ['bad listen', { listen: 'nowhere' }, 'listen'],
    ['unbracketed IPv6', { listen: '::1:7400' }, 'listen'],
    ['duplicate peer', { peers: ['127.0.0.1:7401', '127.0.0.1:7401'] }, 'peers[1]'],
    ['own address in peers', { peers: ['127.0.0.1:7400'] }, 'peers[0]'],
    ['peer without port', { peers: ['127.0.0.1'] }, 'peers[0]'],
    ['clusterSize below peers + 1', { clusterSize: 2 }, 'clusterSize'],
    ['lease within 2 heartbeats', { heartbeatIntervalMs: 100, leaseMs: 200 }, 'leaseMs'],
    ['peer timeout above the lease', { peerTimeoutMs: 5000 }, 'peerTimeoutMs'],
    ['drift too large', { maxDriftRate: 0.5 }, 'maxDriftRate'],
    ['short secret', { secret: 'short' }, 'secret'],
    ['encrypt without secret', { encrypt: true }, 'encrypt'],
    ['unknown option', { leaseMS: 1000 }, 'leaseMS'],
    ['unknown transport option', { transport: { handshakeTimeout: 5 } }, 'transport.handshakeTimeout'],
    // Defect 3: transport options are validated by the constructor, with the transport's ranges and full paths.
    ['frame limit below the HELLO', { transport: { maxFrameBytes: 100 } }, 'transport.maxFrameBytes'],
    ['frame limit above 16 MiB', { transport: { maxFrameBytes: 2 ** 30 } }, 'transport.maxFrameBytes'],
    ['reconnectMinMs above the default max', { transport: { reconnectMinMs: 5000 } }, 'transport.reconnectMinMs'],
    [
      'reconnectMaxMs below reconnectMinMs',
      { transport: { reconnectMinMs: 500, reconnectMaxMs: 100 } },
      'transport.reconnectMaxMs',
    ],
    ['idle timeout within two keepalives', { transport: { idleTimeoutMs: 1500 } }, 'transport.idleTimeoutMs'],
    ['zero handshake timeout', { transport: { handshakeTimeoutMs: 0 } }, 'transport.handshakeTimeoutMs'],
    ['bad advertise', { transport: { advertise: 'nowhere' } }, 'transport.advertise'],
    ['transport not an object', { transport: 5 }, 'transport'],
    ['unknown thread', { thread: 'fiber' }, 'thread'],
    ['maxStallMs below two heartbeats', { maxStallMs: 50 }, 'maxStallMs'],
  ];
  for (const [name, patch, field] of cases) {
    it(`rejects ${name} naming '${field}'`, () => {
      assert.throws(
        () => new ElectionNode({ ...base, ...patch } as ElectionNodeOptions),
        (error: unknown) => error instanceof ConfigError && error.field === field && error.code === 'ERR_CONFIG',
      );
    });
  }

  it('accepts every optional option given as undefined, taking its default', () => {
    const node = new ElectionNode({
      ...base,
      clusterSize: undefined,
      cluster: undefined,
      secret: undefined,
      encrypt: undefined,
      insecure: undefined,
      heartbeatIntervalMs: undefined,
      leaseMs: undefined,
      peerTimeoutMs: undefined,
      maxDriftRate: undefined,
      stateDir: undefined,
      thread: undefined,
      maxStallMs: undefined,
      transport: { maxFrameBytes: undefined, advertise: undefined, reconnectMinMs: undefined },
    });
    assert.equal(node.status().clusterSize, 3);
  });

  it('never echoes a rejected secret', () => {
    const secret = 'hunter2-secret-value';
    try {
      new ElectionNode({ ...base, secret });
      assert.fail('accepted a short secret');
    } catch (error) {
      assert.doesNotMatch(String(error), /hunter2/);
      assert.doesNotMatch(JSON.stringify(error), /hunter2/);
    }
  });

  it('refuses a non-loopback listen address without a secret unless insecure', async () => {
    const node = new ElectionNode({ id: 1, listen: '0.0.0.0:0' });
    await assert.rejects(
      node.start(),
      (error: unknown) => (error as { reason?: string }).reason === 'insecure-refused',
    );
  });

  it('addPeer grows an implicit cluster size before start, but never past an explicit one', () => {
    const implicit = new ElectionNode({ id: 1, listen: '127.0.0.1:0' });
    implicit.addPeer('127.0.0.1:7501');
    implicit.addPeer('127.0.0.1:7502');
    assert.equal(implicit.status().clusterSize, 3);
    const explicit = new ElectionNode({ id: 1, listen: '127.0.0.1:0', clusterSize: 2 });
    explicit.addPeer('127.0.0.1:7501');
    assert.throws(() => explicit.addPeer('127.0.0.1:7502'), ConfigError);
    assert.throws(() => explicit.addPeer('127.0.0.1:7501'), ConfigError);
  });
});
