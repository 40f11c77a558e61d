import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import { StaleTermError } from '../src/assigners/floating-ip-assigner.ts';
import {
  AwsApiError,
  AwsCredentialsError,
  AwsMetadataError,
  AwsNetworkError,
  ElasticIpAssigner,
  type ElasticIpAssignerOptions,
} from '../src/aws.ts';
import { AbortError, ConfigError } from '../src/errors.ts';
import { FakeEc2, type FakeEc2Options, type FakeEc2RequestRecord } from '../src/testing/fake-ec2.ts';
import { assertNoEc2Violations, startValidatedEc2 } from './support/fake-ec2.ts';

const IP = '198.51.100.10';
const ME = 'i-00000000000000001';
const OTHER = 'i-00000000000000002';
const KEY = FakeEc2.DEFAULT_CREDENTIALS;
const ROLE = {
  name: 'leader-ip-failover',
  credentials: {
    accessKeyId: 'ASIAROLE0000EXAMPLE3',
    secretAccessKey: 'roleSecret/0000000000000000000000EXAMPLE3',
    sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLEroleSessionToken0000000000000000000000000000000000000000',
  },
};

async function setup(
  t: TestContext,
  fakeOptions: FakeEc2Options = {},
): Promise<{ fake: FakeEc2; make: (o?: Partial<ElasticIpAssignerOptions>) => ElasticIpAssigner }> {
  const fake = await startValidatedEc2(fakeOptions);
  t.after(async () => {
    assertNoEc2Violations(fake);
    await fake.close();
  });
  const make = (overrides: Partial<ElasticIpAssignerOptions> = {}): ElasticIpAssigner =>
    new ElasticIpAssigner({
      ip: IP,
      region: 'us-east-1',
      instanceId: ME,
      credentials: { ...KEY },
      endpoint: fake.url,
      metadataUrl: fake.url,
      env: {},
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
      ...overrides,
    });
  return { fake, make };
}

const line = (r: FakeEc2RequestRecord): string =>
  r.kind === 'api'
    ? `${r.action} ${Object.entries(r.params)
        .map(([k, v]) => `${k}=${v}`)
        .join('&')} ${r.outcome}`
    : `${r.method} ${r.path} ${r.outcome}`;

describe('ElasticIpAssigner', { timeout: 15_000 }, () => {
  it('assigns with DescribeAddresses then AssociateAddress(AllowReassociation): 2 requests; then 1 when already here', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, OTHER);
    const assigner = make();
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP), ME);
    const alloc = fake.allocationId(IP);
    assert.deepEqual(fake.requests.map(line), [
      `DescribeAddresses PublicIp.1=${IP} 200`,
      `AssociateAddress AllocationId=${alloc}&InstanceId=${ME}&AllowReassociation=true 200`,
    ]);
    await assigner.assign({ term: 1 });
    assert.equal(line(fake.requests[2]!), `DescribeAddresses AllocationId.1=${alloc} 200`);
    assert.equal(fake.requests.length, 3);
    assert.ok(fake.requests.every((r) => r.authenticated && r.accessKeyId === KEY.accessKeyId));
  });

  it('associates with a chosen network interface and private address, and counts only that as here', async (t) => {
    const { fake, make } = await setup(t);
    const eni = 'eni-00000000000000001';
    const assigner = make({ networkInterfaceId: eni, privateIpAddress: '10.0.1.5' });
    fake.moveIp(IP, OTHER);
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP), ME);
    const alloc = fake.allocationId(IP);
    assert.equal(
      line(fake.requests[1]!),
      `AssociateAddress AllocationId=${alloc}&NetworkInterfaceId=${eni}&PrivateIpAddress=10.0.1.5&AllowReassociation=true 200`,
    );
    await assigner.assign({ term: 1 });
    assert.equal(fake.requests.length, 3, 'already on that interface and address: no association');
    // On this instance, but on its primary address: not where it was asked to be.
    fake.moveIp(IP, ME);
    await assigner.assign({ term: 2 });
    assert.equal(fake.requests.filter((r) => r.action === 'AssociateAddress').length, 2);
    assert.equal(await assigner.holder(), ME);
    const wrong = await make({ networkInterfaceId: 'eni-0000000000000000f' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(
      wrong instanceof AwsApiError && wrong.awsCode === 'InvalidNetworkInterfaceID.NotFound' && !wrong.retryable,
    );
  });

  it('holder() and self() speak instance IDs; holder() is null when unassociated', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    assert.equal(await assigner.holder(), null);
    fake.moveIp(IP, OTHER);
    assert.equal(await assigner.holder(), OTHER);
    assert.equal(await assigner.self(), ME);
  });

  it('reads the instance ID and region from IMDSv2 (token PUT, then GETs with it), once', async (t) => {
    const { fake, make } = await setup(t, { metadata: { instanceId: 'i-00000000000000003', region: 'us-east-1' } });
    const assigner = make({ instanceId: undefined, region: undefined });
    assert.equal(await assigner.self(), 'i-00000000000000003');
    await assigner.assign();
    assert.equal(fake.holder(IP), 'i-00000000000000003');
    await assigner.assign();
    const metadata = fake.requests.filter((r) => r.kind === 'metadata').map(line);
    assert.deepEqual(metadata, [
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/instance-id 200',
      'GET /latest/meta-data/placement/region 200',
    ]);
  });

  it('an aborted caller does not fail a concurrent one sharing the same IMDS reads', async (t) => {
    const { fake, make } = await setup(t, {
      credentials: [ROLE.credentials],
      metadata: { instanceId: ME, region: 'us-east-1', role: ROLE },
    });
    const assigner = make({ instanceId: undefined, region: undefined, credentials: undefined });
    const controller = new AbortController();
    const aborted = assigner.assign({ signal: controller.signal });
    const abortedSelf = assigner.self({ signal: controller.signal });
    const otherSelf = assigner.self();
    const other = assigner.holder();
    // Abort once the shared IMDS reads are under way.
    await fake.waitForRequest((r) => r.kind === 'metadata');
    controller.abort();
    await assert.rejects(aborted, AbortError);
    await assert.rejects(abortedSelf, AbortError);
    assert.equal(await otherSelf, ME);
    assert.equal(await other, null);
    assert.equal(await assigner.self(), ME);
  });

  it('fetches a new IMDS token when the old one is refused', async (t) => {
    const { fake, make } = await setup(t, {
      credentials: [KEY, ROLE.credentials],
      metadata: { instanceId: ME, region: 'us-east-1', role: ROLE },
    });
    const assigner = make({ credentials: undefined, instanceId: undefined });
    assert.equal(await assigner.self(), ME);
    fake.expireMetadataTokens();
    await assigner.assign();
    const metadata = fake.requests.filter((r) => r.kind === 'metadata').map(line);
    assert.deepEqual(metadata.slice(2, 5), [
      'GET /latest/meta-data/iam/security-credentials/ 401',
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/iam/security-credentials/ 200',
    ]);
  });

  it('takes credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and the region from AWS_REGION', async (t) => {
    const temporary = {
      accessKeyId: 'ASIATEMP0000EXAMPLE4',
      secretAccessKey: 'tempSecret0000EXAMPLE4',
      sessionToken: 'tempSessionToken0000EXAMPLE4',
    };
    const { fake, make } = await setup(t, { credentials: [temporary] });
    const assigner = make({
      credentials: undefined,
      region: undefined,
      env: {
        AWS_ACCESS_KEY_ID: temporary.accessKeyId,
        AWS_SECRET_ACCESS_KEY: temporary.secretAccessKey,
        AWS_SESSION_TOKEN: temporary.sessionToken,
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
      },
    });
    assert.equal(assigner.credentialSource, 'environment');
    await assigner.assign();
    assert.equal(fake.holder(IP), ME);
    assert.ok(
      fake.requests.every((r) => r.kind === 'api' && r.accessKeyId === temporary.accessKeyId && r.authenticated),
    );
    // AWS_DEFAULT_REGION is the fallback: signed for eu-west-1, the fake (us-east-1) refuses it.
    const fallback = make({
      credentials: undefined,
      region: undefined,
      env: { ...KEY_ENV, AWS_DEFAULT_REGION: 'eu-west-1' },
    });
    const error = await fallback.assign().catch((e: unknown) => e);
    assert.ok(error instanceof AwsApiError && error.awsCode === 'AuthFailure', String(error));
  });

  it('takes the endpoints from AWS_ENDPOINT_URL_EC2 (else AWS_ENDPOINT_URL) and AWS_EC2_METADATA_SERVICE_ENDPOINT', async (t) => {
    const { fake, make } = await setup(t, { metadata: { instanceId: 'i-00000000000000003', region: 'us-east-1' } });
    const unreachable = 'http://127.0.0.1:9';
    const fromEnv = (env: Record<string, string>) =>
      make({ endpoint: undefined, metadataUrl: undefined, instanceId: undefined, env });
    await fromEnv({
      AWS_ENDPOINT_URL_EC2: fake.url,
      AWS_ENDPOINT_URL: unreachable,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `${fake.url}/`,
    }).assign();
    assert.equal(fake.holder(IP), 'i-00000000000000003');
    fake.moveIp(IP, OTHER);
    assert.equal(
      await fromEnv({ AWS_ENDPOINT_URL: fake.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: fake.url }).holder(),
      OTHER,
    );
    assert.ok(fake.requests.filter((r) => r.kind === 'metadata').length >= 2);
  });

  it('defaults to the regional endpoint (.com.cn in China), signed for the region (a recording fetch, no network)', async () => {
    const seen: Array<{ url: string; authorization: string | null }> = [];
    const recording: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      throw new TypeError('fetch failed');
    };
    for (const region of ['eu-west-1', 'cn-north-1']) {
      const assigner = new ElasticIpAssigner({
        ip: IP,
        region,
        instanceId: ME,
        credentials: { ...KEY },
        env: {},
        fetch: recording,
        retry: { maxAttempts: 1 },
      });
      await assert.rejects(assigner.holder(), AwsNetworkError);
    }
    assert.deepEqual(
      seen.map((s) => s.url),
      ['https://ec2.eu-west-1.amazonaws.com/', 'https://ec2.cn-north-1.amazonaws.com.cn/'],
    );
    assert.match(seen[1]!.authorization ?? '', /Credential=AKIAFAKE0000EXAMPLE1\/\d{8}\/cn-north-1\/ec2\/aws4_request/);
  });

  it('uses the instance role through IMDSv2 when no key is given, and fetches it again when EC2 says it expired', async (t) => {
    const { fake, make } = await setup(t, {
      credentials: [ROLE.credentials],
      metadata: { instanceId: ME, region: 'us-east-1', role: ROLE },
    });
    const assigner = make({ credentials: undefined });
    assert.equal(assigner.credentialSource, 'instance-role');
    await assigner.assign({ term: 1 });
    assert.equal(fake.holder(IP), ME);
    assert.ok(fake.apiRequests().every((r) => r.accessKeyId === ROLE.credentials.accessKeyId && r.authenticated));
    // IMDS rotates the role's keys; EC2 refuses the old ones.
    const rotated = {
      accessKeyId: 'ASIAROLE0000EXAMPLE5',
      secretAccessKey: 'rotatedSecret0000EXAMPLE5',
      sessionToken: 'rotatedToken0000EXAMPLE5',
    };
    fake.metadata = { instanceId: ME, region: 'us-east-1', role: { name: ROLE.name, credentials: rotated } };
    fake.acceptRoleCredentials();
    fake.expireCredentials(ROLE.credentials.accessKeyId);
    fake.moveIp(IP, OTHER);
    await assigner.assign({ term: 2 });
    assert.equal(fake.holder(IP), ME);
    const api = fake.apiRequests();
    const expired = api.find((r) => r.errorCode === 'RequestExpired');
    assert.ok(expired, 'the old credentials were refused once');
    assert.ok(api.filter((r) => r.seq > expired.seq).every((r) => r.accessKeyId === rotated.accessKeyId));
  });

  it('renews role credentials before they expire', async (t) => {
    const soon = { ...ROLE, expiration: new Date(Date.now() + 60_000).toISOString() };
    const { fake, make } = await setup(t, {
      credentials: [ROLE.credentials],
      metadata: { instanceId: ME, region: 'us-east-1', role: soon },
    });
    const assigner = make({ credentials: undefined });
    await assigner.holder();
    await assigner.holder();
    const reads = fake.requests.filter((r) => r.path === `/latest/meta-data/iam/security-credentials/${ROLE.name}`);
    assert.equal(reads.length, 2, 'credentials within 5 minutes of expiry are fetched again');
  });

  it('fails clearly without credentials: none at all, a half pair in the environment, no instance role', async (t) => {
    const { make } = await setup(t, { metadata: { instanceId: ME, region: 'us-east-1' } });
    assert.throws(
      () => make({ credentials: undefined, env: { AWS_EC2_METADATA_DISABLED: 'true' } }),
      (e: unknown) => e instanceof AwsCredentialsError && e.code === 'ERR_AWS_CREDENTIALS',
    );
    assert.throws(
      () => make({ credentials: undefined, env: { AWS_ACCESS_KEY_ID: KEY.accessKeyId } }),
      (e: unknown) => e instanceof ConfigError && e.field === 'env.AWS_SECRET_ACCESS_KEY',
    );
    const error = await make({ credentials: undefined })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof AwsCredentialsError, String(error));
    assert.match(error.message, /instance role/);
    assert.equal(error.retryable, false);
  });

  it('fails with AwsMetadataError when IMDS is unreachable or off, and needs no IMDS when everything is given', async (t) => {
    const { fake, make } = await setup(t);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await make({
      instanceId: undefined,
      metadataUrl: `http://127.0.0.1:${port}`,
      metadataTimeoutMs: 200,
    })
      .self()
      .catch((e: unknown) => e);
    assert.ok(unreachable instanceof AwsMetadataError, String(unreachable));
    assert.equal(unreachable.path, '/latest/meta-data/instance-id');
    fake.metadata = null;
    const off = await make({ instanceId: undefined })
      .self()
      .catch((e: unknown) => e);
    assert.ok(off instanceof AwsMetadataError);
    assert.match(off.message, /403/);
    await make().assign();
    assert.equal(fake.requests.filter((r) => r.kind === 'metadata' && r.seq > 1).length, 0);
  });

  it('backs off and retries RequestLimitExceeded (503), then succeeds', async (t) => {
    const { fake, make } = await setup(t, { rateLimit: { capacity: 1, refillPerSecond: 20 } });
    fake.moveIp(IP, OTHER);
    await make({ retry: { baseDelayMs: 40, maxDelayMs: 200 } }).assign();
    assert.equal(fake.holder(IP), ME);
    const throttled = fake.requests.filter((r) => r.errorCode === 'RequestLimitExceeded');
    assert.ok(throttled.length >= 1, fake.requests.map(line).join('\n'));
    const after = fake.requests.find((r) => r.seq === throttled[0]!.seq + 1)!;
    assert.ok(after.at - throttled[0]!.at >= 15, 'waited before retrying');
  });

  it('gives up on persistent throttling with a retryable ERR_AWS_THROTTLED carrying code, message and RequestID', async (t) => {
    const { fake, make } = await setup(t);
    fake.inject({
      kind: 'error',
      status: 503,
      code: 'RequestLimitExceeded',
      message: 'Request limit exceeded.',
      times: 3,
    });
    const error = await make({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof AwsApiError);
    assert.equal(error.code, 'ERR_AWS_THROTTLED');
    assert.equal(error.status, 503);
    assert.equal(error.awsCode, 'RequestLimitExceeded');
    assert.equal(error.apiMessage, 'Request limit exceeded.');
    assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(error.retryable, true);
    assert.equal(fake.requests.length, 3);
  });

  it('retries 5xx and dropped connections', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, OTHER);
    fake.inject({ action: 'DescribeAddresses', kind: 'error', status: 500, code: 'InternalError' });
    fake.inject({ action: 'AssociateAddress', kind: 'drop' });
    await make().assign();
    assert.equal(fake.holder(IP), ME);
    assert.deepEqual(
      fake.requests.map((r) => `${r.action} ${r.outcome}`),
      ['DescribeAddresses 500', 'DescribeAddresses 200', 'AssociateAddress dropped', 'AssociateAddress 200'],
    );
    fake.inject({ kind: 'drop', times: 5 });
    const error = await make({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } })
      .holder()
      .catch((e: unknown) => e);
    assert.ok(error instanceof AwsNetworkError && error.retryable && !error.timedOut);
  });

  it('fails fast on UnauthorizedOperation, AuthFailure and SignatureDoesNotMatch', async (t) => {
    const { fake, make } = await setup(t);
    fake.moveIp(IP, OTHER);
    fake.deny('AssociateAddress');
    const denied = await make()
      .assign()
      .catch((e: unknown) => e);
    assert.ok(denied instanceof AwsApiError);
    assert.equal(denied.code, 'ERR_AWS_UNAUTHORIZED_OPERATION');
    assert.equal(denied.status, 403);
    assert.equal(denied.action, 'AssociateAddress');
    assert.equal(denied.retryable, false);
    assert.equal(fake.requests.filter((r) => r.action === 'AssociateAddress').length, 1);
    fake.deny('AssociateAddress', false);

    const before = fake.requests.length;
    const unknownKey = await make({ credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(unknownKey instanceof AwsApiError);
    assert.equal(unknownKey.code, 'ERR_AWS_AUTH');
    assert.equal(unknownKey.awsCode, 'AuthFailure');
    assert.equal(unknownKey.status, 401);
    assert.ok(unknownKey.requestId);
    const wrongSecret = await make({ credentials: { ...KEY, secretAccessKey: 'wrong' } })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(wrongSecret instanceof AwsApiError);
    assert.equal(wrongSecret.awsCode, 'SignatureDoesNotMatch');
    assert.equal(wrongSecret.code, 'ERR_AWS_AUTH');
    assert.equal(fake.requests.length - before, 2, 'one request each, no retry');
  });

  it('fails fast on InvalidAllocationID.NotFound and looks the address up by IP again next time', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    await assigner.assign();
    fake.moveIp(IP, OTHER);
    fake.inject({
      action: 'AssociateAddress',
      kind: 'error',
      status: 400,
      code: 'InvalidAllocationID.NotFound',
      message: "The allocation ID 'x' does not exist",
    });
    const error = await assigner.assign().catch((e: unknown) => e);
    assert.ok(error instanceof AwsApiError);
    assert.equal(error.code, 'ERR_AWS_NOT_FOUND');
    assert.equal(error.awsCode, 'InvalidAllocationID.NotFound');
    assert.equal(error.retryable, false);
    await assigner.assign();
    assert.equal(fake.holder(IP), ME);
    const reads = fake.requests.filter((r) => r.action === 'DescribeAddresses').map((r) => Object.keys(r.params)[0]);
    assert.deepEqual(reads, ['PublicIp.1', 'AllocationId.1', 'PublicIp.1']);
    const unknown = await make({ ip: '192.0.2.99' })
      .holder()
      .catch((e: unknown) => e);
    assert.ok(unknown instanceof AwsApiError && unknown.awsCode === 'InvalidAddress.NotFound' && !unknown.retryable);
  });

  it('fails fast on InvalidInstanceID.NotFound (a wrong instanceId)', async (t) => {
    const { make } = await setup(t);
    const error = await make({ instanceId: 'i-0000000000000000f' })
      .assign()
      .catch((e: unknown) => e);
    assert.ok(error instanceof AwsApiError && error.awsCode === 'InvalidInstanceID.NotFound' && !error.retryable);
  });

  it('fences terms, honours abort and stillLeader() before every request', async (t) => {
    const { fake, make } = await setup(t);
    const assigner = make();
    await assigner.assign({ term: 5 });
    await assert.rejects(assigner.assign({ term: 4 }), StaleTermError);
    fake.moveIp(IP, OTHER);
    const count = fake.requests.length;
    // Leadership ends once the describe has gone out.
    await assert.rejects(
      assigner.assign({ term: 6, stillLeader: () => fake.requests.length === count }),
      (e: unknown) => e instanceof AbortError,
    );
    assert.equal(fake.requests.length - count, 1, 'the describe went out, the associate did not');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(assigner.assign({ signal: controller.signal }), AbortError);
    assert.equal(fake.requests.length - count, 1);
    assert.equal(fake.holder(IP), OTHER);
  });

  it('never exposes secrets: errors (message, stack, JSON, inspect), the instance, debug output', async (t) => {
    const { fake, make } = await setup(t, {
      credentials: [KEY, ROLE.credentials],
      metadata: { instanceId: ME, region: 'us-east-1', role: ROLE },
    });
    const captured: string[] = [];
    const previousLog = createDebug.log;
    const previousNamespaces = createDebug.disable();
    createDebug.log = (...args: unknown[]) => {
      captured.push(format(...args));
    };
    createDebug.enable('leader-ip:*');
    t.after(() => {
      createDebug.log = previousLog;
      createDebug.disable();
      if (previousNamespaces) createDebug.enable(previousNamespaces);
    });
    const errors: unknown[] = [];
    const catchAll = (p: Promise<unknown>): Promise<void> =>
      p.then(
        () => {},
        (e: unknown) => void errors.push(e),
      );
    const fromOptions = make({ credentials: { ...KEY, sessionToken: undefined } });
    const fromRole = make({ credentials: undefined });
    await fromOptions.assign({ term: 1 });
    fake.moveIp(IP, OTHER);
    await fromRole.assign({ term: 1 });
    fake.inject({ kind: 'error', status: 500, times: 10 });
    await catchAll(make({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }).assign());
    fake.inject({ kind: 'drop', times: 10 });
    await catchAll(make({ credentials: undefined, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }).assign());
    await catchAll(make({ credentials: { ...KEY, secretAccessKey: `${KEY.secretAccessKey}x` } }).assign());
    await catchAll(
      make({ credentials: { ...ROLE.credentials, sessionToken: `${ROLE.credentials.sessionToken}x` } }).assign(),
    );
    await catchAll(
      Promise.resolve().then(() => make({ credentials: { ...KEY, secretAccessKey: `${KEY.secretAccessKey} x` } })),
    );
    await catchAll(
      Promise.resolve().then(() =>
        make({
          env: { AWS_ACCESS_KEY_ID: KEY.secretAccessKey, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey },
          credentials: undefined,
        }),
      ),
    );
    assert.equal(errors.length, 6);
    const secrets = [KEY.secretAccessKey, ROLE.credentials.secretAccessKey, ROLE.credentials.sessionToken];
    const leaks = (text: string): boolean =>
      secrets.some((s) => text.includes(s) || text.includes(encodeURIComponent(s)));
    for (const error of errors) {
      assert.ok(error instanceof Error);
      for (const text of [
        error.message,
        String(error.stack),
        JSON.stringify(error),
        inspect(error, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      ]) {
        assert.ok(!leaks(text), `secret leaked by ${error.name}: ${text.slice(0, 300)}`);
      }
    }
    for (const assigner of [fromOptions, fromRole]) {
      for (const text of [
        JSON.stringify(assigner),
        inspect(assigner, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
        Object.keys(assigner).join(),
      ]) {
        assert.ok(!leaks(text), text);
      }
    }
    assert.ok(captured.length > 10, 'debug output was captured');
    assert.ok(captured.some((l) => l.includes('term 1')));
    assert.ok(captured.every((l) => !leaks(l)));
  });

  it('validates every option with a ConfigError naming the field', () => {
    const base: ElasticIpAssignerOptions = {
      ip: IP,
      region: 'us-east-1',
      instanceId: ME,
      credentials: { ...KEY },
      env: {},
    };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ip: undefined }, 'ip'],
      [{ ip: '2001:db8::1' }, 'ip'],
      [{ ip: 'eipalloc-1' }, 'ip'],
      [{ region: 'US-EAST-1' }, 'region'],
      [{ region: '' }, 'region'],
      [{ region: undefined, env: { AWS_REGION: 'mars' } }, 'env.AWS_REGION'],
      [{ instanceId: 'i-123' }, 'instanceId'],
      [{ instanceId: 42 }, 'instanceId'],
      [{ networkInterfaceId: 'eni-1' }, 'networkInterfaceId'],
      [{ privateIpAddress: '10.0.0.5' }, 'privateIpAddress'],
      [{ networkInterfaceId: 'eni-00000000000000001', privateIpAddress: 'fd00::1' }, 'privateIpAddress'],
      [{ credentials: 'key' }, 'credentials'],
      [{ credentials: { ...KEY, accessKeyId: 'lower-case' } }, 'credentials.accessKeyId'],
      [{ credentials: { ...KEY, secretAccessKey: '' } }, 'credentials.secretAccessKey'],
      [{ credentials: { ...KEY, sessionToken: 'has space' } }, 'credentials.sessionToken'],
      [{ credentials: { ...KEY, token: 'x' } }, 'credentials.token'],
      [{ credentials: undefined, env: { AWS_SECRET_ACCESS_KEY: 'x' } }, 'env.AWS_ACCESS_KEY_ID'],
      [{ endpoint: 'ftp://example.com' }, 'endpoint'],
      [{ endpoint: 'https://ec2.us-east-1.amazonaws.com/path' }, 'endpoint'],
      [{ metadataUrl: 'nope' }, 'metadataUrl'],
      [{ endpoint: undefined, env: { AWS_ENDPOINT_URL_EC2: 'ec2.local' } }, 'env.AWS_ENDPOINT_URL_EC2'],
      [{ endpoint: undefined, env: { AWS_ENDPOINT_URL: 'ftp://x' } }, 'env.AWS_ENDPOINT_URL'],
      [
        { metadataUrl: undefined, env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'x' } },
        'env.AWS_EC2_METADATA_SERVICE_ENDPOINT',
      ],
      [{ env: 'production' }, 'env'],
      [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
      [{ assignTimeoutMs: -1 }, 'assignTimeoutMs'],
      [{ metadataTimeoutMs: 1.5 }, 'metadataTimeoutMs'],
      [{ retry: 3 }, 'retry'],
      [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
      [{ retry: { baseDelayMs: 100, maxDelayMs: 50 } }, 'retry.maxDelayMs'],
      [{ retry: { tries: 3 } }, 'retry.tries'],
      [{ fetch: 'fetch' }, 'fetch'],
      [{ allocationId: 'eipalloc-1' }, 'allocationId'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => new ElasticIpAssigner({ ...base, ...patch } as ElasticIpAssignerOptions),
        (e: unknown) => e instanceof ConfigError && e.field === field && !e.message.includes(KEY.secretAccessKey),
        `${JSON.stringify(patch)} → ${field}`,
      );
    }
    assert.throws(() => new ElasticIpAssigner(undefined as unknown as ElasticIpAssignerOptions), ConfigError);
    assert.doesNotThrow(
      () => new ElasticIpAssigner({ ...base, region: undefined, credentials: undefined, metadataTimeoutMs: undefined }),
    );
  });
});

const KEY_ENV = { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };
