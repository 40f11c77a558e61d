import assert from 'node:assert/strict';
import { FakeEc2, type FakeEc2Options } from '../../src/testing/fake-ec2.ts';
import { createEc2ResponseValidator, createEc2Validator } from './ec2-validator.ts';

const validateRequest = createEc2Validator();
const validateResponse = createEc2ResponseValidator();

/** A fake EC2 whose every API request (and reply) is checked against the vendored botocore description. */
export function startValidatedEc2(options: FakeEc2Options = {}): Promise<FakeEc2> {
  return FakeEc2.start({ validateRequest, validateResponse, ...options });
}

/** Fails the test if the fake saw a request the API description rejects. */
export function assertNoEc2Violations(fake: FakeEc2): void {
  assert.deepEqual(fake.violations, [], 'requests must match the EC2 API description');
}
