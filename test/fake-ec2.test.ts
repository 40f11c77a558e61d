import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { AwsV4Signer } from 'aws4fetch';
import { FakeEc2, type FakeEc2Options } from '../src/testing/fake-ec2.ts';
import { createEc2ResponseValidator } from './support/ec2-validator.ts';
import { assertNoEc2Violations, startValidatedEc2 } from './support/fake-ec2.ts';

const KEY = FakeEc2.DEFAULT_CREDENTIALS;
const IP = '198.51.100.10';

async function setup(t: TestContext, options: FakeEc2Options = {}, strict = true): Promise<FakeEc2> {
  const fake = await startValidatedEc2(options);
  t.after(async () => {
    if (strict) assertNoEc2Violations(fake);
    await fake.close();
  });
  return fake;
}

interface SignOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  region?: string;
  datetime?: string;
  tamper?: (body: string) => string;
}

async function ec2(
  fake: FakeEc2,
  params: Record<string, string>,
  options: SignOptions = {},
): Promise<{ status: number; xml: string }> {
  const body = new URLSearchParams(params).toString();
  const signed = await new AwsV4Signer({
    method: 'POST',
    url: `${fake.url}/`,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
    accessKeyId: options.accessKeyId ?? KEY.accessKeyId,
    secretAccessKey: options.secretAccessKey ?? KEY.secretAccessKey,
    ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    service: 'ec2',
    region: options.region ?? 'us-east-1',
    ...(options.datetime === undefined ? {} : { datetime: options.datetime }),
  }).sign();
  const response = await fetch(signed.url, {
    method: 'POST',
    headers: signed.headers,
    body: options.tamper?.(body) ?? body,
  });
  return { status: response.status, xml: await response.text() };
}

const describeIp = { Action: 'DescribeAddresses', Version: '2016-11-15', 'PublicIp.1': IP };
const code = (xml: string): string | undefined => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('FakeEc2', { timeout: 10_000 }, () => {
  it('describes and associates addresses with EC2 XML; Resource.AlreadyAssociated without AllowReassociation', async (t) => {
    const fake = await setup(t);
    const first = await ec2(fake, describeIp);
    assert.equal(first.status, 200);
    assert.match(first.xml, /<DescribeAddressesResponse xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2016-11-15\/">/);
    assert.match(
      first.xml,
      new RegExp(`<publicIp>${IP}</publicIp><allocationId>${fake.allocationId(IP)}</allocationId>`),
    );
    assert.doesNotMatch(first.xml, /<instanceId>/);
    const associate = {
      Action: 'AssociateAddress',
      Version: '2016-11-15',
      AllocationId: fake.allocationId(IP),
      InstanceId: 'i-00000000000000002',
    };
    const moved = await ec2(fake, associate);
    assert.equal(moved.status, 200);
    assert.match(moved.xml, /<return>true<\/return><associationId>eipassoc-[0-9a-f]{17}<\/associationId>/);
    assert.equal(fake.holder(IP), 'i-00000000000000002');
    const taken = await ec2(fake, { ...associate, InstanceId: 'i-00000000000000003' });
    assert.equal(taken.status, 400);
    assert.equal(code(taken.xml), 'Resource.AlreadyAssociated');
    assert.match(taken.xml, /<RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
    const reassociated = await ec2(fake, {
      ...associate,
      InstanceId: 'i-00000000000000003',
      AllowReassociation: 'true',
    });
    assert.equal(reassociated.status, 200);
    assert.equal(fake.holder(IP), 'i-00000000000000003');
    const byAllocation = await ec2(fake, {
      Action: 'DescribeAddresses',
      Version: '2016-11-15',
      'AllocationId.1': fake.allocationId(IP),
    });
    assert.match(byAllocation.xml, /<instanceId>i-00000000000000003<\/instanceId>/);
    const filtered = await ec2(fake, {
      Action: 'DescribeAddresses',
      Version: '2016-11-15',
      'Filter.1.Name': 'instance-id',
      'Filter.1.Value.1': 'i-00000000000000001',
    });
    assert.match(filtered.xml, /<addressesSet><\/addressesSet>/);
    assert.ok(fake.apiRequests().every((r) => r.authenticated));
  });

  it('answers the not-found, permission and throttling errors with their codes and statuses', async (t) => {
    const fake = await setup(t, { rateLimit: { capacity: 10, refillPerSecond: 0.001 } });
    const associate = { Action: 'AssociateAddress', Version: '2016-11-15' };
    const ME = 'i-00000000000000001';
    const ENI = 'eni-00000000000000001';
    const cases: Array<[Record<string, string>, number, string]> = [
      [
        { Action: 'DescribeAddresses', Version: '2016-11-15', 'PublicIp.1': '192.0.2.1' },
        400,
        'InvalidAddress.NotFound',
      ],
      [
        { Action: 'DescribeAddresses', Version: '2016-11-15', 'AllocationId.1': 'eipalloc-00000000000000000' },
        400,
        'InvalidAllocationID.NotFound',
      ],
      [
        {
          Action: 'AssociateAddress',
          Version: '2016-11-15',
          AllocationId: 'eipalloc-00000000000000000',
          InstanceId: 'i-00000000000000001',
        },
        400,
        'InvalidAllocationID.NotFound',
      ],
      [
        {
          Action: 'AssociateAddress',
          Version: '2016-11-15',
          AllocationId: fake.allocationId(IP),
          InstanceId: 'i-0000000000000000f',
        },
        400,
        'InvalidInstanceID.NotFound',
      ],
      [{ ...associate, AllocationId: fake.allocationId(IP) }, 400, 'MissingParameter'],
      [
        { ...associate, AllocationId: fake.allocationId(IP), InstanceId: ME, NetworkInterfaceId: ENI },
        400,
        'InvalidParameterCombination',
      ],
      [
        { ...associate, AllocationId: fake.allocationId(IP), NetworkInterfaceId: 'eni-0000000000000000f' },
        400,
        'InvalidNetworkInterfaceID.NotFound',
      ],
      [
        { ...associate, AllocationId: fake.allocationId(IP), NetworkInterfaceId: ENI, PrivateIpAddress: '10.9.9.9' },
        400,
        'InvalidParameterValue',
      ],
      [
        { Action: 'AssociateAddress', Version: '2016-11-15', InstanceId: 'i-00000000000000001' },
        400,
        'MissingParameter',
      ],
    ];
    for (const [params, status, expected] of cases) {
      const answer = await ec2(fake, params);
      assert.equal(answer.status, status, expected);
      assert.equal(code(answer.xml), expected);
    }
    fake.deny('AssociateAddress');
    const denied = await ec2(fake, {
      Action: 'AssociateAddress',
      Version: '2016-11-15',
      AllocationId: fake.allocationId(IP),
      InstanceId: 'i-00000000000000001',
    });
    assert.equal(denied.status, 403);
    assert.equal(code(denied.xml), 'UnauthorizedOperation');
    const throttled = await ec2(fake, describeIp);
    assert.equal(throttled.status, 503);
    assert.equal(code(throttled.xml), 'RequestLimitExceeded');
  });

  it('verifies Signature V4: a tampered body, a wrong secret, region or token, an unknown key, a stale date all fail', async (t) => {
    const temporary = {
      accessKeyId: 'ASIAFAKE0000EXAMPLE2',
      secretAccessKey: 'temp-secret',
      sessionToken: 'temp-session-token',
    };
    const fake = await setup(t, { credentials: [KEY, temporary] });
    assert.equal((await ec2(fake, describeIp)).status, 200);
    const failures: Array<[SignOptions, number, string]> = [
      [{ tamper: (body) => body.replace('198.51.100.10', '198.51.100.11') }, 403, 'SignatureDoesNotMatch'],
      [{ secretAccessKey: `${KEY.secretAccessKey}x` }, 403, 'SignatureDoesNotMatch'],
      [{ accessKeyId: 'AKIAUNKNOWN000000000' }, 401, 'AuthFailure'],
      [{ region: 'eu-west-1' }, 401, 'AuthFailure'],
      [{ datetime: '20200101T000000Z' }, 400, 'RequestExpired'],
      [{ ...temporary, sessionToken: undefined } as SignOptions, 401, 'AuthFailure'],
      [{ ...temporary, sessionToken: 'other-token' }, 401, 'AuthFailure'],
    ];
    for (const [options, status, expected] of failures) {
      const answer = await ec2(fake, describeIp, options);
      assert.equal(answer.status, status, JSON.stringify({ ...options, tamper: undefined }));
      assert.equal(code(answer.xml), expected);
    }
    assert.equal((await ec2(fake, describeIp, temporary)).status, 200);
    fake.expireCredentials(temporary.accessKeyId);
    assert.equal(code((await ec2(fake, describeIp, temporary)).xml), 'RequestExpired');
    const unsigned = await fetch(`${fake.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(describeIp).toString(),
    });
    assert.equal(unsigned.status, 401);
    assert.equal(code(await unsigned.text()), 'AuthFailure');
    assert.equal(fake.apiRequests().filter((r) => r.authenticated).length, 2);
    assert.ok(fake.requests.every((r) => !JSON.stringify(r).includes(KEY.secretAccessKey)));
  });

  it('rejects requests the API description does not allow, and records them as violations', async (t) => {
    const fake = await setup(t, {}, false);
    const bad: Array<Record<string, string>> = [
      { Action: 'TerminateInstances', Version: '2016-11-15', 'InstanceId.1': 'i-00000000000000001' },
      { Action: 'DescribeAddresses', Version: '2015-10-01', 'PublicIp.1': IP },
      { Action: 'DescribeAddresses', Version: '2016-11-15', PublicIp: IP },
      { Action: 'DescribeAddresses', Version: '2016-11-15', 'PublicIp.2': IP },
      { Action: 'DescribeAddresses', Version: '2016-11-15', 'PublicIps.1': IP },
      {
        Action: 'AssociateAddress',
        Version: '2016-11-15',
        AllocationId: 'x',
        InstanceId: 'i-1',
        allowReassociation: 'true',
      },
      {
        Action: 'AssociateAddress',
        Version: '2016-11-15',
        AllocationId: 'x',
        InstanceId: 'i-1',
        AllowReassociation: 'yes',
      },
      { Action: 'DisassociateAddress', Version: '2016-11-15', AssociationId: 'eipassoc-1', Bogus: '1' },
    ];
    for (const params of bad) {
      const before = fake.violations.length;
      const answer = await ec2(fake, params);
      assert.equal(answer.status, 400, JSON.stringify(params));
      assert.ok(fake.violations.length > before, `${JSON.stringify(params)} is a violation`);
    }
    const json = await fetch(`${fake.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(json.status, 400);
  });

  it('its reply checker catches replies EC2 would not send (so a clean run means something)', () => {
    const check = createEc2ResponseValidator();
    const request = (action: string) => ({
      method: 'POST',
      pathname: '/',
      headers: {},
      params: new URLSearchParams({ Action: action, Version: '2016-11-15' }),
      rawBody: '',
    });
    const ns = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"';
    const good = `<DescribeAddressesResponse ${ns}><requestId>r</requestId><addressesSet><item><publicIp>${IP}</publicIp><domain>vpc</domain></item></addressesSet></DescribeAddressesResponse>`;
    assert.deepEqual(check(request('DescribeAddresses'), 200, good), []);
    const bad: Array<[string, number, string]> = [
      [
        'DescribeAddresses',
        200,
        good
          .replace('DescribeAddressesResponse', 'DescribeAddressResponse')
          .replace('DescribeAddressesResponse', 'DescribeAddressResponse'),
      ],
      ['DescribeAddresses', 200, good.replace(ns, 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15"')],
      ['DescribeAddresses', 200, good.replace('<publicIp>', '<instanceID>i-1</instanceID><publicIp>')],
      ['DescribeAddresses', 200, good.replace('<domain>vpc</domain>', '<domain>classic</domain>')],
      ['DescribeAddresses', 200, good.replace('<item>', '<member>').replace('</item>', '</member>')],
      [
        'AssociateAddress',
        200,
        `<AssociateAddressResponse ${ns}><return>true</return><associationId>a</associationId></AssociateAddressResponse>`,
      ],
      [
        'AssociateAddress',
        400,
        '<Response><Errors><Error><Code>X</Code><Message>m</Message></Error></Errors></Response>',
      ],
      ['AssociateAddress', 400, '<ErrorResponse><Error><Code>X</Code></Error><RequestID>r</RequestID></ErrorResponse>'],
    ];
    for (const [action, status, xml] of bad) {
      assert.ok(check(request(action), status, xml).length > 0, xml);
    }
  });

  it('injects errors and dropped connections per action', async (t) => {
    const fake = await setup(t);
    fake.inject({ action: 'DescribeAddresses', kind: 'error', status: 503, code: 'Unavailable', times: 2 });
    fake.inject({ action: 'DescribeAddresses', kind: 'drop' });
    assert.equal(code((await ec2(fake, describeIp)).xml), 'Unavailable');
    assert.equal(code((await ec2(fake, describeIp)).xml), 'Unavailable');
    await assert.rejects(ec2(fake, describeIp));
    assert.equal((await ec2(fake, describeIp)).status, 200);
    assert.deepEqual(
      fake.apiRequests().map((r) => r.outcome),
      [503, 503, 'dropped', 200],
    );
  });

  it('serves IMDSv2: a PUT token, then GETs that carry it; none without it; a role document', async (t) => {
    const role = {
      name: 'leader-ip-role',
      credentials: { accessKeyId: 'ASIAROLE0000EXAMPLE3', secretAccessKey: 'role-secret', sessionToken: 'role-token' },
    };
    const fake = await setup(t, { metadata: { instanceId: 'i-00000000000000002', region: 'us-east-1', role } });
    assert.equal((await fetch(`${fake.url}/latest/meta-data/instance-id`)).status, 401, 'IMDSv1 is refused');
    assert.equal((await fetch(`${fake.url}/latest/api/token`, { method: 'PUT' })).status, 400, 'a TTL is required');
    const proxied = await fetch(`${fake.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '203.0.113.1' },
    });
    assert.equal(proxied.status, 403);
    const tokenResponse = await fetch(`${fake.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
    });
    const token = await tokenResponse.text();
    const get = async (path: string) => {
      const response = await fetch(`${fake.url}/latest/meta-data/${path}`, {
        headers: { 'x-aws-ec2-metadata-token': token },
      });
      return { status: response.status, text: await response.text() };
    };
    assert.deepEqual(await get('instance-id'), { status: 200, text: 'i-00000000000000002' });
    assert.deepEqual(await get('placement/region'), { status: 200, text: 'us-east-1' });
    assert.deepEqual(await get('iam/security-credentials/'), { status: 200, text: 'leader-ip-role' });
    const document = JSON.parse((await get('iam/security-credentials/leader-ip-role')).text) as Record<string, string>;
    assert.equal(document.Code, 'Success');
    assert.equal(document.AccessKeyId, role.credentials.accessKeyId);
    assert.equal(document.Token, 'role-token');
    assert.ok(Date.parse(document.Expiration!) > Date.now());
    assert.equal((await get('iam/security-credentials/other')).status, 404);
    fake.expireMetadataTokens();
    assert.equal((await get('instance-id')).status, 401);
    fake.metadata = null;
    const off = await fetch(`${fake.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
    });
    assert.equal(off.status, 403);
    assert.equal(fake.apiRequests().length, 0);
    assert.ok(fake.requests.every((r) => !JSON.stringify(r).includes(token)));
  });
});
