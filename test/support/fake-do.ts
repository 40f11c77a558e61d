import assert from 'node:assert/strict';
import { FakeDigitalOcean, type FakeDigitalOceanOptions } from '../../src/testing/fake-digitalocean.ts';
import { createOpenApiValidator } from './openapi-validator.ts';

const validator = createOpenApiValidator();

/** A fake DigitalOcean API whose every request (and response) is checked against the OpenAPI description. */
export function startValidatedFake(options: FakeDigitalOceanOptions = {}): Promise<FakeDigitalOcean> {
  return FakeDigitalOcean.start({ ...validator, ...options });
}

/** Fails the test if the fake saw a request (or produced a response) the API description rejects. */
export function assertNoViolations(fake: FakeDigitalOcean): void {
  assert.deepEqual(fake.violations, [], 'requests must match the DigitalOcean API description');
}
