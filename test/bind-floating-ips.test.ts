import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bindFloatingIps,
  type FloatingIpsBinding,
  type FloatingIpsBindingEvents,
} from '../src/assigners/bind-floating-ips.ts';
import { AssignerError, ConfigError } from '../src/errors.ts';
import { HetznerAssigner } from '../src/hetzner.ts';
import { MockFloatingIpAssigner, SimulatedFloatingIp } from '../src/testing.ts';
import { assertNoViolations, startValidatedHetzner } from './support/fake-providers.ts';
import { ScriptedLeadership } from './support/scripted-leadership.ts';
import { waitFor } from './support/wait.ts';

function next<K extends keyof FloatingIpsBindingEvents>(
  binding: FloatingIpsBinding,
  name: K,
  match: (...args: Parameters<FloatingIpsBindingEvents[K]>) => boolean = () => true,
): Promise<Parameters<FloatingIpsBindingEvents[K]>> {
  return new Promise((resolve) => {
    const listener = (...args: Parameters<FloatingIpsBindingEvents[K]>): void => {
      if (!match(...args)) return;
      binding.events.off(name, listener as never);
      resolve(args);
    };
    binding.events.on(name, listener as never);
  });
}

function pair(): { v4: MockFloatingIpAssigner; v6: MockFloatingIpAssigner } {
  return {
    v4: new MockFloatingIpAssigner({ id: 'me', ip: new SimulatedFloatingIp('other') }),
    v6: new MockFloatingIpAssigner({ id: 'me', ip: new SimulatedFloatingIp('other') }),
  };
}

describe('bindFloatingIps', { timeout: 20_000 }, () => {
  it('moves every address concurrently: a slow address does not hold the others back', async () => {
    const node = new ScriptedLeadership();
    const { v4, v6 } = pair();
    // The IPv4 assign cannot finish before the IPv6 one has: only concurrent calls can get both done.
    let releaseV4: () => void = () => {};
    const v4Gate = new Promise<void>((resolve) => {
      releaseV4 = resolve;
    });
    v4.hook = (call) => (call.method === 'assign' ? v4Gate : undefined);
    const binding = bindFloatingIps(node, { '203.0.113.7': v4, '2001:db8::7': v6 }, { reconcileIntervalMs: 0 });
    const v6Assigned = next(binding, 'assigned', (info) => info.address === '2001:db8::7');
    const all = next(binding, 'allAssigned');
    node.win(3);
    const [info] = await v6Assigned;
    assert.equal(info.term, 3);
    assert.equal(v4.ip.holder, 'other', 'the IPv4 assign is still held');
    releaseV4();
    const [done] = await all;
    assert.equal(done.term, 3);
    assert.deepEqual(done.addresses, ['203.0.113.7', '2001:db8::7']);
    assert.equal(v4.ip.holder, 'me');
    assert.equal(v6.ip.holder, 'me');
    await binding.unbind();
  });

  it('one failing address neither delays nor cancels the others; its events name it', async () => {
    const node = new ScriptedLeadership();
    const { v4, v6 } = pair();
    v4.failWith(new AssignerError('ERR_FORBIDDEN', 'forbidden', { retryable: false }));
    const binding = bindFloatingIps(node, { a: v4, b: v6 }, { reconcileIntervalMs: 0 });
    const failed = next(binding, 'assignFailed');
    const errored = next(binding, 'error');
    const assigned = next(binding, 'assigned');
    let allAssigned = false;
    binding.events.on('allAssigned', () => {
      allAssigned = true;
    });
    node.win();
    const [[failure], [error, address], [ok]] = await Promise.all([failed, errored, assigned]);
    assert.equal(failure.address, 'a');
    assert.equal(failure.willRetry, false);
    assert.equal(address, 'a');
    assert.equal(error.code, 'ERR_FORBIDDEN');
    assert.equal(ok.address, 'b');
    assert.equal(v6.ip.holder, 'me');
    assert.equal(allAssigned, false);
    await binding.unbind();
  });

  it('retries one address with backoff while the other stays assigned', async () => {
    const node = new ScriptedLeadership();
    const { v4, v6 } = pair();
    v4.failNext(2);
    const binding = bindFloatingIps(node, [v4, v6], {
      reconcileIntervalMs: 0,
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 10,
    });
    const all = next(binding, 'allAssigned');
    node.win();
    const [done] = await all;
    assert.deepEqual(done.addresses, ['0', '1']);
    assert.equal(v4.callsOf('assign').length, 3);
    assert.equal(v6.callsOf('assign').length, 1);
    await binding.unbind();
  });

  it('reconciles each address on its own', async () => {
    const node = new ScriptedLeadership();
    const { v4, v6 } = pair();
    const binding = bindFloatingIps(node, { v4, v6 }, { reconcileIntervalMs: 20 });
    const all = next(binding, 'allAssigned');
    node.win();
    await all;
    v6.ip.move('intruder');
    const [corrected] = await next(binding, 'reconciled', (info) => info.corrected);
    assert.equal(corrected.address, 'v6');
    assert.equal(corrected.holder, 'intruder');
    await next(binding, 'allAssigned');
    assert.equal(v6.ip.holder, 'me');
    assert.equal(v4.callsOf('assign').length, 1, 'the other address was not touched');
    await binding.unbind();
  });

  it('losing leadership aborts every in-flight call', async () => {
    const node = new ScriptedLeadership();
    const { v4, v6 } = pair();
    v4.latencyMs = 10_000;
    v6.latencyMs = 10_000;
    const binding = bindFloatingIps(node, [v4, v6], { reconcileIntervalMs: 0 });
    node.win();
    await waitFor(() => v4.calls.length === 1 && v6.calls.length === 1, 5000, 'both assigns started');
    node.lose();
    await Promise.all([v4.waitForSettled(), v6.waitForSettled()]);
    assert.deepEqual(
      [...v4.calls, ...v6.calls].map((c) => c.outcome),
      ['aborted', 'aborted'],
    );
    await binding.unbind();
  });

  it('an IPv4 and an IPv6 Hetzner Floating IP against the fake, one of them failing', async (t) => {
    const fake = await startValidatedHetzner({
      token: 'hetzner-multi-token-0123456789',
      floatingIps: [
        { id: 1, ip: '198.51.100.20' },
        { id: 2, ip: '2001:db8:1::/64' },
      ],
    });
    t.after(async () => {
      await fake.close();
      assertNoViolations(fake);
    });
    const make = (ip: string, floatingIpId: number) =>
      new HetznerAssigner({
        token: 'hetzner-multi-token-0123456789',
        ip,
        floatingIpId,
        serverId: 1001,
        baseUrl: fake.url,
        pollIntervalMs: 10,
        retry: { baseDelayMs: 5, maxDelayMs: 10 },
      });
    // The IPv6 Floating IP's first action fails; the IPv4 one must not wait for its retry.
    fake.failNextAction('2001:db8:1::/64');
    const node = new ScriptedLeadership();
    const binding = bindFloatingIps(node, [make('198.51.100.20', 1), make('2001:db8:1::1', 2)], {
      reconcileIntervalMs: 0,
      retryBaseDelayMs: 200,
      retryMaxDelayMs: 200,
    });
    const events: string[] = [];
    binding.events.on('assigned', ({ address }) => events.push(`assigned ${address}`));
    binding.events.on('assignFailed', ({ address }) => events.push(`failed ${address}`));
    const all = next(binding, 'allAssigned');
    node.win();
    await all;
    assert.equal(fake.holder('198.51.100.20'), 1001);
    assert.equal(fake.holder('2001:db8:1::/64'), 1001);
    assert.deepEqual([...events].sort(), ['assigned 198.51.100.20', 'assigned 2001:db8:1::1', 'failed 2001:db8:1::1']);
    // The IPv4 address did not wait for the IPv6 one's retry (200 ms later).
    assert.ok(events.indexOf('assigned 198.51.100.20') < events.indexOf('assigned 2001:db8:1::1'));
    assert.equal(events.filter((e) => e.startsWith('failed')).length, 1);
    await binding.unbind();
  });

  it('validates its arguments', () => {
    const node = new ScriptedLeadership();
    const a = new MockFloatingIpAssigner({ id: 1 });
    assert.throws(
      () => bindFloatingIps(node, []),
      (e: unknown) => e instanceof ConfigError && e.field === 'assigners',
    );
    assert.throws(
      () => bindFloatingIps(node, [a, a]),
      (e: unknown) => e instanceof ConfigError && e.field === 'assigners[1]',
    );
    assert.throws(
      () => bindFloatingIps(node, [a, {} as MockFloatingIpAssigner]),
      (e: unknown) => e instanceof ConfigError && e.field === 'assigners[1]',
    );
    assert.throws(
      () => bindFloatingIps(node, [a], { reconcileIntervalMs: -1 }),
      (e: unknown) => e instanceof ConfigError && e.field === 'reconcileIntervalMs',
    );
  });
});
