import assert from 'node:assert/strict';
import { FakeHetzner, type FakeHetznerOptions } from '../../src/testing/fake-hetzner.ts';
import { createOpenApiValidator } from './openapi-validator.ts';

const hetznerValidator = createOpenApiValidator(
  new URL('../fixtures/hetzner/floating-ips.openapi.json', import.meta.url),
  { basePath: '/v1', requireBearer: true },
);

/** A fake Hetzner API whose every request (and answer) is checked against Hetzner's OpenAPI description. */
export function startValidatedHetzner(options: FakeHetznerOptions = {}): Promise<FakeHetzner> {
  return FakeHetzner.start({ ...hetznerValidator, ...options });
}

/** Fails the test if the fake saw a request (or produced an answer) the API description rejects. */
export function assertNoViolations(fake: { violations: readonly string[] }): void {
  assert.deepEqual(fake.violations, [], 'requests must match the API description');
}
