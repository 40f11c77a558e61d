import { ElasticIpAssigner, type ElasticIpAssignerOptions } from '../src/aws.ts';
import type { AssignerConformanceHarness, ConformanceFault } from '../src/testing/conformance.ts';
import { describeAssignerConformance } from '../src/testing/conformance.ts';
import type { FakeEc2Fault } from '../src/testing/fake-ec2.ts';
import { assertNoEc2Violations, startValidatedEc2 } from './support/fake-ec2.ts';

const IP = '198.51.100.10';
const CREDENTIALS = {
  accessKeyId: 'ASIACONF0000EXAMPLE6',
  secretAccessKey: 'conformanceSecret/000000000000000EXAMPLE6',
  sessionToken: 'conformanceSessionToken0000000000000000000000EXAMPLE6',
};

/** ElasticIpAssigner (instance …1) against the signature-checking fake; `moveAway` moves the IP to instance …2. */
export async function elasticIpHarness(
  overrides: Partial<ElasticIpAssignerOptions> = {},
): Promise<AssignerConformanceHarness> {
  const fake = await startValidatedEc2({ credentials: [CREDENTIALS] });
  const assigner = new ElasticIpAssigner({
    ip: IP,
    region: 'us-east-1',
    instanceId: 'i-00000000000000001',
    credentials: CREDENTIALS,
    endpoint: fake.url,
    metadataUrl: fake.url,
    env: {},
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  const faults: Record<ConformanceFault, Omit<FakeEc2Fault, 'times'>> = {
    transient: { kind: 'error', status: 500, code: 'InternalError', message: 'An internal error has occurred' },
    fatal: {
      kind: 'error',
      status: 403,
      code: 'UnauthorizedOperation',
      message: 'You are not authorized to perform this operation.',
    },
    // EC2 throttles with 503 and no header: the assigner backs off.
    'rate-limit': { kind: 'error', status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' },
  };
  return {
    assigner,
    holder: () => fake.holder(IP),
    moveAway: () => fake.moveIp(IP, 'i-00000000000000002'),
    requestCount: () => fake.apiRequests().length,
    mutationCount: () => fake.apiRequests().filter((r) => r.action === 'AssociateAddress').length,
    onNextRequest(listener) {
      const seen = fake.requests.length;
      void fake.waitForRequest((r) => r.seq > seen && r.kind === 'api').then(listener);
    },
    inject(fault, times) {
      fake.inject({ ...faults[fault], times });
    },
    secrets: [CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken],
    async close() {
      await fake.close();
      assertNoEc2Violations(fake);
    },
  };
}

describeAssignerConformance('ElasticIpAssigner', () => elasticIpHarness(), { rateLimit: true });
