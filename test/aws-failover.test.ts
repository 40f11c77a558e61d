import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FakeEc2 } from '../src/testing/fake-ec2.ts';
import { ProcessCluster } from '../src/testing/process-cluster.ts';
import { assertNoEc2Violations, startValidatedEc2 } from './support/fake-ec2.ts';

/**
 * The whole chain on AWS with real processes: three `leader-ip run --provider aws` nodes against the fake EC2
 * (checking every request's Signature V4 and shape). No key is configured: every node signs with the instance
 * role's credentials from the fake IMDSv2. The Elastic IP must follow the leader when it is SIGKILLed, and a
 * deposed leader's late association must be undone by reconciliation.
 */
const IP = '198.51.100.10';
const LIVENESS_MS = 15_000;
/** Booting the processes (and their worker threads) is not the protocol's time: ProcessCluster allows 30 s. */
const BOOT_MS = 30_000;
const instanceOf = (id: number) => `i-0000000000000000${id}`;
const ROLE = {
  name: 'leader-ip-failover',
  credentials: {
    accessKeyId: 'ASIAROLE0000FAILOVER',
    secretAccessKey: 'failoverRoleSecret/00000000000000000000',
    sessionToken: 'failoverRoleSessionToken000000000000000000000000',
  },
};

describe('Elastic IP follows the leader (real processes, fake EC2 and IMDSv2, instance-role credentials)', () => {
  let fake: FakeEc2;
  let cluster: ProcessCluster;

  before(async () => {
    fake = await startValidatedEc2({
      credentials: [ROLE.credentials],
      metadata: { instanceId: instanceOf(1), region: 'us-east-1', role: ROLE },
    });
    cluster = new ProcessCluster({
      ids: [1, 2, 3],
      args: [
        '--heartbeat-ms',
        '20',
        '--lease-ms',
        '200',
        '--provider',
        'aws',
        '--floating-ip',
        IP,
        '--region',
        'us-east-1',
        '--api-url',
        fake.url,
        '--metadata-url',
        fake.url,
        '--reconcile-ms',
        '300',
      ],
      argsFor: (id) => ['--instance-id', instanceOf(id)],
      // Whatever the test runner's environment holds, these nodes must find no key and use the role.
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_REGION: '' },
    });
  });
  after(async () => {
    await cluster.stop();
    await fake.close();
  });

  it('associates the IP with the first leader, then with the next one after a SIGKILL', async () => {
    const assigned = cluster.waitFor((e) => e.event === 'assigned' && e.id === 1, BOOT_MS + LIVENESS_MS);
    await cluster.start();
    await assigned;
    assert.equal(fake.holder(IP), instanceOf(1));
    const movedTo2 = cluster.waitFor((e) => e.event === 'assigned' && e.id === 2, LIVENESS_MS);
    const killedAt = await cluster.kill(1, 'SIGKILL');
    const event = await movedTo2;
    assert.equal(fake.holder(IP), instanceOf(2));
    const gained = cluster.history.find((e) => e.id === 2 && e.event === 'gainedLeadership' && e.mono > killedAt);
    assert.ok(gained, 'node 2 reported gaining leadership');
    assert.equal(event.term, gained.term, 'the association carries the leadership term');
    const api = fake.apiRequests();
    assert.ok(api.length > 0 && api.every((r) => r.authenticated && r.accessKeyId === ROLE.credentials.accessKeyId));
    assertNoEc2Violations(fake);
  });

  it("undoes a deposed leader's late association through reconciliation", async () => {
    const corrected = cluster.waitFor(
      (e) => e.event === 'reconciled' && e.id === 2 && e.corrected === true,
      LIVENESS_MS,
    );
    const reassigned = cluster.waitFor((e) => e.event === 'assigned' && e.id === 2, LIVENESS_MS);
    // As if node 1's AssociateAddress from before its crash landed now, after node 2's.
    fake.moveIp(IP, instanceOf(1));
    await corrected;
    await reassigned;
    assert.equal(fake.holder(IP), instanceOf(2));
    assert.ok(!cluster.history.some((e) => e.event === 'assigned' && e.id === 3), 'node 3 never leads');
    assertNoEc2Violations(fake);
  });
});
