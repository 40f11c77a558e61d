import { DigitalOceanAssigner } from '../src/digitalocean.ts';
import type { AssignerConformanceHarness, ConformanceFault } from '../src/testing/conformance.ts';
import { describeAssignerConformance } from '../src/testing/conformance.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';

const IP6 = '2001:db8:f7:1017::4c6e';
const TOKEN = 'dop_v1_feed0123456789abcdef0123456789abcdef0123456789abcdef012345678';

/** DigitalOceanAssigner for a reserved IPv6 (droplet 101) against the validated fake; `moveAway` → droplet 102. */
async function reservedIpv6Harness(): Promise<AssignerConformanceHarness> {
  const fake = await startValidatedFake({ token: TOKEN, reservedIps: [{ ip: IP6, region: 'nyc3' }] });
  const assigner = new DigitalOceanAssigner({
    token: TOKEN,
    ip: IP6,
    dropletId: 101,
    baseUrl: fake.url,
    metadataUrl: fake.url,
    pollIntervalMs: 10,
    maxPollIntervalMs: 30,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const faults: Record<ConformanceFault, { status: number; headers?: Record<string, string> }> = {
    transient: { status: 503 },
    fatal: { status: 403 },
    'rate-limit': { status: 429, headers: { 'retry-after': '0' } },
  };
  return {
    assigner,
    holder: () => fake.holder(IP6),
    moveAway: () => fake.moveIp(IP6, 102),
    requestCount: () => fake.apiRequests().length,
    mutationCount: () => fake.apiRequests().filter((r) => r.method === 'POST').length,
    onNextRequest(listener) {
      const seen = fake.requests.length;
      void fake.waitForRequest((r) => r.seq > seen).then(listener);
    },
    inject(fault, times) {
      fake.inject({ kind: 'status', times, ...faults[fault] });
    },
    secrets: [TOKEN, TOKEN.slice(8)],
    async close() {
      await fake.close();
      assertNoViolations(fake);
    },
  };
}

describeAssignerConformance('DigitalOceanAssigner (reserved IPv6)', reservedIpv6Harness, { rateLimit: true });
