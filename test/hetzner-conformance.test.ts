import { HetznerAssigner, type HetznerAssignerOptions } from '../src/hetzner.ts';
import type { AssignerConformanceHarness, ConformanceFault } from '../src/testing/conformance.ts';
import { describeAssignerConformance } from '../src/testing/conformance.ts';
import { fakeHarness, startValidatedHetzner } from './support/fake-providers.ts';

const IP = '198.51.100.20';
const TOKEN = 'hcloud-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV';

/** HetznerAssigner (server 1001) against the validated fake; `moveAway` moves the IP to server 1002. */
export async function hetznerHarness(
  overrides: Partial<HetznerAssignerOptions> = {},
): Promise<AssignerConformanceHarness> {
  const fake = await startValidatedHetzner({ token: TOKEN });
  const assigner = new HetznerAssigner({
    token: TOKEN,
    ip: IP,
    serverId: 1001,
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
    // Remaining 0, bucket full in 1 s, limit 10: the next token comes in about 100 ms.
    'rate-limit': {
      status: 429,
      headers: {
        'ratelimit-limit': '10',
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1),
      },
    },
  };
  return fakeHarness(fake, {
    assigner,
    holder: () => fake.holder(IP),
    moveAway: () => fake.moveIp(IP, 1002),
    faults,
    secrets: [TOKEN],
  });
}

describeAssignerConformance('HetznerAssigner', () => hetznerHarness(), { rateLimit: true });
