import assert from 'node:assert/strict';
import type { AssignerConformanceHarness, ConformanceFault } from '../../src/testing/conformance.ts';
import type { FakeFault, FakeRequestRecord } from '../../src/testing/fake-digitalocean.ts';
import { FakeHetzner, type FakeHetznerOptions } from '../../src/testing/fake-hetzner.ts';
import { FakeVultr, type FakeVultrOptions } from '../../src/testing/fake-vultr.ts';
import { createOpenApiValidator } from './openapi-validator.ts';

const hetznerValidator = createOpenApiValidator(
  new URL('../fixtures/hetzner/floating-ips.openapi.json', import.meta.url),
  { basePath: '/v1', requireBearer: true },
);

/** A fake Hetzner API whose every request (and answer) is checked against Hetzner's OpenAPI description. */
export function startValidatedHetzner(options: FakeHetznerOptions = {}): Promise<FakeHetzner> {
  return FakeHetzner.start({ ...hetznerValidator, ...options });
}

const vultrValidator = createOpenApiValidator(
  new URL('../fixtures/vultr/reserved-ips.openapi.json', import.meta.url),
  // Vultr sends 403, 429 and 5xx too (see ../shared/providers/README.md); the description lists none of them.
  { basePath: '/v2', undescribedStatuses: [403, 429, 500, 502, 503, 504] },
);

/** A fake Vultr API whose every request (and answer) is checked against Vultr's OpenAPI description. */
export function startValidatedVultr(options: FakeVultrOptions = {}): Promise<FakeVultr> {
  return FakeVultr.start({ ...vultrValidator, ...options });
}

/** Fails the test if the fake saw a request (or produced an answer) the API description rejects. */
export function assertNoViolations(fake: { violations: readonly string[] }): void {
  assert.deepEqual(fake.violations, [], 'requests must match the API description');
}

/** What the conformance harness needs of a fake: the request log, faults, and closing. */
interface ConformanceFake {
  readonly requests: readonly FakeRequestRecord[];
  readonly violations: readonly string[];
  apiRequests(): FakeRequestRecord[];
  waitForRequest(match: (request: FakeRequestRecord) => boolean): Promise<FakeRequestRecord>;
  inject(fault: FakeFault): void;
  close(): Promise<void>;
}

/**
 * The conformance harness over one of the HTTP fakes: requests are the fake's API requests, moves are its POSTs,
 * each fault kind is an injected status (with headers), and closing checks the fake saw no request the API
 * description rejects.
 */
export function fakeHarness(
  fake: ConformanceFake,
  parts: Pick<AssignerConformanceHarness, 'assigner' | 'holder' | 'moveAway' | 'secrets'> & {
    faults: Record<ConformanceFault, { status: number; headers?: Record<string, string> }>;
    onClose?: (() => void) | undefined;
  },
): AssignerConformanceHarness {
  return {
    assigner: parts.assigner,
    holder: parts.holder,
    moveAway: parts.moveAway,
    secrets: parts.secrets,
    requestCount: () => fake.apiRequests().length,
    mutationCount: () => fake.apiRequests().filter((r) => r.method === 'POST').length,
    onNextRequest(listener) {
      const seen = fake.requests.length;
      void fake.waitForRequest((r) => r.seq > seen).then(listener);
    },
    inject(fault, times) {
      fake.inject({ kind: 'status', times, ...parts.faults[fault] });
    },
    async close() {
      parts.onClose?.();
      await fake.close();
      assertNoViolations(fake);
    },
  };
}
