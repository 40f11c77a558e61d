import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import { StaleTermError } from '../src/assigners/floating-ip-assigner.ts';
import {
  DigitalOceanActionError,
  DigitalOceanApiError,
  DigitalOceanAssigner,
  type DigitalOceanAssignerOptions,
  DigitalOceanDeadlineError,
  DigitalOceanMetadataError,
  DigitalOceanNetworkError,
  DigitalOceanRegionError,
} from '../src/digitalocean.ts';
import { AbortError, ConfigError } from '../src/errors.ts';
import type { FakeDigitalOcean, FakeDigitalOceanOptions, FakeRequestRecord } from '../src/testing/fake-digitalocean.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';

const IP = '203.0.113.10';
const TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const PENDING = 'The floating IP already has a pending event.';

async function setup(
  t: TestContext,
  fakeOptions: FakeDigitalOceanOptions = {},
): Promise<{ fake: FakeDigitalOcean; make: (o?: Partial<DigitalOceanAssignerOptions>) => DigitalOceanAssigner }> {
  const fake = await startValidatedFake({ token: TOKEN, ...fakeOptions });
  t.after(async () => {
    assertNoViolations(fake);
    await fake.close();
  });
  const make = (overrides: Partial<DigitalOceanAssignerOptions> = {}): DigitalOceanAssigner =>
    new DigitalOceanAssigner({
      token: TOKEN,
      ip: IP,
      dropletId: 101,
      baseUrl: fake.url,
      metadataUrl: fake.url,
      pollIntervalMs: 20,
      maxPollIntervalMs: 50,
      retry: { baseDelayMs: 10, maxDelayMs: 40 },
      ...overrides,
    });
  return { fake, make };
}

const line = (r: FakeRequestRecord): string => `${r.method} ${r.path} ${r.outcome}`;
const isPoll = (r: FakeRequestRecord): boolean => r.method === 'GET' && /\/actions\/\d+$/.test(r.path);

describe('DigitalOceanAssigner', { timeout: 15_000 }, () => {
  it('assigns: reads the IP, posts the action, polls it, confirms by reading the IP', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP), 101);
    const log = fake.requests.map(line);
    assert.equal(log[0], `GET /v2/reserved_ips/${IP} 200`);
    assert.equal(log[1], `POST /v2/reserved_ips/${IP}/actions 201`);
    const polls = fake.requests.slice(2, -1);
    assert.ok(polls.length >= 1 && polls.every(isPoll), log.join('\n'));
    assert.equal(log.at(-1), `GET /v2/reserved_ips/${IP} 200`);
    assert.deepEqual(fake.requests[1]!.body, { type: 'assign', droplet_id: 101 });
    assert.ok(fake.requests.every((r) => r.authorized));
    t.diagnostic(`requests for one assign: ${fake.requests.length} (${polls.length} action polls)`);
  });

  it('costs 3 requests plus one per action poll', async (t) => {
    // Roughly the default schedule (first poll after 1 s, ×1.5, 3 s action) scaled down 50×.
    const { fake, make } = await setup(t, { actionDurationMs: 60 });
    await make({ pollIntervalMs: 20, maxPollIntervalMs: 80 }).assign();
    const polls = fake.requests.filter(isPoll).length;
    assert.equal(fake.requests.length, 3 + polls);
    t.diagnostic(`scaled 3 s action: ${fake.requests.length} requests (${polls} polls)`);
  });

  it('is idempotent: no action when the IP is already here', async (t) => {
    const { fake, make } = await setup(t, { reservedIps: [{ ip: IP, region: 'nyc3', dropletId: 101 }] });
    const assigner = make();
    await assigner.assign({ term: 3 });
    await assigner.assign({ term: 3 });
    assert.deepEqual(fake.requests.map(line), [`GET /v2/reserved_ips/${IP} 200`, `GET /v2/reserved_ips/${IP} 200`]);
    assert.equal(fake.actions.length, 0);
  });

  it('holder() and self() report droplet IDs', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    assert.equal(await assigner.holder(), null);
    fake.moveIp(IP, 102);
    assert.equal(await assigner.holder(), 102);
    assert.equal(await assigner.self(), 101);
  });

  it('rejects with DigitalOceanActionError when the action errors', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, 102);
    fake.failNextAction(IP);
    const error = await make()
      .assign()
      .then(
        () => assert.fail('should reject'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof DigitalOceanActionError);
    assert.equal(error.code, 'ERR_DO_ACTION_FAILED');
    assert.equal(error.outcome, 'errored');
    assert.equal(error.actionId, fake.actions[0]!.id);
    assert.equal(error.holder, 102);
    assert.equal(error.retryable, true);
    assert.equal(fake.holder(IP), 102);
  });

  it('rejects as not-confirmed when the IP ends elsewhere after the action completed', async (t) => {
    const { fake, make } = await setup(t);
    const pending = make().assign();
    const post = await fake.waitForRequest((r) => r.method === 'POST');
    assert.equal(post.outcome, 201);
    // Someone moves it the instant our action completes, before we confirm.
    await fake.actions[0]!.settled;
    fake.moveIp(IP, 103);
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof DigitalOceanActionError);
      assert.equal(e.outcome, 'not-confirmed');
      assert.equal(e.holder, 103);
      return true;
    });
  });

  it('waits for a locked IP to unlock, then assigns', async (t) => {
    const { fake, make } = await setup(t);
    fake.startAction(IP, 102, { durationMs: 60_000 });
    // The foreign action ends once we have seen the IP locked twice.
    void fake.waitForRequest((r) => r.seq === 2).then(() => fake.finishPendingActions());
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const log = fake.requests.map(line);
    const firstPost = log.findIndex((l) => l.startsWith('POST'));
    assert.ok(firstPost >= 2, `polled the locked IP before posting:\n${log.join('\n')}`);
    assert.equal(log.filter((l) => l.startsWith('POST')).length, 1, 'posted once, after the unlock');
    assert.equal(fake.actions.length, 2);
  });

  it('on 422 pending event: waits for the in-flight action, re-reads, posts again', async (t) => {
    const { fake, make } = await setup(t);
    // Another client's action starts between our read and our post, and ends once we re-read after the 422.
    void fake
      .waitForRequest((r) => r.method === 'GET')
      .then(() => {
        fake.startAction(IP, 102, { durationMs: 60_000 });
        return fake.waitForRequest((r) => r.method === 'POST');
      })
      .then((post) => fake.waitForRequest((r) => r.seq > post.seq + 1))
      .then(() => fake.finishPendingActions());
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const posts = fake.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => r.outcome),
      [422, 201],
    );
    const between = fake.requests.filter((r) => r.seq > posts[0]!.seq && r.seq < posts[1]!.seq);
    assert.ok(between.length >= 1 && between.every((r) => r.path === `/v2/reserved_ips/${IP}`));
    t.diagnostic(`requests with one 422 pending (foreign action seen locked twice): ${fake.requests.length}`);
  });

  it('on a 422 pending event while the IP is unlocked (the droplet is busy): pauses, re-reads, posts again', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({
      match: { method: 'POST' },
      kind: 'status',
      status: 422,
      body: { id: 'unprocessable_entity', message: PENDING },
    });
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const [first, reread, second] = fake.requests.slice(1);
    assert.equal(line(first!), `POST /v2/reserved_ips/${IP}/actions 422`);
    assert.equal(line(reread!), `GET /v2/reserved_ips/${IP} 200`);
    assert.ok(reread!.at - first!.at >= 15, 'waited a poll interval before re-reading');
    assert.equal(line(second!), `POST /v2/reserved_ips/${IP}/actions 201`);
  });

  it('fails fast and typed on a 422 for another region', async (t) => {
    const { fake, make } = await setup(t);
    const error = await make({ dropletId: 201 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanRegionError);
    assert.ok(error instanceof DigitalOceanApiError);
    assert.equal(error.code, 'ERR_DO_WRONG_REGION');
    assert.equal(error.status, 422);
    assert.equal(error.id, 'unprocessable_entity');
    assert.match(error.apiMessage ?? '', /region/);
    assert.equal(error.retryable, false);
    assert.ok(error.requestId);
    assert.deepEqual(
      fake.requests.map((r) => r.method),
      ['GET', 'POST'],
    );
  });

  it('honours retry-after on 429', async (t) => {
    // Budget: 3 requests a second; the assign needs 5, so one waits as the 429 says (1 s), not the 10 ms backoff.
    const { fake, make } = await setup(t, { rateLimit: { limit: 3, windowMs: 1000 } });
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const limited = fake.requests.filter((r) => r.outcome === 429);
    assert.ok(limited.length >= 1);
    for (const r of limited) {
      const next = fake.requests.find((n) => n.seq === r.seq + 1);
      assert.ok(next !== undefined);
      assert.ok(next.at - r.at >= 950, `waited ${Math.round(next.at - r.at)} ms after a 429 with retry-after: 1`);
    }
  });

  it('falls back to ratelimit-reset when a 429 has no retry-after', async (t) => {
    const { fake, make } = await setup(t);
    const reset = Math.floor(Date.now() / 1000) + 2; // Unix seconds: 1–2 s from now
    fake.inject({
      match: { method: 'GET' },
      kind: 'status',
      status: 429,
      headers: { 'ratelimit-reset': String(reset), 'ratelimit-remaining': '0' },
    });
    assert.equal(await make().holder(), null);
    const [first, second] = fake.requests;
    assert.equal(first!.outcome, 429);
    assert.ok(second!.at - first!.at >= 950, `waited ${Math.round(second!.at - first!.at)} ms`);
  });

  it('fails at once, retryable, when a 429 asks to wait longer than maxRateLimitWaitMs', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ kind: 'status', status: 429, headers: { 'retry-after': '120' } });
    const started = performance.now();
    const error = await make()
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanApiError);
    assert.equal(error.code, 'ERR_DO_RATE_LIMITED');
    assert.equal(error.retryable, true);
    assert.ok(performance.now() - started < 1000);
    assert.equal(fake.requests.length, 1);
  });

  it('retries 5xx and dropped connections with backoff', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ match: { method: 'GET', path: `/v2/reserved_ips/${IP}` }, kind: 'status', status: 503, times: 2 });
    fake.inject({ match: { method: 'GET', path: /\/actions\/\d+$/ }, kind: 'drop' });
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const outcomes = fake.requests.map((r) => r.outcome);
    assert.deepEqual(outcomes.slice(0, 4), [503, 503, 200, 201]);
    assert.ok(outcomes.includes('dropped'));
  });

  it('after a failed POST (500 or dropped), re-reads the IP before posting again', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ match: { method: 'POST' }, kind: 'status', status: 500 });
    fake.inject({ match: { method: 'POST' }, kind: 'drop' });
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const methods = fake.requests.filter((r) => !isPoll(r)).map((r) => `${r.method} ${r.outcome}`);
    assert.deepEqual(methods, ['GET 200', 'POST 500', 'GET 200', 'POST dropped', 'GET 200', 'POST 201', 'GET 200']);
  });

  it('gives up after retry.maxAttempts on persistent 5xx', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({ kind: 'status', status: 502, times: 10 });
    const error = await make({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } })
      .holder()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanApiError);
    assert.equal(error.code, 'ERR_DO_SERVER');
    assert.equal(error.status, 502);
    assert.equal(error.retryable, true);
    assert.equal(fake.requests.length, 3);
  });

  it('fails fast on 401 with status, id, message and request_id (from the header when the body has none)', async (t) => {
    const { fake, make } = await setup(t, { requestIdInErrorBody: false });
    const error = await make({ token: 'dop_v1_wrong' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanApiError);
    assert.equal(error.code, 'ERR_DO_UNAUTHORIZED');
    assert.equal(error.status, 401);
    assert.equal(error.id, 'unauthorized');
    assert.equal(error.apiMessage, 'Unable to authenticate you');
    assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(error.retryable, false);
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.requests[0]!.authorized, false);
  });

  it('fails fast on 403 (body request_id) and on 404 for an unknown IP', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({
      match: { method: 'POST' },
      kind: 'status',
      status: 403,
      body: { id: 'forbidden', message: 'You do not have access for the attempted action.', request_id: 'req-403' },
    });
    const forbidden = await make()
      .assign()
      .catch((e: unknown) => e);
    assert.ok(forbidden instanceof DigitalOceanApiError);
    assert.equal(forbidden.code, 'ERR_DO_FORBIDDEN');
    assert.equal(forbidden.id, 'forbidden');
    assert.equal(forbidden.requestId, 'req-403');
    assert.match(forbidden.message, /403 forbidden.*req-403/);
    assert.equal(fake.requests.length, 2);

    const missing = await make({ ip: '198.51.100.1' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(missing instanceof DigitalOceanApiError);
    assert.equal(missing.code, 'ERR_DO_NOT_FOUND');
    assert.equal(missing.status, 404);
    assert.equal(fake.requests.length, 3);
  });

  it('falls back to reading the IP when polling the action answers 404', async (t) => {
    const { fake, make } = await setup(t, { reservedIps: [{ ip: IP, region: 'nyc3', actionsNotFound: true }] });
    await make().assign();
    assert.equal(fake.holder(IP), 101);
    const afterPost = fake.requests.slice(2).map(line);
    assert.match(afterPost[0]!, /actions\/\d+ 404$/);
    assert.ok(afterPost.slice(1).every((l) => l.startsWith(`GET /v2/reserved_ips/${IP} 200`)));
  });

  it('speaks the legacy floating_ips endpoint', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make({ endpoint: 'floating_ips' });
    await assigner.assign();
    assert.equal(await assigner.holder(), 101);
    assert.ok(fake.requests.every((r) => r.path.startsWith(`/v2/floating_ips/${IP}`)));
  });

  it('enforces the assign deadline', async (t) => {
    const { fake, make } = await setup(t, { actionDurationMs: 5000 });
    const started = performance.now();
    const error = await make({ assignTimeoutMs: 150 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanDeadlineError, String(error));
    assert.equal(error.code, 'ERR_DO_DEADLINE');
    assert.equal(error.retryable, true);
    assert.ok(performance.now() - started < 1500, 'gave up at the deadline, not with the 5 s action');
    assert.ok(fake.requests.length >= 3);
  });

  describe('abort', () => {
    it('rejects without a request when already aborted', async (t) => {
      const { fake, make } = await setup(t);
      await assert.rejects(make().assign({ signal: AbortSignal.abort() }), AbortError);
      await assert.rejects(make().holder({ signal: AbortSignal.abort() }), AbortError);
      assert.equal(fake.requests.length, 0);
    });

    it('stops during an in-flight request and sends nothing afterwards', async (t) => {
      const { fake, make } = await setup(t);
      const controller = new AbortController();
      const pending = make().assign({ signal: controller.signal });
      await fake.waitForRequest((r) => r.method === 'POST');
      const abortedAt = performance.now();
      controller.abort();
      await assert.rejects(pending, AbortError);
      assert.ok(performance.now() - abortedAt < 500, 'rejected promptly');
      await fake.actions[0]!.settled;
      await delay(100); // a window in which a request would have been sent
      assert.deepEqual(fake.requests.filter((r) => r.at >= abortedAt).map(line), []);
    });

    it('stops during the wait between polls and sends nothing afterwards', async (t) => {
      const { fake, make } = await setup(t, { actionDurationMs: 2000 });
      const controller = new AbortController();
      let abortedAt = Number.POSITIVE_INFINITY;
      const assigner = make({
        pollIntervalMs: 400,
        maxPollIntervalMs: 1000,
        // Abort right after the first poll's answer is handed over: the assigner then waits 600 ms to poll again.
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const url = input instanceof Request ? input.url : String(input);
          if (/\/actions\/\d+$/.test(url) && abortedAt === Number.POSITIVE_INFINITY) {
            setImmediate(() => {
              abortedAt = performance.now();
              controller.abort();
            });
          }
          return response;
        },
      });
      await assert.rejects(assigner.assign({ signal: controller.signal }), AbortError);
      assert.ok(performance.now() - abortedAt < 500, 'rejected before the next poll was due');
      await delay(700); // past the moment the next poll was due
      assert.deepEqual(fake.requests.filter((r) => r.at >= abortedAt).map(line), []);
      assert.equal(fake.requests.filter(isPoll).length, 1);
    });

    it('sends no further request once stillLeader() turns false, with no abort signal fired', async (t) => {
      // A process resumed after a pause longer than its lease: the response to its read arrives before its
      // lostLeadership event can run. The lease check right before the next request must stop it.
      const { fake, make } = await setup(t);
      let leading = true;
      const assigner = make({
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          leading = false;
          return response;
        },
      });
      await assert.rejects(assigner.assign({ term: 1, stillLeader: () => leading }), AbortError);
      assert.deepEqual(
        fake.apiRequests().map((r) => r.method),
        ['GET'],
        'only the read that was already under way; no POST',
      );
      assert.equal(fake.holder(IP), null);
    });

    it('stops during a rate-limit wait', async (t) => {
      const { fake, make } = await setup(t);
      fake.inject({ kind: 'status', status: 429, headers: { 'retry-after': '30' } });
      const controller = new AbortController();
      const pending = make().assign({ signal: controller.signal });
      await fake.waitForRequest(() => true);
      await delay(20);
      controller.abort();
      await assert.rejects(pending, AbortError);
      assert.equal(fake.requests.length, 1);
    });
  });

  describe('term fencing', () => {
    it('refuses an assign whose term is lower than one already issued, without a request', async (t) => {
      const { fake, make } = await setup(t);
      const assigner = make();
      await assigner.assign({ term: 5 });
      const before = fake.requests.length;
      const error = await assigner.assign({ term: 4 }).catch((e: unknown) => e);
      assert.ok(error instanceof StaleTermError);
      assert.equal(error.code, 'ERR_STALE_TERM');
      assert.equal(error.term, 4);
      assert.equal(error.highestTerm, 5);
      assert.equal(fake.requests.length, before);
      await assigner.assign({ term: 5 });
    });

    it('stops an in-flight assign when a newer term starts', async (t) => {
      const { fake, make } = await setup(t, { actionDurationMs: 80 });
      const assigner = make();
      const old = assigner.assign({ term: 1 });
      await fake.waitForRequest((r) => r.method === 'POST');
      const fresh = assigner.assign({ term: 2 });
      await assert.rejects(old, StaleTermError);
      await fresh;
      assert.equal(fake.holder(IP), 101);
    });

    it('rejects a malformed term with a ConfigError', async (t) => {
      const { make } = await setup(t);
      await assert.rejects(make().assign({ term: Number.NaN }), (e: unknown) => e instanceof ConfigError);
    });
  });

  describe('metadata', () => {
    it('reads the droplet ID from the metadata service, without the token, once', async (t) => {
      const { fake, make } = await setup(t, { metadataDropletId: 102 });
      const assigner = make({ dropletId: undefined });
      assert.equal(await assigner.self(), 102);
      await assigner.assign();
      assert.equal(fake.holder(IP), 102);
      const metadata = fake.requests.filter((r) => r.kind === 'metadata');
      assert.equal(metadata.length, 1);
      assert.equal(metadata[0]!.path, '/metadata/v1/id');
      assert.equal(metadata[0]!.hadAuthorization, false);
    });

    it('fails clearly off a droplet (nothing listening)', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const assigner = new DigitalOceanAssigner({ token: TOKEN, ip: IP, metadataUrl: `http://127.0.0.1:${port}` });
      const error = await assigner.assign().catch((e: unknown) => e);
      assert.ok(error instanceof DigitalOceanMetadataError);
      assert.equal(error.code, 'ERR_DO_METADATA');
      assert.equal(error.retryable, false);
      assert.match(error.message, /dropletId/);
    });

    it('times out quickly when the metadata service does not answer', async (t) => {
      const silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      t.after(() => {
        silent.closeAllConnections();
        silent.close();
      });
      const { port } = silent.address() as AddressInfo;
      const started = performance.now();
      const assigner = new DigitalOceanAssigner({
        token: TOKEN,
        ip: IP,
        metadataUrl: `http://127.0.0.1:${port}`,
        metadataTimeoutMs: 50,
      });
      await assert.rejects(
        assigner.self(),
        (e: unknown) => e instanceof DigitalOceanMetadataError && /timed out/.test(e.message),
      );
      assert.ok(performance.now() - started < 1000);
    });

    it('fails on a 404 from the metadata service', async (t) => {
      const { make } = await setup(t, { metadataDropletId: null });
      await assert.rejects(make({ dropletId: undefined }).self(), DigitalOceanMetadataError);
    });
  });

  it('never exposes the token: errors (message, stack, JSON, inspect), the instance, debug output', async (t) => {
    const { fake, make } = await setup(t);
    const captured: string[] = [];
    const previousLog = createDebug.log;
    const previousNamespaces = createDebug.disable();
    createDebug.log = (...args: unknown[]) => {
      captured.push(format(...args));
    };
    createDebug.enable('leader-ip:*');
    t.after(() => {
      createDebug.log = previousLog;
      createDebug.disable();
      if (previousNamespaces) createDebug.enable(previousNamespaces);
    });

    const errors: unknown[] = [];
    const catchAll = (p: Promise<unknown>): Promise<void> =>
      p.then(
        () => {},
        (e: unknown) => void errors.push(e),
      );
    const assigner = make();
    await assigner.assign({ term: 1 }); // success path logs too
    fake.moveIp(IP, 102);
    fake.inject({ kind: 'status', status: 500, times: 10 });
    await catchAll(make({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }).assign());
    fake.inject({ kind: 'drop', times: 10 });
    await catchAll(make({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }).assign());
    await catchAll(make({ dropletId: 201 }).assign());
    const wrongToken = `${TOKEN}x`;
    await catchAll(make({ token: wrongToken }).assign());
    await catchAll(Promise.resolve().then(() => make({ token: `${TOKEN} x` })));
    const hanging = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      hanging.closeAllConnections();
      hanging.close();
    });
    const { port } = hanging.address() as AddressInfo;
    await catchAll(
      make({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 30, retry: { maxAttempts: 1 } }).holder(),
    );

    assert.equal(errors.length, 6);
    assert.ok(errors.some((e) => e instanceof DigitalOceanNetworkError && e.timedOut));
    for (const error of errors) {
      assert.ok(error instanceof Error);
      for (const text of [
        error.message,
        String(error.stack),
        JSON.stringify(error),
        inspect(error, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      ]) {
        assert.ok(!text.includes(TOKEN.slice(8)), `token leaked by ${error.name}: ${text.slice(0, 200)}`);
      }
    }
    for (const text of [
      JSON.stringify(assigner),
      inspect(assigner, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      Object.keys(assigner).join(),
    ]) {
      assert.ok(!text.includes(TOKEN.slice(8)));
    }
    assert.ok(captured.length > 10, 'debug output was captured');
    assert.ok(
      captured.some((l) => l.includes('term 1')),
      'the term is in the debug output',
    );
    assert.ok(captured.every((l) => !l.includes(TOKEN.slice(8))));
  });

  it('validates every option with a ConfigError naming the field', () => {
    const base: DigitalOceanAssignerOptions = { token: TOKEN, ip: IP, dropletId: 1 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ token: undefined }, 'token'],
      [{ token: '' }, 'token'],
      [{ token: 'has space' }, 'token'],
      [{ ip: undefined }, 'ip'],
      [{ ip: '203.0.113' }, 'ip'],
      [{ ip: 'fe80::1%eth0' }, 'ip'],
      [{ ip: '2001:db8::1', endpoint: 'reserved_ips' }, 'endpoint'],
      [{ ip: '2001:db8::1', endpoint: 'floating_ips' }, 'endpoint'],
      [{ endpoint: 'reserved_ipv7' }, 'endpoint'],
      [{ dropletId: 0 }, 'dropletId'],
      [{ dropletId: 1.5 }, 'dropletId'],
      [{ dropletId: '101' }, 'dropletId'],
      [{ baseUrl: 'ftp://example.com' }, 'baseUrl'],
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ baseUrl: 'https://user:pw@example.com' }, 'baseUrl'],
      [{ metadataUrl: 'nope' }, 'metadataUrl'],
      [{ endpoint: 'reserved_ipv6' }, 'endpoint'],
      [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
      [{ assignTimeoutMs: -1 }, 'assignTimeoutMs'],
      [{ pollIntervalMs: 0.5 }, 'pollIntervalMs'],
      [{ pollIntervalMs: 500, maxPollIntervalMs: 100 }, 'maxPollIntervalMs'],
      [{ metadataTimeoutMs: 0 }, 'metadataTimeoutMs'],
      [{ retry: 3 }, 'retry'],
      [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
      [{ retry: { baseDelayMs: 0 } }, 'retry.baseDelayMs'],
      [{ retry: { baseDelayMs: 100, maxDelayMs: 50 } }, 'retry.maxDelayMs'],
      [{ retry: { maxRateLimitWaitMs: -5 } }, 'retry.maxRateLimitWaitMs'],
      [{ retry: { attempts: 3 } }, 'retry.attempts'],
      [{ fetch: 'fetch' }, 'fetch'],
      [{ tokn: 'x' }, 'tokn'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => new DigitalOceanAssigner({ ...base, ...patch } as DigitalOceanAssignerOptions),
        (e: unknown) => e instanceof ConfigError && e.field === field && !e.message.includes(TOKEN),
        `${JSON.stringify(patch)} → ${field}`,
      );
    }
    assert.throws(() => new DigitalOceanAssigner(undefined as unknown as DigitalOceanAssignerOptions), ConfigError);
  });
});

const IP6 = '2001:db8:f7:1017::4c6e';

describe('DigitalOceanAssigner with a reserved IPv6', { timeout: 15_000 }, () => {
  const v6 = (t: TestContext, options: FakeDigitalOceanOptions = {}) =>
    setup(t, { reservedIps: [{ ip: IP6, region: 'nyc3' }], ...options });

  it('chooses /v2/reserved_ipv6 by the address family, polls /v2/actions/{id}, confirms by reading', async (t) => {
    const { fake, make } = await v6(t);
    const assigner = make({ ip: IP6 });
    assert.equal(assigner.family, 6);
    assert.equal(assigner.endpoint, 'reserved_ipv6');
    assert.equal(make().family, 4);
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP6), 101);
    const log = fake.requests.map(line);
    assert.equal(log[0], `GET /v2/reserved_ipv6/${IP6} 200`);
    assert.equal(log[1], `POST /v2/reserved_ipv6/${IP6}/actions 201`);
    const polls = fake.requests.slice(2, -1);
    assert.ok(polls.length >= 1 && polls.every((r) => /^\/v2\/actions\/\d+$/.test(r.path)), log.join('\n'));
    assert.equal(log.at(-1), `GET /v2/reserved_ipv6/${IP6} 200`);
    assert.deepEqual(fake.requests[1]!.body, { type: 'assign', droplet_id: 101 });
    t.diagnostic(`requests for one IPv6 assign: ${fake.requests.length} (${polls.length} action polls)`);
  });

  it('canonicalises the address, is idempotent, and reports holder() and self() as droplet IDs', async (t) => {
    const { fake, make } = await v6(t);
    const assigner = make({ ip: '2001:DB8:F7:1017:0:0:0:4C6E' });
    assert.equal(assigner.ip, IP6);
    assert.equal(await assigner.holder(), null);
    fake.moveIp(IP6, 101);
    assert.equal(await assigner.holder(), 101);
    assert.equal(await assigner.self(), 101);
    const before = fake.requests.length;
    await assigner.assign({ term: 2 });
    assert.deepEqual(fake.requests.slice(before).map(line), [`GET /v2/reserved_ipv6/${IP6} 200`]);
    assert.equal(fake.actions.length, 0);
  });

  it('moves the IPv6 away from another droplet, and fails fast on 404 for an unknown IPv6', async (t) => {
    const { fake, make } = await v6(t);
    fake.moveIp(IP6, 102);
    await make({ ip: IP6 }).assign();
    assert.equal(fake.holder(IP6), 101);
    const error = await make({ ip: '2001:db8::99' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanApiError);
    assert.equal(error.code, 'ERR_DO_NOT_FOUND');
    assert.equal(error.path, '/v2/reserved_ipv6/2001:db8::99');
    assert.ok(error.requestId);
  });

  it('on 422 pending event (no locked flag to watch): waits with growing pauses, then posts again', async (t) => {
    const { fake, make } = await v6(t);
    const foreign = fake.startAction(IP6, 102, { durationMs: 60_000 });
    // The foreign action ends after our third rejected post.
    // (A waiter runs after the fake has answered the request it matched.)
    void fake
      .waitForRequest((r) => r.method === 'POST' && fake.requests.filter((q) => q.method === 'POST').length >= 3)
      .then(() => fake.finishPendingActions());
    await make({ ip: IP6, pollIntervalMs: 20, maxPollIntervalMs: 200 }).assign();
    await foreign.settled;
    assert.equal(fake.holder(IP6), 101);
    const posts = fake.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.slice(0, 3).map((r) => r.outcome),
      [422, 422, 422],
    );
    assert.equal(posts.at(-1)!.outcome, 201);
    const gap1 = posts[1]!.at - posts[0]!.at;
    const gap2 = posts[2]!.at - posts[1]!.at;
    assert.ok(gap1 >= 15 && gap2 >= 25, `pauses grow: ${gap1.toFixed(0)} ms then ${gap2.toFixed(0)} ms`);
  });

  it('fails fast on a 422 for another region', async (t) => {
    const { make } = await v6(t);
    const error = await make({ ip: IP6, dropletId: 201 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanRegionError);
    assert.equal(error.path, `/v2/reserved_ipv6/${IP6}/actions`);
  });

  it('reports an errored action with the holder it left', async (t) => {
    const { fake, make } = await v6(t);
    fake.moveIp(IP6, 102);
    fake.failNextAction(IP6);
    const error = await make({ ip: IP6 })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof DigitalOceanActionError);
    assert.equal(error.outcome, 'errored');
    assert.equal(error.holder, 102);
  });
});
