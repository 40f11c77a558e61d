import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { FakeDigitalOcean, FakeDigitalOceanOptions } from '../src/testing.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';

const TOKEN = 'fake-do-token';
const IP = '203.0.113.10';

async function setup(t: TestContext, options: FakeDigitalOceanOptions = {}): Promise<FakeDigitalOcean> {
  const fake = await startValidatedFake(options);
  t.after(() => fake.close());
  return fake;
}

async function call(
  fake: FakeDigitalOcean,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(fake.url + path, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

describe('FakeDigitalOcean', { timeout: 10_000 }, () => {
  it('runs an assign action: in-progress and locked, then completed and moved', async (t) => {
    const fake = await setup(t, { actionDurationMs: 60_000 });
    const posted = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 101 });
    assert.equal(posted.status, 201);
    const action = posted.body.action as { id: number; status: string; type: string };
    assert.equal(action.status, 'in-progress');
    assert.equal(action.type, 'assign_ip');
    const during = await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.equal((during.body.reserved_ip as { locked: boolean }).locked, true);
    const second = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 102 });
    assert.equal(second.status, 422);
    assert.equal(second.body.message, 'The floating IP already has a pending event.');
    fake.finishPendingActions();
    await fake.actions[0]!.settled;
    const done = await call(fake, 'GET', `/v2/reserved_ips/${IP}/actions/${action.id}`);
    assert.equal((done.body.action as { status: string }).status, 'completed');
    const global = await call(fake, 'GET', `/v2/actions/${action.id}`);
    assert.equal((global.body.action as { status: string }).status, 'completed');
    const after = (await call(fake, 'GET', `/v2/reserved_ips/${IP}`)).body.reserved_ip as {
      locked: boolean;
      droplet: { id: number; region: { slug: string } };
    };
    assert.equal(after.locked, false);
    assert.equal(after.droplet.id, 101);
    assert.equal(after.droplet.region.slug, 'nyc3');
    assertNoViolations(fake);
  });

  it('answers 422 for a droplet in another region, a busy droplet, an unknown droplet', async (t) => {
    const fake = await setup(t, {
      reservedIps: [
        { ip: IP, region: 'nyc3' },
        { ip: '203.0.113.11', region: 'nyc3' },
      ],
    });
    const region = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 201 });
    assert.equal(region.status, 422);
    assert.match(String(region.body.message), /region/);
    fake.startAction('203.0.113.11', 101, { durationMs: 1000 });
    const busy = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 101 });
    assert.equal(busy.body.message, 'Droplet already has a pending event.');
    const unknown = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 999 });
    assert.equal(unknown.status, 422);
    assertNoViolations(fake);
  });

  it('unassigns, errors an action on demand, moves the IP directly', async (t) => {
    const fake = await setup(t, {
      actionDurationMs: 60_000,
      reservedIps: [{ ip: IP, region: 'nyc3', dropletId: 101 }],
    });
    fake.failNextAction(IP);
    await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'unassign' });
    fake.finishPendingActions();
    await fake.actions[0]!.settled;
    assert.equal(fake.actions[0]!.status, 'errored');
    assert.equal(fake.holder(IP), 101);
    await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'unassign' });
    assert.equal(fake.isLocked(IP), true);
    fake.finishPendingActions();
    await fake.actions[1]!.settled;
    assert.equal(fake.holder(IP), null);
    fake.moveIp(IP, 103);
    const read = await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.equal((read.body.reserved_ip as { droplet: { id: number } }).droplet.id, 103);
    assertNoViolations(fake);
  });

  it('serves the legacy floating_ips paths', async (t) => {
    const fake = await setup(t);
    const read = await call(fake, 'GET', `/v2/floating_ips/${IP}`);
    assert.equal(read.status, 200);
    assert.equal((read.body.floating_ip as { ip: string }).ip, IP);
    const posted = await call(fake, 'POST', `/v2/floating_ips/${IP}/actions`, { type: 'assign', droplet_id: 101 });
    assert.equal((posted.body.action as { resource_type: string }).resource_type, 'floating_ip');
    assertNoViolations(fake);
  });

  it('answers 401 on a bad token, 404 for unknown IPs and for actions of actionsNotFound IPs', async (t) => {
    const fake = await setup(t, { reservedIps: [{ ip: IP, region: 'nyc3', actionsNotFound: true }] });
    const bad = await call(fake, 'GET', `/v2/reserved_ips/${IP}`, undefined, { authorization: 'Bearer nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.id, 'unauthorized');
    assert.equal(bad.headers.get('x-request-id'), bad.body.request_id);
    assert.equal((await call(fake, 'GET', '/v2/reserved_ips/198.51.100.9')).status, 404);
    const posted = await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: 101 });
    const id = (posted.body.action as { id: number }).id;
    assert.equal((await call(fake, 'GET', `/v2/reserved_ips/${IP}/actions/${id}`)).status, 404);
    assert.equal(fake.requests[0]!.authorized, false);
    assert.ok(!JSON.stringify(fake.requests).includes(TOKEN), 'the request log keeps no token');
    assertNoViolations(fake);
  });

  it('rate limits past its budget, with ratelimit-* and retry-after headers', async (t) => {
    const fake = await setup(t, { rateLimit: { limit: 2, windowMs: 60_000 } });
    const first = await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.equal(first.headers.get('ratelimit-limit'), '2');
    assert.equal(first.headers.get('ratelimit-remaining'), '1');
    assert.ok(Number(first.headers.get('ratelimit-reset')) >= Math.floor(Date.now() / 1000) + 59);
    await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    const limited = await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(limited.headers.get('retry-after')) >= 59);
    assertNoViolations(fake);
  });

  it('injects status faults and dropped connections for matching requests', async (t) => {
    const fake = await setup(t);
    fake.inject({ match: { method: 'GET', path: /reserved_ips/ }, kind: 'status', status: 503, times: 2 });
    fake.inject({ match: { method: 'GET' }, kind: 'drop' });
    assert.equal((await call(fake, 'GET', `/v2/reserved_ips/${IP}`)).status, 503);
    assert.equal((await call(fake, 'GET', `/v2/reserved_ips/${IP}`)).status, 503);
    await assert.rejects(call(fake, 'GET', `/v2/reserved_ips/${IP}`), TypeError);
    assert.equal((await call(fake, 'GET', `/v2/reserved_ips/${IP}`)).status, 200);
    assert.deepEqual(
      fake.requests.map((r) => r.outcome),
      [503, 503, 'dropped', 200],
    );
    assertNoViolations(fake);
  });

  it('listens on the address given as host (another loopback address here)', async (t) => {
    const fake = await setup(t, { host: '127.0.0.2' });
    assert.match(fake.url, /^http:\/\/127\.0\.0\.2:\d+$/);
    const got = await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.equal(got.status, 200);
    assertNoViolations(fake);
  });

  it('serves the metadata service without a token', async (t) => {
    const fake = await setup(t, { metadataDropletId: 201 });
    const id = await fetch(`${fake.url}/metadata/v1/id`);
    assert.equal(await id.text(), '201');
    assert.equal(await (await fetch(`${fake.url}/metadata/v1/region`)).text(), 'ams3');
    fake.metadataDropletId = null;
    assert.equal((await fetch(`${fake.url}/metadata/v1/id`)).status, 404);
    assert.equal(fake.apiRequests().length, 0);
  });

  it('serves reserved IPv6: the IPv6 object, actions under /v2/actions, each family only on its own paths', async (t) => {
    const v6 = '2001:db8::7';
    const fake = await setup(t, {
      reservedIps: [
        { ip: IP, region: 'nyc3' },
        { ip: '2001:DB8:0::7', region: 'nyc3', dropletId: 102 },
      ],
      actionDurationMs: 60_000,
    });
    const read = await call(fake, 'GET', `/v2/reserved_ipv6/${v6}`);
    assert.equal(read.status, 200);
    const ip = read.body.reserved_ipv6 as { ip: string; region_slug: string; droplet: { id: number } };
    assert.equal(ip.ip, v6);
    assert.equal(ip.region_slug, 'nyc3');
    assert.equal(ip.droplet.id, 102);
    assert.equal(fake.holder('2001:db8:0:0::7'), 102);
    const posted = await call(fake, 'POST', `/v2/reserved_ipv6/${v6}/actions`, { type: 'assign', droplet_id: 101 });
    assert.equal(posted.status, 201);
    const action = posted.body.action as { id: number; status: string; resource_type: string };
    assert.equal(action.status, 'in-progress');
    assert.equal(action.resource_type, 'reserved_ipv6');
    const busy = await call(fake, 'POST', `/v2/reserved_ipv6/${v6}/actions`, { type: 'assign', droplet_id: 103 });
    assert.equal(busy.status, 422);
    assert.equal(busy.body.message, 'The floating IP already has a pending event.');
    fake.finishPendingActions();
    const done = await call(fake, 'GET', `/v2/actions/${action.id}`);
    assert.equal((done.body.action as { status: string }).status, 'completed');
    assert.equal(fake.holder(v6), 101);
    const elsewhere = await call(fake, 'POST', `/v2/reserved_ipv6/${v6}/actions`, { type: 'assign', droplet_id: 201 });
    assert.equal(elsewhere.status, 422);
    assert.match(String(elsewhere.body.message), /region/);
    // An IPv4 is not served under reserved_ipv6 (the description rejects it), nor an IPv6 under reserved_ips.
    assert.equal((await call(fake, 'GET', `/v2/reserved_ipv6/2001:db8::8`)).status, 404);
    assert.equal((await call(fake, 'GET', `/v2/reserved_ipv6/${IP}`)).status, 400);
    assert.equal((await call(fake, 'GET', `/v2/reserved_ips/${v6}`)).status, 400);
    assert.equal(fake.violations.length, 2, fake.violations.join('\n'));
  });

  it('records requests the API description rejects, and answers them 400', async (t) => {
    const fake = await setup(t);
    const bad: Array<[string, string, unknown, Record<string, string>?]> = [
      ['POST', '/v2/reserved_ips/not-an-ip/actions', { type: 'assign', droplet_id: 101 }],
      ['POST', `/v2/reserved_ips/${IP}/actions`, { type: 'assign', droplet_id: '101' }],
      ['POST', `/v2/reserved_ips/${IP}/actions`, { type: 'teleport' }],
      ['POST', `/v2/floating_ips/${IP}/actions`, { type: 'assign' }],
      ['GET', `/v2/reserved_ips/${IP}/actions/abc`, undefined],
      ['GET', `/v2/reserved_ips/${IP}`, undefined, { authorization: '' }],
      ['GET', `/v2/reserved_ips/${IP}?verbose=1`, undefined],
      ['PUT', `/v2/reserved_ips/${IP}`, undefined],
      ['GET', '/v2/droplets/101', undefined],
      ['POST', '/v2/reserved_ipv6/2001:db8::7/actions', { type: 'assign' }],
      ['POST', '/v2/reserved_ipv6/2001:db8::7/actions', { type: 'assign', droplet_id: 'x' }],
      ['GET', '/v2/reserved_ipv6/2001:db8::7/actions/5', undefined],
    ];
    for (const [method, path, body, headers] of bad) {
      const before = fake.violations.length;
      const answer = await call(fake, method, path, body, headers);
      assert.equal(answer.status, 400, `${method} ${path}`);
      assert.ok(fake.violations.length > before, `${method} ${path} is a violation`);
    }
    // The description does not mark the body required, so an empty POST is the API's to refuse (422), not a violation.
    assert.equal((await call(fake, 'POST', `/v2/reserved_ips/${IP}/actions`)).status, 422);
    const textBody = await fetch(`${fake.url}/v2/reserved_ips/${IP}/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      body: 'assign',
    });
    assert.equal(textBody.status, 400);
  });

  it('checks its own responses against the API description', async (t) => {
    const fake = await setup(t);
    fake.inject({ kind: 'status', status: 500, body: { message: 42 } });
    await call(fake, 'GET', `/v2/reserved_ips/${IP}`);
    assert.ok(fake.violations.some((v) => v.startsWith('response to GET')));
  });
});
