/**
 * Testing your own server's failover without a cloud: real election nodes on 127.0.0.1, a
 * `MockFloatingIpAssigner` per node sharing one `SimulatedFloatingIp`, and `bindFloatingIp` wiring them
 * together exactly as in production. Copy this file next to your tests and replace `Service` with your code.
 *
 *   node --import tsx --test examples/mock-assigner.test.ts
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
// In your project: from 'leader-ip' and 'leader-ip/testing'.
import { type AssignedInfo, bindFloatingIp, ElectionNode, type FloatingIpBinding } from '../src/index.ts';
import { MockFloatingIpAssigner, SimulatedFloatingIp } from '../src/testing.ts';

// Short timing keeps the tests fast; production keeps the defaults (heartbeat 100 ms, lease 1000 ms).
const TIMING = { heartbeatIntervalMs: 20, leaseMs: 200 };

/** Stands for your application: it runs a leader-only job while its node leads. */
class Service {
  jobRunning = false;
  constructor(readonly node: ElectionNode) {
    node.on('gainedLeadership', () => {
      this.jobRunning = true;
    });
    node.on('lostLeadership', () => {
      this.jobRunning = false;
    });
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts `n` nodes on free loopback ports, each with a mock assigner on the shared IP. */
async function startCluster(n: number, ip: SimulatedFloatingIp) {
  const members: { node: ElectionNode; assigner: MockFloatingIpAssigner; binding: FloatingIpBinding }[] = [];
  for (let id = 1; id <= n; id++) {
    const node = new ElectionNode({ id, listen: '127.0.0.1:0', clusterSize: n, ...TIMING });
    const assigner = new MockFloatingIpAssigner({ id: `web-${id}`, ip, latencyMs: 5 });
    const binding = bindFloatingIp(node, assigner, { retryBaseDelayMs: 10 });
    await node.start();
    members.push({ node, assigner, binding });
    cleanups.push(async () => {
      await binding.unbind();
      await node.stop();
    });
  }
  // Port 0 means the addresses are known only now: introduce every node to every other.
  for (const a of members) {
    for (const b of members) {
      if (a !== b && b.node.address) a.node.addPeer(`127.0.0.1:${b.node.address.port}`);
    }
  }
  return members;
}

describe('failover of my service, with a mock floating IP', () => {
  it('gives the IP and the leader-only job to the leader', async () => {
    const ip = new SimulatedFloatingIp();
    const [first] = await startCluster(1, ip);
    const service = new Service(first!.node);
    await ip.waitForHolder('web-1');
    assert.equal(service.jobRunning, true);
    assert.equal(first!.assigner.callsOf('assign').at(-1)?.term, first!.node.term);
  });

  it('moves the IP to the next node when the leader stops', async () => {
    const ip = new SimulatedFloatingIp();
    const members = await startCluster(3, ip);
    await ip.waitForHolder('web-1'); // the lowest ID leads
    await members[0]!.node.stop(); // graceful: node 2 takes over within a round trip
    await ip.waitForHolder('web-2');
    // Every move carried a higher fencing term than the one before.
    const terms = ip.history.map((change) => change.term ?? 0);
    assert.deepEqual(
      terms,
      [...terms].sort((a, b) => a - b),
    );
  });

  it('retries when the provider fails', async () => {
    const ip = new SimulatedFloatingIp();
    const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', ...TIMING });
    const assigner = new MockFloatingIpAssigner({ id: 'web-1', ip });
    assigner.failNext(2); // two retryable failures, then success
    const binding = bindFloatingIp(node, assigner, { retryBaseDelayMs: 10 });
    cleanups.push(async () => {
      await binding.unbind();
      await node.stop();
    });
    const assigned = new Promise<AssignedInfo>((resolve) => binding.events.once('assigned', resolve));
    await node.start();
    assert.equal((await assigned).attempts, 3);
    assert.equal(ip.holder, 'web-1');
  });
});
