import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import type { FakeRequestRecord } from '../src/testing/fake-digitalocean.ts';
import { FakeVultr, type FakeVultrOptions } from '../src/testing/fake-vultr.ts';
import {
  VultrApiError,
  VultrAssigner,
  type VultrAssignerOptions,
  VultrAttachError,
  VultrIpNotFoundError,
  VultrMetadataError,
} from '../src/vultr.ts';
import { assertNoViolations, startValidatedVultr } from './support/fake-providers.ts';

const IP = '192.0.2.50';
const TOKEN = 'VULTRKEY0123456789ABCDEFGHIJKLMNOPQRS';
const RIP = FakeVultr.RESERVED_IP_ID;
const [ME, OTHER, THIRD] = FakeVultr.INSTANCES as [string, string, string];

async function setup(
  t: TestContext,
  fakeOptions: FakeVultrOptions = {},
): Promise<{ fake: FakeVultr; make: (o?: Partial<VultrAssignerOptions>) => VultrAssigner }> {
  const fake = await startValidatedVultr({ token: TOKEN, ...fakeOptions });
  t.after(async () => {
    await fake.close();
    assertNoViolations(fake);
  });
  const make = (overrides: Partial<VultrAssignerOptions> = {}): VultrAssigner =>
    new VultrAssigner({
      token: TOKEN,
      ip: IP,
      instanceId: ME,
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
const READ = `GET /v2/reserved-ips/${RIP} 200`;

describe('VultrAssigner', { timeout: 20_000 }, () => {
  it('assigns: lists once for the ID, reads, attaches (204), confirms by reading until it shows', async (t) => {
    const { fake, make } = await setup(t, { attachDurationMs: 60_000 });
    // The attach becomes visible only once a read after the 204 has seen it missing.
    void fake
      .waitForRequest((r) => r.path.endsWith('/attach'))
      .then((post) => fake.waitForRequest((r) => r.seq > post.seq))
      .then(() => fake.finishBackgroundWork());
    await make().assign({ term: 1 });
    assert.equal(fake.holder(IP), ME);
    const log = fake.requests.map(line);
    assert.equal(log[0], 'GET /v2/reserved-ips?per_page=500 200');
    assert.equal(log[1], READ);
    assert.equal(log[2], `POST /v2/reserved-ips/${RIP}/attach 204`);
    assert.deepEqual(fake.requests[2]!.body, { instance_id: ME });
    assert.ok(log.length >= 5, 'read at least twice after the 204: it is not the end');
    assert.equal(fake.requests[3]!.outcome, 200);
    assert.ok(log.slice(3).every((l) => l === READ));
    t.diagnostic(`first assign: ${log.length} requests`);
  });

  it('fails over from another instance: detach, attach races the background detach (400), waits, retries', async (t) => {
    const { fake, make } = await setup(t, { detachDurationMs: 60_000, attachDurationMs: 60_000 });
    fake.moveIp(IP, OTHER);
    // Background work ends only once the assigner has met it: the detach after the first attach (400) and a
    // re-read; the second attach after one confirming read that still shows it missing.
    const finishAfterNextRequestFollowing = async (attach: number): Promise<void> => {
      const post = await fake.waitForRequest(
        (r) => r.path.endsWith('/attach') && fake.requests.filter((q) => q.path.endsWith('/attach')).length === attach,
      );
      await fake.waitForRequest((r) => r.seq > post.seq);
      fake.finishBackgroundWork();
    };
    void finishAfterNextRequestFollowing(1).then(() => finishAfterNextRequestFollowing(2));
    const assigner = make({ reservedIpId: RIP });
    const started = performance.now();
    await assigner.assign({ term: 2 });
    const took = performance.now() - started;
    assert.equal(fake.holder(IP), ME);
    const posts = fake.requests
      .filter((r) => r.method === 'POST')
      .map((r) => `${r.path.split('/').at(-1)} ${r.outcome}`);
    assert.equal(posts[0], 'detach 204');
    assert.ok(posts.includes('attach 400'), posts.join(', '));
    assert.equal(posts.at(-1), 'attach 204');
    t.diagnostic(`failover with one detach race: ${fake.requests.length} requests, ${Math.round(took)} ms`);
  });

  it('is idempotent: one read when the IP is already here', async (t) => {
    const { fake, make } = await setup(t, { reservedIps: [{ id: RIP, ip: IP, instanceId: ME }] });
    await make({ reservedIpId: RIP }).assign();
    assert.deepEqual(fake.requests.map(line), [READ]);
  });

  it('pages through the listing with the cursor, and keeps the ID', async (t) => {
    const reservedIps = Array.from({ length: 500 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      ip: `198.51.${Math.floor(i / 250)}.${i % 250}`,
    }));
    reservedIps.push({ id: RIP, ip: IP });
    const { fake, make } = await setup(t, { reservedIps });
    const assigner = make();
    assert.equal(await assigner.holder(), null);
    assert.equal(await assigner.holder(), null);
    const log = fake.requests.map(line);
    assert.equal(log.length, 4);
    assert.match(log[1]!, /^GET \/v2\/reserved-ips\?per_page=500&cursor=\w+ 200$/);
  });

  it('finds a reserved IPv6 subnet by an address in it', async (t) => {
    const { fake, make } = await setup(t, {
      reservedIps: [
        { id: RIP, ip: IP },
        { id: 'v6-0001', ip: '2001:db8:9999::' },
      ],
    });
    await make({ ip: '2001:db8:9999::1' }).assign();
    assert.equal(fake.holder('2001:db8:9999::'), ME);
    assert.equal(fake.holder(IP), null);
  });

  it('fails fast, not retryable, when the account has no such reserved IP', async (t) => {
    const { make } = await setup(t);
    const error = await make({ ip: '203.0.113.99' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof VultrIpNotFoundError);
    assert.equal(error.retryable, false);
  });

  it('sends the attach again when reads never show it (the 204 was not the end)', async (t) => {
    const { fake, make } = await setup(t);
    fake.loseNextAttach(IP);
    await make({ confirmTimeoutMs: 80 }).assign();
    assert.equal(fake.holder(IP), ME);
    const attaches = fake.requests.filter((r) => r.path.endsWith('/attach'));
    assert.deepEqual(
      attaches.map((r) => r.outcome),
      [204, 204],
    );
  });

  it('gives up after maxAttachAttempts when the detach race never ends', async (t) => {
    const { fake, make } = await setup(t, { detachDurationMs: 60_000 });
    fake.moveIp(IP, OTHER);
    const error = await make({ maxAttachAttempts: 3 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof VultrAttachError, String(error));
    assert.equal(error.code, 'ERR_VULTR_NOT_CONFIRMED');
    assert.equal(error.attempts, 3);
    assert.equal(error.retryable, true);
    assert.equal(fake.requests.filter((r) => r.path.endsWith('/attach')).length, 3);
  });

  it('rejects as not confirmed when another instance gets the IP while it confirms', async (t) => {
    const { fake, make } = await setup(t, { attachDurationMs: 5000 });
    void fake.waitForRequest((r) => r.path.endsWith('/attach')).then(() => fake.moveIp(IP, THIRD));
    const error = await make()
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof VultrAttachError);
    assert.equal(error.holder, THIRD);
  });

  it('honours Retry-After on 429', async (t) => {
    const { fake, make } = await setup(t, { requestsPerSecond: 1 });
    await make().assign();
    assert.equal(fake.holder(IP), ME);
    const limited = fake.requests.filter((r) => r.outcome === 429);
    assert.ok(limited.length >= 1);
    for (const r of limited) {
      const next = fake.requests.find((n) => n.seq === r.seq + 1)!;
      assert.ok(next.at - r.at >= 950, `waited ${Math.round(next.at - r.at)} ms after Retry-After: 1`);
    }
  });

  it('retries 5xx and dropped connections; after a failed attach it re-reads before attaching again', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ match: { method: 'GET', path: `/v2/reserved-ips/${RIP}` }, kind: 'status', status: 500 });
    fake.inject({ match: { method: 'POST' }, kind: 'status', status: 503 });
    fake.inject({ match: { method: 'POST' }, kind: 'drop' });
    await make({ reservedIpId: RIP }).assign();
    assert.equal(fake.holder(IP), ME);
    const calls = fake.requests.map((r) => `${r.method} ${r.outcome}`);
    assert.deepEqual(calls.slice(0, 7), [
      'GET 500',
      'GET 200',
      'POST 503',
      'GET 200',
      'POST dropped',
      'GET 200',
      'POST 204',
    ]);
  });

  it('fails fast on another 400 (e.g. a detach the server must be restarted for), typed with the message', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, OTHER);
    fake.inject({
      match: { method: 'POST', path: `/v2/reserved-ips/${RIP}/detach` },
      kind: 'status',
      status: 400,
      body: { error: 'Unable to detach subnet, please restart your server and try again.', status: 400 },
    });
    const error = await make({ reservedIpId: RIP })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof VultrApiError);
    assert.equal(error.code, 'ERR_VULTR_BAD_REQUEST');
    assert.equal(error.status, 400);
    assert.match(error.apiMessage ?? '', /restart your server/);
    assert.equal(error.retryable, false);
    assert.equal(fake.holder(IP), OTHER);
  });

  it('fails fast on 401 with status and message', async (t) => {
    const { fake, make } = await setup(t);
    const error = await make({ token: 'WRONGKEY0123456789' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof VultrApiError);
    assert.equal(error.code, 'ERR_VULTR_UNAUTHORIZED');
    assert.equal(error.status, 401);
    assert.equal(error.apiMessage, 'Invalid API token.');
    assert.equal(error.providerCode, undefined);
    assert.equal(error.retryable, false);
    assert.equal(fake.requests.length, 1);
  });

  describe('metadata', () => {
    it('reads instance-v2-id (not the legacy instanceid) from /v1.json, without the key, once', async (t) => {
      const { fake, make } = await setup(t, { metadataInstanceId: OTHER });
      const assigner = make({ instanceId: undefined });
      assert.equal(await assigner.self(), OTHER);
      await assigner.assign();
      assert.equal(fake.holder(IP), OTHER);
      const metadata = fake.requests.filter((r) => r.kind === 'metadata');
      assert.deepEqual(
        metadata.map((r) => r.path),
        ['/v1.json'],
      );
      assert.equal(metadata[0]!.hadAuthorization, false);
    });

    it('fails clearly off a Vultr instance', async (t) => {
      const { make } = await setup(t, { metadataInstanceId: null });
      const error = await make({ instanceId: undefined })
        .self()
        .catch((e: unknown) => e);
      assert.ok(error instanceof VultrMetadataError);
      assert.equal(error.retryable, false);
      assert.match(error.message, /instanceId/);
    });
  });

  it('the fake rejects a request that breaks the API description', async (t) => {
    const fake = await startValidatedVultr({ token: TOKEN });
    t.after(() => fake.close());
    const attach = (body: string | undefined) =>
      fetch(`${fake.url}/v2/reserved-ips/${RIP}/attach`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
    assert.equal((await attach(JSON.stringify({ instance_id: 5 }))).status, 400);
    assert.equal((await attach('{}')).status, 400, 'instance_id is required');
    assert.equal((await fetch(`${fake.url}/v2/reserved-ips/${RIP}`)).status, 400, 'no Authorization header');
    assert.equal(fake.violations.length, 3, fake.violations.join('\n'));
    assert.equal(fake.holder(IP), null);
    assert.equal((await attach(JSON.stringify({ instance_id: ME }))).status, 204, 'a valid request passes');
  });

  it('validates every option with a ConfigError naming the field', () => {
    const base: VultrAssignerOptions = { token: TOKEN, ip: IP, instanceId: ME };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ token: undefined }, 'token'],
      [{ token: 'has space' }, 'token'],
      [{ ip: 'nope' }, 'ip'],
      [{ ip: undefined }, 'ip'],
      [{ instanceId: '' }, 'instanceId'],
      [{ instanceId: 'a/b' }, 'instanceId'],
      [{ instanceId: 42 }, 'instanceId'],
      [{ reservedIpId: '../x' }, 'reservedIpId'],
      [{ baseUrl: 'ftp://x' }, 'baseUrl'],
      [{ metadataUrl: 'http://u:p@x' }, 'metadataUrl'],
      [{ confirmTimeoutMs: 0 }, 'confirmTimeoutMs'],
      [{ maxAttachAttempts: 0 }, 'maxAttachAttempts'],
      [{ pollIntervalMs: 0 }, 'pollIntervalMs'],
      [{ retry: { maxDelayMs: 1 } }, 'retry.maxDelayMs'],
      [{ instance: ME }, 'instance'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => new VultrAssigner({ ...base, ...patch } as VultrAssignerOptions),
        (e: unknown) => e instanceof ConfigError && e.field === field && !e.message.includes(TOKEN),
        `${JSON.stringify(patch)} → ${field}`,
      );
    }
    new VultrAssigner({ ...base, ip: '2001:db8::1', instanceId: undefined, fetch: undefined });
  });
});
