import type { AssignerConformanceHarness, ConformanceFault } from '../src/testing/conformance.ts';
import { describeAssignerConformance } from '../src/testing/conformance.ts';
import { FakeVultr } from '../src/testing/fake-vultr.ts';
import { VultrAssigner, type VultrAssignerOptions } from '../src/vultr.ts';
import { fakeHarness, startValidatedVultr } from './support/fake-providers.ts';

const IP = '192.0.2.50';
const TOKEN = 'VULTRKEY0123456789ABCDEFGHIJKLMNOPQRS';
const [ME, OTHER] = FakeVultr.INSTANCES as [string, string];

/** VultrAssigner (instance ME) against the validated fake; `moveAway` attaches the IP to OTHER. */
async function vultrHarness(overrides: Partial<VultrAssignerOptions> = {}): Promise<AssignerConformanceHarness> {
  const fake = await startValidatedVultr({ token: TOKEN });
  const assigner = new VultrAssigner({
    token: TOKEN,
    ip: IP,
    instanceId: ME,
    baseUrl: fake.url,
    metadataUrl: fake.url,
    pollIntervalMs: 10,
    maxPollIntervalMs: 30,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  const faults: Record<ConformanceFault, { status: number; headers?: Record<string, string> }> = {
    transient: { status: 503 },
    fatal: { status: 401 },
    'rate-limit': { status: 429, headers: { 'retry-after': '0' } },
  };
  return fakeHarness(fake, {
    assigner,
    holder: () => fake.holder(IP),
    moveAway: () => fake.moveIp(IP, OTHER),
    faults,
    secrets: [TOKEN],
  });
}

describeAssignerConformance('VultrAssigner', () => vultrHarness(), { rateLimit: true });
