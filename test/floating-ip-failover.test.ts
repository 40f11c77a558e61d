import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { ProcessCluster } from '../src/testing/process-cluster.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';

/**
 * The whole chain with real processes: three `leader-ip run` nodes, each bound to the fake DigitalOcean API
 * (a real HTTP server validating every request against DigitalOcean's OpenAPI description). The reserved IP
 * must follow the leader when it is SIGKILLed, and a deposed leader's late action must be undone.
 */
const IP = '203.0.113.10';
const TOKEN = 'test-token-for-the-fake';
const LIVENESS_MS = 15_000;
/** Booting the processes (and their worker threads) is not the protocol's time: ProcessCluster allows 30 s. */
const BOOT_MS = 30_000;
const dropletOf = (id: number) => 100 + id;

describe('floating IP follows the leader (real processes, fake DigitalOcean)', () => {
  let fake: FakeDigitalOcean;
  let cluster: ProcessCluster;

  before(async () => {
    fake = await startValidatedFake({
      token: TOKEN,
      droplets: [1, 2, 3].map((id) => ({ id: dropletOf(id), region: 'nyc3' })),
      reservedIps: [{ ip: IP, region: 'nyc3' }],
      actionDurationMs: 40,
    });
    cluster = new ProcessCluster({
      ids: [1, 2, 3],
      args: [
        '--heartbeat-ms',
        '20',
        '--lease-ms',
        '200',
        '--floating-ip',
        IP,
        '--api-url',
        fake.url,
        '--poll-ms',
        '20',
        '--reconcile-ms',
        '300',
      ],
      argsFor: (id) => ['--droplet-id', String(dropletOf(id))],
      env: { DIGITALOCEAN_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await cluster.stop();
    await fake.close();
  });

  it('assigns the IP to the first leader, then to the next one after a SIGKILL', async () => {
    const assigned = cluster.waitFor((e) => e.event === 'assigned' && e.id === 1, BOOT_MS + LIVENESS_MS);
    await cluster.start();
    await assigned;
    assert.equal(fake.holder(IP), dropletOf(1));

    const movedTo2 = cluster.waitFor((e) => e.event === 'assigned' && e.id === 2, LIVENESS_MS);
    const killedAt = await cluster.kill(1, 'SIGKILL');
    const event = await movedTo2;
    assert.equal(fake.holder(IP), dropletOf(2));
    const gained = cluster.history.find((e) => e.id === 2 && e.event === 'gainedLeadership' && e.mono > killedAt);
    assert.ok(gained, 'node 2 reported gaining leadership');
    assert.equal(event.term, gained.term, 'the assignment carries the leadership term');
    assertNoViolations(fake);
  });

  it("undoes a deposed leader's late action through reconciliation", async () => {
    // As if node 1's call from before its crash landed now, after node 2's.
    const corrected = cluster.waitFor(
      (e) => e.event === 'reconciled' && e.id === 2 && e.corrected === true,
      LIVENESS_MS,
    );
    const reassigned = cluster.waitFor((e) => e.event === 'assigned' && e.id === 2, LIVENESS_MS);
    fake.startAction(IP, dropletOf(1), { durationMs: 30 });
    await corrected;
    await reassigned;
    assert.equal(fake.holder(IP), dropletOf(2));
    assertNoViolations(fake);
  });

  it('moves the IP back when the restarted lowest ID takes over, and only the leader ever assigns', async () => {
    const back = cluster.waitFor((e) => e.event === 'assigned' && e.id === 1, BOOT_MS + LIVENESS_MS);
    await cluster.spawn(1);
    await back;
    assert.equal(fake.holder(IP), dropletOf(1));
    // Every assign action the fake saw came from the node leading with the term it named.
    const assigners = cluster.history.filter((e) => e.event === 'assigned').map((e) => e.id);
    assert.ok(!assigners.includes(3), 'node 3 never leads, so it never moves the IP');
    assertNoViolations(fake);
  });
});
