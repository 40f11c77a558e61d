import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindFloatingIps } from '../src/assigners/bind-floating-ips.ts';
import { DigitalOceanAssigner } from '../src/digitalocean.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';
import { ScriptedLeadership } from './support/scripted-leadership.ts';

/** A DigitalOcean cluster with a reserved IPv4 and a reserved IPv6, bound together with bindFloatingIps. */

const V4 = '203.0.113.10';
const V6 = '2001:db8:f7:1017::4c6e';
const TOKEN = 'dop_v1_pair0123456789abcdef0123456789abcdef0123456789abcdef01234567';

describe('DigitalOcean reserved IPv4 + IPv6 with bindFloatingIps', { timeout: 15_000 }, () => {
  it('starts both moves at once; the droplet takes one action at a time, so the second waits out its 422', async (t) => {
    const fake = await startValidatedFake({
      token: TOKEN,
      reservedIps: [
        { ip: V4, region: 'nyc3', dropletId: 102 },
        { ip: V6, region: 'nyc3', dropletId: 102 },
      ],
      // Long enough that the second post surely lands while the first action runs, even on a loaded machine.
      actionDurationMs: 1000,
    });
    t.after(async () => {
      await fake.close();
      assertNoViolations(fake);
    });
    const make = (ip: string) =>
      new DigitalOceanAssigner({
        token: TOKEN,
        ip,
        dropletId: 101,
        baseUrl: fake.url,
        pollIntervalMs: 20,
        maxPollIntervalMs: 40,
        retry: { baseDelayMs: 5, maxDelayMs: 10 },
      });
    const node = new ScriptedLeadership();
    const binding = bindFloatingIps(node, [make(V4), make(V6)], { reconcileIntervalMs: 0 });
    const assigned: string[] = [];
    binding.events.on('assigned', ({ address }) => assigned.push(address));
    const all = new Promise<void>((resolve) => binding.events.once('allAssigned', () => resolve()));
    node.win();
    await all;
    assert.equal(fake.holder(V4), 101);
    assert.equal(fake.holder(V6), 101);
    assert.deepEqual([...assigned].sort(), [V4, V6].sort());
    // The second post came while the first action ran: DigitalOcean (and the fake) refuse a second action on the
    // same droplet with 422 "Droplet already has a pending event"; the assigner waits and posts again.
    const posts = fake.requests.filter((r) => r.method === 'POST');
    const outcomes = posts.map((r) => `${r.path.startsWith('/v2/reserved_ipv6/') ? 'v6' : 'v4'} ${r.outcome}`);
    assert.equal(posts[1]!.outcome, 422, outcomes.join(', '));
    assert.equal(posts.at(-1)!.outcome, 201);
    assert.equal(posts.filter((r) => r.outcome === 201).length, 2, outcomes.join(', '));
    assert.ok(
      fake.requests.some((r) => /^\/v2\/actions\/\d+$/.test(r.path)),
      'the IPv6 action is polled through /v2/actions',
    );
    await binding.unbind();
  });
});
