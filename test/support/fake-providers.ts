import assert from 'node:assert/strict';
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
