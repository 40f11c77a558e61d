import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import {
  HetznerActionError,
  HetznerApiError,
  HetznerAssigner,
  type HetznerAssignerOptions,
  HetznerDeadlineError,
  HetznerIpNotFoundError,
  HetznerMetadataError,
  hetznerRateLimitWaitMs,
} from '../src/hetzner.ts';
import type { FakeRequestRecord } from '../src/testing/fake-digitalocean.ts';
import type { FakeHetzner, FakeHetznerOptions } from '../src/testing/fake-hetzner.ts';
import { assertNoViolations, startValidatedHetzner } from './support/fake-providers.ts';

const IP = '198.51.100.20';
const TOKEN = 'hcloud-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV';

async function setup(
  t: TestContext,
  fakeOptions: FakeHetznerOptions = {},
): Promise<{ fake: FakeHetzner; make: (o?: Partial<HetznerAssignerOptions>) => HetznerAssigner }> {
  const fake = await startValidatedHetzner({ token: TOKEN, ...fakeOptions });
  t.after(async () => {
    await fake.close();
    assertNoViolations(fake);
  });
  const make = (overrides: Partial<HetznerAssignerOptions> = {}): HetznerAssigner =>
    new HetznerAssigner({
      token: TOKEN,
      ip: IP,
      serverId: 1001,
      baseUrl: fake.url,
      metadataUrl: fake.url,
      pollIntervalMs: 10,
      maxPollIntervalMs: 40,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
      ...overrides,
    });
  return { fake, make };
}

const line = (r: FakeRequestRecord): string => `${r.method} ${r.path} ${r.outcome}`;
const isPoll = (r: FakeRequestRecord): boolean => r.method === 'GET' && /^\/v1\/actions\/\d+$/.test(r.path);
const LIST = '/v1/floating_ips?page=1&per_page=50';

describe('HetznerAssigner', { timeout: 20_000 }, () => {
  it('assigns: lists once for the ID, reads, posts the action, polls it to success, confirms by reading', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP), 1001);
    const log = fake.requests.map(line);
    assert.equal(log[0], `GET ${LIST} 200`);
    assert.equal(log[1], 'GET /v1/floating_ips/4711 200');
    assert.equal(log[2], 'POST /v1/floating_ips/4711/actions/assign 201');
    assert.deepEqual(fake.requests[2]!.body, { server: 1001 });
    const polls = fake.requests.slice(3, -1);
    assert.ok(polls.length >= 1 && polls.every(isPoll), log.join('\n'));
    assert.equal(log.at(-1), 'GET /v1/floating_ips/4711 200');
    assert.ok(fake.requests.every((r) => r.authorized));
    t.diagnostic(`first assign: ${fake.requests.length} requests (1 listing, ${polls.length} polls)`);

    // A failover later: the ID is cached, so 3 requests plus the polls.
    fake.moveIp(IP, 1002);
    const before = fake.requests.length;
    const started = performance.now();
    await assigner.assign({ term: 2 });
    const took = performance.now() - started;
    const later = fake.requests.slice(before);
    assert.ok(!later.some((r) => r.path.startsWith('/v1/floating_ips?')), 'listed again');
    assert.equal(later.length, 3 + later.filter(isPoll).length);
    t.diagnostic(`failover: ${later.length} requests, ${Math.round(took)} ms for a 30 ms action`);
  });

  it('is idempotent: only a read when the IP is already here', async (t) => {
    const { fake, make } = await setup(t, { floatingIps: [{ id: 4711, ip: IP, server: 1001 }] });
    await make({ floatingIpId: 4711 }).assign({ term: 1 });
    assert.deepEqual(fake.requests.map(line), ['GET /v1/floating_ips/4711 200']);
    assert.equal(fake.actions.length, 0);
  });

  it('pages through the listing to find the address, and keeps the ID', async (t) => {
    const floatingIps = Array.from({ length: 60 }, (_, i) => ({ id: 100 + i, ip: `192.0.2.${i + 1}` }));
    floatingIps.push({ id: 4711, ip: IP });
    const { fake, make } = await setup(t, { floatingIps });
    const assigner = make();
    assert.equal(await assigner.holder(), null);
    assert.equal(await assigner.holder(), null);
    assert.deepEqual(fake.requests.map(line), [
      `GET ${LIST} 200`,
      'GET /v1/floating_ips?page=2&per_page=50 200',
      'GET /v1/floating_ips/4711 200',
      'GET /v1/floating_ips/4711 200',
    ]);
  });

  it('finds an IPv6 Floating IP (a /64) by any address in it', async (t) => {
    const { fake, make } = await setup(t, {
      floatingIps: [
        { id: 1, ip: IP },
        { id: 2, ip: '2001:db8:1::/64' },
      ],
    });
    const assigner = make({ ip: '2001:db8:1::10' });
    await assigner.assign();
    assert.equal(fake.holder('2001:db8:1::/64'), 1001);
    assert.equal(fake.holder(IP), null);
  });

  it('fails fast, not retryable, when the project has no such Floating IP', async (t) => {
    const { fake, make } = await setup(t);
    const error = await make({ ip: '203.0.113.99' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof HetznerIpNotFoundError);
    assert.equal(error.code, 'ERR_HETZNER_IP_NOT_FOUND');
    assert.equal(error.retryable, false);
    assert.equal(fake.requests.length, 1);
  });

  it('rejects with HetznerActionError when the action ends in error (after the 201)', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, 1002);
    fake.failNextAction(IP, 'server_not_running');
    const error = await make()
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof HetznerActionError);
    assert.equal(error.code, 'ERR_HETZNER_ACTION_FAILED');
    assert.equal(error.outcome, 'error');
    assert.equal(error.actionErrorCode, 'server_not_running');
    assert.equal(error.actionId, fake.actions[0]!.id);
    assert.equal(error.holder, 1002);
    assert.equal(error.retryable, true);
  });

  it('rejects as not-confirmed when the IP is elsewhere after the action succeeded', async (t) => {
    const { fake, make } = await setup(t);
    const pending = make().assign();
    await fake.waitForRequest((r) => r.method === 'POST');
    await fake.actions[0]!.settled;
    fake.moveIp(IP, 1003);
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof HetznerActionError);
      assert.equal(e.outcome, 'not-confirmed');
      assert.equal(e.holder, 1003);
      return true;
    });
  });

  it('on 423 locked: waits for the running action, re-reads, posts again', async (t) => {
    const { fake, make } = await setup(t);
    fake.startAction(IP, 1002, { durationMs: 60_000 });
    // The foreign action ends once we have been told "locked" and re-read.
    void fake
      .waitForRequest((r) => r.method === 'POST')
      .then((post) => fake.waitForRequest((r) => r.seq > post.seq))
      .then(() => fake.finishPendingActions());
    await make().assign();
    assert.equal(fake.holder(IP), 1001);
    const posts = fake.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => r.outcome),
      [423, 201],
    );
    const between = fake.requests.filter((r) => r.seq > posts[0]!.seq && r.seq < posts[1]!.seq);
    assert.ok(between.length >= 1 && between.every((r) => r.path === '/v1/floating_ips/4711'));
  });

  it('on 409 conflict: re-reads and posts again', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ match: { method: 'POST' }, kind: 'status', status: 409 });
    await make().assign();
    assert.equal(fake.holder(IP), 1001);
    const calls = fake.requests.filter((r) => !isPoll(r)).map(line);
    assert.deepEqual(calls.slice(1, 5), [
      'GET /v1/floating_ips/4711 200',
      'POST /v1/floating_ips/4711/actions/assign 409',
      'GET /v1/floating_ips/4711 200',
      'POST /v1/floating_ips/4711/actions/assign 201',
    ]);
  });

  it('on 422 floating_ip_assigned: re-reads and finds the IP already here, with no action', async (t) => {
    const { fake, make } = await setup(t);
    // Someone assigns it to us between our read and our post.
    void fake.waitForRequest((r) => r.path === '/v1/floating_ips/4711').then(() => fake.moveIp(IP, 1001));
    await make().assign();
    assert.deepEqual(fake.requests.slice(1).map(line), [
      'GET /v1/floating_ips/4711 200',
      'POST /v1/floating_ips/4711/actions/assign 422',
      'GET /v1/floating_ips/4711 200',
    ]);
    assert.equal(fake.actions.length, 0);
  });

  it('retries 5xx and dropped connections; after a failed post it re-reads before posting again', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ match: { method: 'GET', path: '/v1/floating_ips/4711' }, kind: 'status', status: 503, times: 2 });
    fake.inject({ match: { method: 'POST' }, kind: 'status', status: 502 });
    fake.inject({ match: { method: 'POST' }, kind: 'drop' });
    fake.inject({ match: { method: 'GET', path: /^\/v1\/actions\// }, kind: 'drop' });
    await make().assign();
    assert.equal(fake.holder(IP), 1001);
    const calls = fake.requests.filter((r) => !isPoll(r)).map((r) => `${r.method} ${r.outcome}`);
    assert.deepEqual(calls, [
      'GET 200', // listing
      'GET 503',
      'GET 503',
      'GET 200',
      'POST 502',
      'GET 200',
      'POST dropped',
      'GET 200',
      'POST 201',
      'GET 200',
    ]);
    assert.ok(fake.requests.some((r) => isPoll(r) && r.outcome === 'dropped'));
  });

  it('on 429 waits for the next token, not for RateLimit-Reset (when the bucket is full)', async (t) => {
    // 2 tokens, one every 500 ms: the assign's 5 requests meet 429s. Waiting for Reset (the full bucket) would be
    // up to twice as long as waiting for one token.
    const { fake, make } = await setup(t, { rateLimit: { limit: 2, refillMs: 500 } });
    await make().assign();
    assert.equal(fake.holder(IP), 1001);
    const limited = fake.requests.filter((r) => r.outcome === 429);
    assert.ok(limited.length >= 1, 'met the rate limit');
    for (const r of limited) {
      const next = fake.requests.find((n) => n.seq === r.seq + 1)!;
      assert.ok(next.at - r.at >= 100, `waited ${Math.round(next.at - r.at)} ms after a 429`);
    }
    t.diagnostic(`${limited.length} 429s`);
    // With Hetzner's real numbers: 3600 tokens, none left, full in an hour → one token a second.
    const headers = new Headers({
      'ratelimit-limit': '3600',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    });
    const wait = hetznerRateLimitWaitMs(headers)!;
    assert.ok(wait >= 990 && wait <= 1001, `${wait}`);
    assert.equal(hetznerRateLimitWaitMs(new Headers({ 'retry-after': '2' })), 2000);
  });

  it('fails fast on 401 with status, Hetzner code, message and correlation ID', async (t) => {
    const { fake, make } = await setup(t);
    const error = await make({ token: 'wrong-token-123', floatingIpId: 4711 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof HetznerApiError);
    assert.equal(error.code, 'ERR_HETZNER_UNAUTHORIZED');
    assert.equal(error.status, 401);
    assert.equal(error.providerCode, 'unauthorized');
    assert.equal(error.apiMessage, 'unable to authenticate');
    assert.match(error.requestId ?? '', /^[0-9a-f]{16}$/);
    assert.match(error.message, new RegExp(error.requestId!));
    assert.equal(error.retryable, false);
    assert.equal(fake.requests.length, 1);
  });

  it('enforces the assign deadline', async (t) => {
    const { make } = await setup(t, { actionDurationMs: 5000 });
    const started = performance.now();
    const error = await make({ assignTimeoutMs: 200 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof HetznerDeadlineError);
    assert.equal(error.retryable, true);
    assert.ok(performance.now() - started < 2000);
  });

  describe('metadata', () => {
    it('reads the server ID from the metadata service, without the token, once', async (t) => {
      const { fake, make } = await setup(t, { metadataServerId: 1002 });
      const assigner = make({ serverId: undefined });
      assert.equal(await assigner.self(), 1002);
      await assigner.assign();
      assert.equal(fake.holder(IP), 1002);
      const metadata = fake.requests.filter((r) => r.kind === 'metadata');
      assert.deepEqual(
        metadata.map((r) => r.path),
        ['/hetzner/v1/metadata/instance-id'],
      );
      assert.equal(metadata[0]!.hadAuthorization, false);
    });

    it('fails clearly off a Hetzner server (nothing listening, or 404)', async (t) => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await new HetznerAssigner({ token: TOKEN, ip: IP, metadataUrl: `http://127.0.0.1:${port}` })
        .assign()
        .catch((e: unknown) => e);
      assert.ok(error instanceof HetznerMetadataError);
      assert.equal(error.retryable, false);
      assert.match(error.message, /serverId/);
      const { make } = await setup(t, { metadataServerId: null });
      await assert.rejects(make({ serverId: undefined }).self(), HetznerMetadataError);
    });
  });

  it('the fake rejects a request that breaks the API description', async (t) => {
    const fake = await startValidatedHetzner({ token: TOKEN });
    t.after(() => fake.close());
    const post = (body: unknown) =>
      fetch(`${fake.url}/v1/floating_ips/4711/actions/assign`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post({ server: '1001' })).status, 400);
    assert.equal((await post({})).status, 400);
    assert.equal((await fetch(`${fake.url}/v1/floating_ips/4711`)).status, 400, 'no Authorization header');
    assert.equal(
      (await fetch(`${fake.url}/v1/floating_ips/abc`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      400,
    );
    assert.equal(fake.violations.length, 4, fake.violations.join('\n'));
    assert.equal(fake.actions.length, 0);
    assert.equal((await post({ server: 1001 })).status, 201, 'a valid request passes');
  });

  it('validates every option with a ConfigError naming the field', () => {
    const base: HetznerAssignerOptions = { token: TOKEN, ip: IP, serverId: 1 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ token: undefined }, 'token'],
      [{ token: 'has space' }, 'token'],
      [{ ip: undefined }, 'ip'],
      [{ ip: '198.51.100' }, 'ip'],
      [{ ip: '198.51.100.1/32' }, 'ip'],
      [{ ip: '2001:db8::/48' }, 'ip'],
      [{ serverId: 0 }, 'serverId'],
      [{ serverId: '1' }, 'serverId'],
      [{ floatingIpId: -1 }, 'floatingIpId'],
      [{ baseUrl: 'ftp://example.com' }, 'baseUrl'],
      [{ metadataUrl: 'nope' }, 'metadataUrl'],
      [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
      [{ assignTimeoutMs: -1 }, 'assignTimeoutMs'],
      [{ pollIntervalMs: 500, maxPollIntervalMs: 100 }, 'maxPollIntervalMs'],
      [{ metadataTimeoutMs: 0 }, 'metadataTimeoutMs'],
      [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
      [{ retry: { tries: 3 } }, 'retry.tries'],
      [{ fetch: 'fetch' }, 'fetch'],
      [{ serverID: 1 }, 'serverID'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => new HetznerAssigner({ ...base, ...patch } as HetznerAssignerOptions),
        (e: unknown) => e instanceof ConfigError && e.field === field && !e.message.includes(TOKEN),
        `${JSON.stringify(patch)} → ${field}`,
      );
    }
    // Accepted: IPv6 address or its /64, explicit undefined.
    new HetznerAssigner({ ...base, ip: '2001:db8::1', retry: undefined, baseUrl: undefined });
    new HetznerAssigner({ ...base, ip: '2001:db8::/64' });
  });
});
