import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FloatingIpAssigner } from '../src/assigners/floating-ip-assigner.ts';
import { MockFloatingIpAssigner, SimulatedFloatingIp } from '../src/assigners/mock.ts';
import { DigitalOceanAssigner, type DigitalOceanAssignerOptions } from '../src/digitalocean.ts';
import { AssignerError } from '../src/errors.ts';
import {
  type AssignerConformanceHarness,
  assignerConformanceCases,
  type ConformanceFault,
  describeAssignerConformance,
} from '../src/testing/conformance.ts';
import type { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { startValidatedFake } from './support/fake-do.ts';
import { fakeHarness } from './support/fake-providers.ts';

const IP = '203.0.113.10';
const TOKEN = 'dop_v1_c0ffee0123456789abcdef0123456789abcdef0123456789abcdef01234567';

type Wrap = (assigner: DigitalOceanAssigner, fake: FakeDigitalOcean, closed: { value: boolean }) => FloatingIpAssigner;

/** The DigitalOcean assigner against the validated fake, optionally wrapped in a deliberately broken variant. */
async function digitalOceanHarness(
  wrap?: Wrap,
  overrides: Partial<DigitalOceanAssignerOptions> = {},
): Promise<AssignerConformanceHarness> {
  const fake = await startValidatedFake({ token: TOKEN });
  const closed = { value: false };
  const inner = new DigitalOceanAssigner({
    token: TOKEN,
    ip: IP,
    dropletId: 101,
    baseUrl: fake.url,
    metadataUrl: fake.url,
    pollIntervalMs: 10,
    maxPollIntervalMs: 30,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  const faults: Record<ConformanceFault, { status: number; headers?: Record<string, string> }> = {
    transient: { status: 503 },
    fatal: { status: 403 },
    'rate-limit': { status: 429, headers: { 'retry-after': '0' } },
  };
  return fakeHarness(fake, {
    assigner: wrap === undefined ? inner : wrap(inner, fake, closed),
    holder: () => fake.holder(IP),
    moveAway: () => fake.moveIp(IP, 102),
    faults,
    secrets: [TOKEN, TOKEN.slice(8)],
    onClose: () => {
      closed.value = true;
    },
  });
}

/** The mock assigner: its hook stands for "the provider received a request". */
async function mockHarness(): Promise<AssignerConformanceHarness> {
  const ip = new SimulatedFloatingIp();
  const assigner = new MockFloatingIpAssigner({ id: 'node-a', ip, latencyMs: 2, holderLatencyMs: 1 });
  let requests = 0;
  let listeners: Array<() => void> = [];
  const faults: ConformanceFault[] = [];
  assigner.hook = () => {
    requests++;
    const fire = listeners;
    listeners = [];
    for (const listener of fire) listener();
    const fault = faults.shift();
    if (fault === 'fatal') throw new AssignerError('ERR_MOCK_FORBIDDEN', 'injected fatal fault', { retryable: false });
    if (fault !== undefined) throw new AssignerError('ERR_MOCK_UNAVAILABLE', 'injected fault', { retryable: true });
  };
  return {
    assigner,
    holder: () => ip.holder,
    moveAway: () => ip.move('node-b'),
    requestCount: () => requests,
    mutationCount: () => ip.history.filter((c) => c.by === 'assign').length,
    onNextRequest: (listener) => void listeners.push(listener),
    inject(fault, times) {
      faults.length = 0;
      for (let i = 0; i < Math.min(times, 1000); i++) faults.push(fault);
    },
    secrets: [],
    close: async () => {},
  };
}

describeAssignerConformance('DigitalOceanAssigner', () => digitalOceanHarness(), { rateLimit: true });
describeAssignerConformance('MockFloatingIpAssigner', mockHarness, { retriesTransient: false });

/** Deliberately broken assigners, each with the case that must catch it. */
const MUTANTS: Array<{ name: string; catches: string; wrap?: Wrap; overrides?: Partial<DigitalOceanAssignerOptions> }> =
  [
    {
      name: 'ignores the abort signal',
      catches: 'abort during the call',
      wrap: (a) => ({
        assign: (o = {}) => a.assign({ ...o, signal: undefined }),
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'ignores stillLeader',
      catches: 'stillLeader() === false',
      wrap: (a) => ({
        assign: (o = {}) => a.assign({ ...o, stillLeader: undefined }),
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'forgets terms',
      catches: 'a stale term is refused',
      wrap: (a) => ({
        assign: (o = {}) => a.assign({ ...o, term: undefined }),
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'reports holders in another ID space than self()',
      catches: 'assign moves the IP here',
      wrap: (a) => ({
        assign: (o) => a.assign(o),
        holder: async (o) => {
          const id = await a.holder(o);
          return id === null ? null : `droplet-${id}`;
        },
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'resolves before the provider confirms the move',
      catches: 'assign moves the IP here',
      wrap: (a, fake) => ({
        assign: async () => {
          await fetch(`${fake.url}/v2/reserved_ips/${IP}/actions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'assign', droplet_id: 101 }),
          });
        },
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'moves the IP even when it is already here',
      catches: 'assign is idempotent',
      wrap: (a, fake) => ({
        assign: async (o) => {
          await fetch(`${fake.url}/v2/reserved_ips/${IP}/actions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'assign', droplet_id: 101 }),
          });
          await fake.actions.at(-1)?.settled;
          await a.assign(o);
        },
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'puts the token in its error messages',
      catches: 'no secret',
      wrap: (a) => ({
        assign: (o) =>
          a.assign(o).catch((e: unknown) => {
            throw e instanceof AssignerError
              ? new AssignerError(e.code, `${e.message} (with Bearer ${TOKEN})`, { retryable: e.retryable })
              : e;
          }),
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'marks every failure retryable',
      catches: 'a fatal error rejects promptly',
      wrap: (a) => ({
        assign: (o) =>
          a.assign(o).catch((e: unknown) => {
            throw e instanceof AssignerError ? new AssignerError(e.code, e.message, { retryable: true }) : e;
          }),
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'retries until it succeeds (unbounded)',
      catches: 'a persistent transient error',
      wrap: (a, _fake, closed) => ({
        assign: async (o) => {
          for (;;) {
            try {
              return await a.assign(o);
            } catch (e) {
              if (closed.value || !(e instanceof AssignerError) || !e.retryable) throw e;
            }
          }
        },
        holder: (o) => a.holder(o),
        self: (o) => a.self(o),
      }),
    },
    {
      name: 'does not retry a single 5xx',
      catches: 'a single transient error is retried',
      overrides: { retry: { maxAttempts: 1 } },
    },
  ];

describe('the conformance suite catches broken assigners', { timeout: 60_000 }, () => {
  for (const mutant of MUTANTS) {
    it(`mutant: ${mutant.name}`, async (t) => {
      const cases = assignerConformanceCases(() => digitalOceanHarness(mutant.wrap, mutant.overrides), {
        failWithinMs: 2000,
      });
      const target = cases.find((c) => c.name.startsWith(mutant.catches));
      assert.ok(target !== undefined, `no case named ${mutant.catches}`);
      const error = await target.run().then(
        () => assert.fail(`"${target.name}" did not catch the mutant "${mutant.name}"`),
        (e: unknown) => e,
      );
      // Caught by the case's own assertion, not by a harness problem (a fake's violation, a crash).
      assert.ok(error instanceof assert.AssertionError, String(error));
      assert.doesNotMatch(error.message, /requests must match|harness:/);
      t.diagnostic(error.message.split('\n')[0]!);
    });
  }
});
