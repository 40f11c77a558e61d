import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeEc2 } from '../src/testing/fake-ec2.ts';
import { freePorts } from '../src/testing/process-cluster.ts';
import { assertNoEc2Violations, startValidatedEc2 } from './support/fake-ec2.ts';
import { LineProcess } from './support/line-process.ts';

/** examples/http-server.ts with PROVIDER=aws, configured only through the standard AWS_* variables. */

const running: LineProcess[] = [];
let fake: FakeEc2 | undefined;
after(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await fake?.close();
});

describe('examples/http-server.ts with PROVIDER=aws', () => {
  it('moves the Elastic IP to the leader, and to the next one when the leader stops', async () => {
    const ip = '198.51.100.10';
    fake = await startValidatedEc2({ region: 'eu-west-1' });
    // Three nodes: a majority (two) remains when the leader stops.
    const ports = await freePorts(3);
    const nodes = ports.map((port, i) => {
      const node = LineProcess.tsx('examples/http-server.ts', [], {
        NODE_ID: String(i + 1),
        LISTEN: `127.0.0.1:${port}`,
        PEERS: ports
          .filter((p) => p !== port)
          .map((p) => `127.0.0.1:${p}`)
          .join(','),
        HTTP: '127.0.0.1:0',
        LEASE_MS: '500',
        HEARTBEAT_MS: '50',
        FLOATING_IP: ip,
        PROVIDER: 'aws',
        INSTANCE_ID: `i-0000000000000000${i + 1}`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: FakeEc2.DEFAULT_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FakeEc2.DEFAULT_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: '',
        AWS_ENDPOINT_URL_EC2: fake!.url,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: fake!.url,
      });
      running.push(node);
      return node;
    });
    await nodes[0]!.waitForLine(/\[node 1\] 198\.51\.100\.10 is here \(term \d+/, { timeoutMs: 30_000 });
    assert.equal(fake.holder(ip), 'i-00000000000000001');
    const moved = nodes[1]!.waitForLine(/\[node 2\] 198\.51\.100\.10 is here \(term \d+/, { timeoutMs: 30_000 });
    assert.deepEqual(await nodes[0]!.stop('SIGTERM'), { code: 0, signal: null });
    await moved;
    assert.equal(fake.holder(ip), 'i-00000000000000002');
    assert.ok(fake.apiRequests().every((r) => r.authenticated));
    assertNoEc2Violations(fake);
    for (const node of nodes.slice(1)) assert.deepEqual(await node.stop('SIGTERM'), { code: 0, signal: null });
  });
});
