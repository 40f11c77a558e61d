import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { FakeHttpServer, type FakeReply, TokenBucket } from './fake-provider.ts';

/** An access key the fake accepts. */
export interface FakeAwsCredentials {
  /** The access key ID requests must be signed with. */
  accessKeyId: string;
  /** The secret key (never logged or recorded). */
  secretAccessKey: string;
  /** When set, requests must carry it as `x-amz-security-token` (temporary credentials). */
  sessionToken?: string | undefined;
}

/** An Elastic IP the fake knows. */
export interface FakeElasticIp {
  /** The Elastic IP address. */
  publicIp: string;
  /** Default: derived from the address, `eipalloc-…`. */
  allocationId?: string | undefined;
  /** Initial holder. Default: unassociated. */
  instanceId?: string | null | undefined;
}

/** The instance role IMDS serves. */
export interface FakeInstanceRole {
  /** The instance role's name, as the metadata service lists it. */
  name: string;
  /** The temporary credentials the metadata service hands out for it. */
  credentials: FakeAwsCredentials & {
    /** The session token that goes with temporary credentials. */
    sessionToken: string;
  };
  /** ISO instant of expiry. Default: one hour from when it is served. */
  expiration?: string | undefined;
}

/** What the fake IMDSv2 serves; `null` in {@link FakeEc2.metadata} makes the token PUT answer 403 (IMDS off). */
export interface FakeInstanceMetadata {
  /** What the metadata service reports as this instance's ID. */
  instanceId: string;
  /** What it reports as the region. */
  region: string;
  /** Default: no role (`iam/security-credentials/` answers 404). */
  role?: FakeInstanceRole | undefined;
}

/** One request as the fake received it. Neither the Authorization header nor any token is kept. */
export interface FakeEc2RequestRecord {
  /** 1, 2, 3… in arrival order. */
  seq: number;
  /** `performance.now()` at arrival. */
  at: number;
  /** A request to the EC2 API, or to the instance metadata service. */
  kind: 'api' | 'metadata';
  /** The HTTP method. */
  method: string;
  /** Path and query. */
  path: string;
  /** The Query API action (`Action=`), for API requests. */
  action: string | undefined;
  /** Form parameters other than `Action` and `Version`. */
  params: Record<string, string>;
  /** The access key ID in the signature's credential scope, if any. */
  accessKeyId: string | undefined;
  /** Whether the Signature V4 was recomputed and matched (API), or a valid session token was sent (metadata). */
  authenticated: boolean;
  /** Set once answered: the HTTP status, or `'dropped'` when the connection was destroyed instead. */
  outcome: number | 'dropped' | undefined;
  /** The EC2 error code answered, if any. */
  errorCode: string | undefined;
}

/** What a validator is shown of an API request. */
export interface FakeEc2ValidatedRequest {
  /** The HTTP method. */
  method: string;
  /** The path without query. */
  pathname: string;
  /** The request headers as received (they carry the signature: never log them). */
  headers: IncomingHttpHeaders;
  /** Every form parameter, `Action` and `Version` included. */
  params: URLSearchParams;
  /** The body as received. */
  rawBody: string;
}

/** Returns the problems with a request (empty when it is fine). */
export type FakeEc2RequestValidator = (request: FakeEc2ValidatedRequest) => string[];

/** Returns the problems with a reply the fake is about to send (empty when it is fine). */
export type FakeEc2ResponseValidator = (request: FakeEc2ValidatedRequest, status: number, xml: string) => string[];

/** Options of {@link FakeEc2.start}. */
export interface FakeEc2Options {
  /** The region requests must be signed for. Default `us-east-1`. */
  region?: string | undefined;
  /** Access keys accepted. Default: one key, {@link FakeEc2.DEFAULT_CREDENTIALS}. */
  credentials?: FakeAwsCredentials[] | undefined;
  /** Instances that exist. Default `i-00000000000000001`, `…2`, `…3`. */
  instances?: string[] | undefined;
  /** Default: `198.51.100.10`, unassociated. */
  addresses?: FakeElasticIp[] | undefined;
  /** What IMDSv2 serves. Default: instance `i-00000000000000001` in the fake's region, no role. */
  metadata?: FakeInstanceMetadata | null | undefined;
  /** Token bucket per fake (EC2 throttles per account and region): beyond it, 503 `RequestLimitExceeded`. Default 100, +20/s. */
  rateLimit?:
    | {
        /** Requests the bucket holds when full. */
        capacity: number;
        /** Requests added back per second. */
        refillPerSecond: number;
      }
    | undefined;
  /** Checks every API request; a problem is recorded in `violations` and answered 400. Default: none. */
  validateRequest?: FakeEc2RequestValidator | undefined;
  /** Checks every API reply before it is sent; a problem is recorded in `violations`. Default: none. */
  validateResponse?: FakeEc2ResponseValidator | undefined;
}

/** A scripted failure for the next matching API request(s), see {@link FakeEc2.inject}. */
export interface FakeEc2Fault {
  /** Which action (`AssociateAddress`…); default any. */
  action?: string | undefined;
  /** How many matching requests it hits. Default 1. */
  times?: number | undefined;
  /** `drop` destroys the connection without an answer; `error` answers EC2's error XML. */
  kind: 'error' | 'drop';
  /** For `error`. Default 500. */
  status?: number | undefined;
  /** For `error`: EC2's code. Default `InternalError`. */
  code?: string | undefined;
  /** The error message of the answer. */
  message?: string | undefined;
}

interface AddressRecord {
  publicIp: string;
  allocationId: string;
  instanceId: string | null;
  associationId: string | null;
  /** Which of the holder's private addresses the Elastic IP maps to. */
  privateIpAddress: string | null;
}

type Reply = { status: number; xml: string; code?: string | undefined };

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60_000;
const XML_HEADERS = { 'content-type': 'text/xml;charset=UTF-8', server: 'AmazonEC2' };

/**
 * A fake Amazon EC2 Query API and instance metadata service (IMDSv2) on a real HTTP server (127.0.0.1, random
 * port), for testing code that uses `ElasticIpAssigner` without an AWS account.
 *
 * API (`POST /`): it recomputes every request's Signature Version 4 from the secret it knows and refuses a bad one
 * as EC2 does (`AuthFailure` 401 for an unknown key, a missing or wrong session token or a foreign region;
 * `SignatureDoesNotMatch` 403; `RequestExpired` 400 for expired credentials or a stale `x-amz-date`). It serves
 * `DescribeAddresses`, `AssociateAddress` (with `Resource.AlreadyAssociated` unless `AllowReassociation=true`)
 * and `DisassociateAddress` with EC2's XML, `InvalidAllocationID.NotFound`, `InvalidAddress.NotFound`,
 * `InvalidInstanceID.NotFound`, `UnauthorizedOperation` for denied actions and 503 `RequestLimitExceeded` past a
 * token bucket; every error is `<Response><Errors>…</Errors><RequestID>`.
 *
 * IMDSv2 (`/latest/…`): `PUT /latest/api/token` with a TTL header, then `GET`s carrying the token (401 without):
 * `meta-data/instance-id`, `meta-data/placement/region`, `meta-data/iam/security-credentials/{role}`.
 */
export class FakeEc2 extends FakeHttpServer<FakeEc2RequestRecord, FakeEc2Fault> {
  /** A key pair the fake accepts by default. */
  static readonly DEFAULT_CREDENTIALS: Readonly<FakeAwsCredentials> = Object.freeze({
    accessKeyId: 'AKIAFAKE0000EXAMPLE1',
    secretAccessKey: 'fake/Secret+Key0000000000000000000EXAMPLE',
  });

  /** The region requests must be signed for. */
  readonly region: string;
  /** What IMDS serves; `null` switches IMDS off (the token PUT answers 403). */
  metadata: FakeInstanceMetadata | null;

  readonly #options: FakeEc2Options;
  readonly #keys = new Map<string, FakeAwsCredentials>();
  readonly #expiredKeys = new Set<string>();
  readonly #instances: Set<string>;
  readonly #addresses = new Map<string, AddressRecord>();
  readonly #denied = new Set<string>();
  readonly #tokens = new Map<string, number>();
  readonly #bucket: TokenBucket;

  private constructor(options: FakeEc2Options) {
    super();
    this.#options = options;
    this.region = options.region ?? 'us-east-1';
    for (const key of options.credentials ?? [FakeEc2.DEFAULT_CREDENTIALS]) this.#keys.set(key.accessKeyId, key);
    this.#instances = new Set(
      options.instances ?? ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'],
    );
    for (const address of options.addresses ?? [{ publicIp: '198.51.100.10' }]) {
      const instanceId = address.instanceId ?? null;
      this.#addresses.set(address.publicIp, {
        publicIp: address.publicIp,
        allocationId: address.allocationId ?? allocationIdOf(address.publicIp),
        instanceId,
        associationId: instanceId === null ? null : newId('eipassoc'),
        privateIpAddress: instanceId === null ? null : privateIpsOf(instanceId)[0],
      });
    }
    this.metadata =
      options.metadata === undefined ? { instanceId: 'i-00000000000000001', region: this.region } : options.metadata;
    const { capacity, refillPerSecond } = options.rateLimit ?? { capacity: 100, refillPerSecond: 20 };
    this.#bucket = new TokenBucket(capacity, 1000 / refillPerSecond);
  }

  /** Starts a fake on 127.0.0.1 and a free port. */
  static async start(options: FakeEc2Options = {}): Promise<FakeEc2> {
    const fake = new FakeEc2(options);
    await fake.listen();
    return fake;
  }

  /** Makes `action` answer 403 `UnauthorizedOperation` (an IAM policy without it), or allows it again. */
  deny(action: string, denied = true): void {
    if (denied) this.#denied.add(action);
    else this.#denied.delete(action);
  }

  /** Requests signed with `accessKeyId` answer 400 `RequestExpired` from now on (expired temporary credentials). */
  expireCredentials(accessKeyId: string): void {
    this.#expiredKeys.add(accessKeyId);
  }

  /** Accepts another key pair (e.g. rotated role credentials). */
  addCredentials(credentials: FakeAwsCredentials): void {
    this.#keys.set(credentials.accessKeyId, credentials);
  }

  /** Invalidates every IMDS session token: the next GET with one answers 401. */
  expireMetadataTokens(): void {
    this.#tokens.clear();
  }

  /** The instance holding `publicIp`, or null. */
  holder(publicIp: string): string | null {
    return this.#address(publicIp).instanceId;
  }

  /** The allocation ID of `publicIp`. */
  allocationId(publicIp: string): string {
    return this.#address(publicIp).allocationId;
  }

  /** Moves `publicIp` at once, as a person in the console would (null disassociates). */
  moveIp(publicIp: string, instanceId: string | null): void {
    if (instanceId !== null && !this.#instances.has(instanceId)) throw new Error(`unknown instance ${instanceId}`);
    const record = this.#address(publicIp);
    record.instanceId = instanceId;
    record.associationId = instanceId === null ? null : newId('eipassoc');
    record.privateIpAddress = instanceId === null ? null : privateIpsOf(instanceId)[0];
  }

  /** Releases `publicIp`: its allocation ID is unknown from now on. */
  release(publicIp: string): void {
    this.#address(publicIp);
    this.#addresses.delete(publicIp);
  }

  #address(publicIp: string): AddressRecord {
    const record = this.#addresses.get(publicIp);
    if (record === undefined) throw new Error(`unknown Elastic IP ${publicIp}`);
    return record;
  }

  protected crashReply(): FakeReply {
    return { status: 500, body: errorXml('InternalError', 'fake crashed'), headers: XML_HEADERS };
  }

  // No timers: the EC2 API answers synchronously.
  protected stopTimers(): void {}

  protected serve(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname.startsWith('/latest/')) {
      this.#metadataRequest(req, res, url, method);
      return;
    }
    const rawBody = raw.toString('utf8');
    const params = new URLSearchParams(rawBody);
    const action = params.get('Action') ?? undefined;
    const record: FakeEc2RequestRecord = {
      seq: this.requests.length + 1,
      at: performance.now(),
      kind: 'api',
      method,
      path: url.pathname + url.search,
      action,
      params: Object.fromEntries([...params].filter(([k]) => k !== 'Action' && k !== 'Version')),
      accessKeyId: AUTH.exec(String(req.headers.authorization ?? ''))?.[1],
      authenticated: false,
      outcome: undefined,
      errorCode: undefined,
    };
    this.recordRequest(record);
    const view: FakeEc2ValidatedRequest = { method, pathname: url.pathname, headers: req.headers, params, rawBody };
    const reply = ({ status, xml, code }: Reply): void => {
      for (const problem of this.#options.validateResponse?.(view, status, xml) ?? []) {
        this.violations.push(`reply to ${action ?? '(no action)'}: ${problem}`);
      }
      record.outcome = status;
      record.errorCode = code;
      this.sendReply(res, { status, body: xml, headers: XML_HEADERS });
    };
    const fail = (status: number, code: string, message: string): void =>
      reply({ status, xml: errorXml(code, message), code });

    const problems: string[] = [];
    if (method !== 'POST' || url.pathname !== '/') problems.push(`${method} ${url.pathname}: the Query API is POST /`);
    const contentType = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (contentType !== 'application/x-www-form-urlencoded')
      problems.push(`content-type ${contentType || '(none)'} is not a form`);
    problems.push(...(this.#options.validateRequest?.(view) ?? []));
    if (problems.length > 0) {
      for (const problem of problems) this.violations.push(`${action ?? '(no action)'}: ${problem}`);
      fail(400, 'InvalidParameterValue', `request does not match the API description: ${problems.join('; ')}`);
      return;
    }

    const fault = this.takeFault((f) => f.action === undefined || f.action === action);
    if (fault !== undefined) {
      if (fault.kind === 'drop') {
        record.outcome = 'dropped';
        req.socket.destroy();
        return;
      }
      fail(fault.status ?? 500, fault.code ?? 'InternalError', fault.message ?? 'An internal error has occurred');
      return;
    }

    const denied = this.#authenticate(req, url, raw);
    if (denied !== undefined) {
      reply(denied);
      return;
    }
    record.authenticated = true;

    if (!this.#bucket.take()) {
      fail(503, 'RequestLimitExceeded', 'Request limit exceeded.');
      return;
    }
    if (action !== undefined && this.#denied.has(action)) {
      fail(403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
      return;
    }
    reply(this.#api(action ?? '', params));
  }

  // Signature Version 4, recomputed from the secret the fake knows, as AWS does on its side.
  #authenticate(req: IncomingMessage, url: URL, raw: Buffer): Reply | undefined {
    const authFailure = (message: string): Reply => ({
      status: 401,
      xml: errorXml('AuthFailure', message),
      code: 'AuthFailure',
    });
    const authorization = req.headers.authorization;
    if (authorization === undefined) return authFailure('AWS was not able to validate the provided access credentials');
    const m = AUTH.exec(authorization);
    if (m === null) {
      return {
        status: 400,
        xml: errorXml('IncompleteSignature', 'The request signature does not conform to AWS standards.'),
        code: 'IncompleteSignature',
      };
    }
    const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
    const key = this.#keys.get(accessKeyId!);
    if (key === undefined) return authFailure('AWS was not able to validate the provided access credentials');
    if (region !== this.region || service !== 'ec2') {
      return authFailure(
        `Credential should be scoped to a valid region and the service 'ec2', not '${region}/${service}'.`,
      );
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const at = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (at === null || amzDate.slice(0, 8) !== date)
      return authFailure('The x-amz-date header is missing or does not match the credential scope date.');
    const when = Date.UTC(Number(at[1]), Number(at[2]) - 1, Number(at[3]), Number(at[4]), Number(at[5]), Number(at[6]));
    // A signed timestamp is a wall-clock instant: the check is against the wall clock, as AWS's.
    if (Math.abs(Date.now() - when) > MAX_SKEW_MS)
      return { status: 400, xml: errorXml('RequestExpired', 'Request has expired.'), code: 'RequestExpired' };
    const names = signedHeaders!.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) {
      return authFailure('The signature must cover the host and x-amz-date headers.');
    }
    if (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken) {
      return authFailure('The security token included in the request is invalid.');
    }
    const canonicalHeaders = names.map((name) => `${name}:${headerValue(req.headers[name])}\n`).join('');
    const canonicalQuery = [...url.searchParams]
      .map(([k, v]) => [rfc3986(k), rfc3986(v)])
      .sort(([a, b], [c, d]) => (a! < c! ? -1 : a! > c! ? 1 : b! < d! ? -1 : b! > d! ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalRequest = [
      (req.method ?? 'GET').toUpperCase(),
      url.pathname,
      canonicalQuery,
      canonicalHeaders,
      signedHeaders,
      sha256(raw),
    ].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    let signingKey: Buffer = hmac(`AWS4${key.secretAccessKey}`, date!);
    for (const part of [region!, service!, 'aws4_request']) signingKey = hmac(signingKey, part);
    const expected = hmac(signingKey, stringToSign);
    const given = Buffer.from(signature!, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return {
        status: 403,
        xml: errorXml(
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
        ),
        code: 'SignatureDoesNotMatch',
      };
    }
    if (this.#expiredKeys.has(accessKeyId!))
      return { status: 400, xml: errorXml('RequestExpired', 'Request has expired.'), code: 'RequestExpired' };
    return undefined;
  }

  #api(action: string, params: URLSearchParams): Reply {
    const error = (status: number, code: string, message: string): Reply => ({
      status,
      xml: errorXml(code, message),
      code,
    });
    if (action === 'DescribeAddresses') {
      const ips = listParam(params, 'PublicIp');
      const allocations = listParam(params, 'AllocationId');
      for (const ip of ips)
        if (!this.#addresses.has(ip)) return error(400, 'InvalidAddress.NotFound', `Address '${ip}' not found.`);
      for (const id of allocations) {
        if (![...this.#addresses.values()].some((a) => a.allocationId === id)) {
          return error(400, 'InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
        }
      }
      const filters = filterParams(params);
      const items = [...this.#addresses.values()].filter(
        (a) =>
          (ips.length === 0 || ips.includes(a.publicIp)) &&
          (allocations.length === 0 || allocations.includes(a.allocationId)) &&
          filters.every(([name, values]) => values.includes(filterValue(a, name) ?? '\u0000')),
      );
      return ok(action, `<addressesSet>${items.map(addressXml).join('')}</addressesSet>`);
    }
    if (action === 'AssociateAddress') {
      const allocationId = params.get('AllocationId');
      const instanceId = params.get('InstanceId');
      const eni = params.get('NetworkInterfaceId');
      if (allocationId === null) {
        return error(400, 'MissingParameter', 'The request must contain the parameter AllocationId (VPC addresses)');
      }
      if (instanceId !== null && eni !== null) {
        return error(400, 'InvalidParameterCombination', 'Specify an instance ID or a network interface ID, not both');
      }
      if (instanceId === null && eni === null) {
        return error(
          400,
          'MissingParameter',
          'The request must contain the parameter InstanceId or NetworkInterfaceId',
        );
      }
      const record = [...this.#addresses.values()].find((a) => a.allocationId === allocationId);
      if (record === undefined)
        return error(400, 'InvalidAllocationID.NotFound', `The allocation ID '${allocationId}' does not exist`);
      // Each instance has one network interface, `eni-` + its ID's digits, with a primary and a secondary address.
      const target = instanceId ?? [...this.#instances].find((i) => eniOf(i) === eni);
      if (instanceId !== null && !this.#instances.has(instanceId))
        return error(400, 'InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
      if (target === undefined)
        return error(400, 'InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eni}' does not exist`);
      const privateIp = params.get('PrivateIpAddress') ?? privateIpsOf(target)[0];
      if (!privateIpsOf(target).includes(privateIp)) {
        return error(
          400,
          'InvalidParameterValue',
          `Private IP ${privateIp} is not on network interface ${eniOf(target)}`,
        );
      }
      if (
        record.instanceId !== null &&
        (record.instanceId !== target || record.privateIpAddress !== privateIp) &&
        params.get('AllowReassociation') !== 'true'
      ) {
        return error(
          400,
          'Resource.AlreadyAssociated',
          `resource ${allocationId} is already associated with associate-id ${record.associationId}`,
        );
      }
      record.instanceId = target;
      record.privateIpAddress = privateIp;
      record.associationId = newId('eipassoc');
      return ok(action, `<return>true</return><associationId>${record.associationId}</associationId>`);
    }
    if (action === 'DisassociateAddress') {
      const associationId = params.get('AssociationId');
      const record = [...this.#addresses.values()].find(
        (a) => a.associationId !== null && a.associationId === associationId,
      );
      if (record === undefined)
        return error(400, 'InvalidAssociationID.NotFound', `The association ID '${associationId}' does not exist`);
      record.instanceId = null;
      record.associationId = null;
      record.privateIpAddress = null;
      return ok(action, '<return>true</return>');
    }
    return error(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
  }

  #metadataRequest(req: IncomingMessage, res: ServerResponse, url: URL, method: string): void {
    const record: FakeEc2RequestRecord = {
      seq: this.requests.length + 1,
      at: performance.now(),
      kind: 'metadata',
      method,
      path: url.pathname,
      action: undefined,
      params: {},
      accessKeyId: undefined,
      authenticated: false,
      outcome: undefined,
      errorCode: undefined,
    };
    this.recordRequest(record);
    const [status, text, type] = this.#metadataAnswer(req, url, method, record);
    record.outcome = status;
    this.sendReply(res, { status, body: text, headers: { 'content-type': type ?? 'text/plain' } });
  }

  #metadataAnswer(
    req: IncomingMessage,
    url: URL,
    method: string,
    record: FakeEc2RequestRecord,
  ): [status: number, body: string, type?: string] {
    const send = (status: number, body: string, type?: string): [number, string, string?] => [status, body, type];
    const metadata = this.metadata;
    if (method === 'PUT' && url.pathname === '/latest/api/token') {
      if (metadata === null) return send(403, 'Forbidden');
      // IMDS refuses a token PUT that went through a proxy, which is what stops SSRF from reaching it.
      if (req.headers['x-forwarded-for'] !== undefined) return send(403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return send(400, 'Bad Request');
      const token = randomBytes(32).toString('base64');
      this.#tokens.set(token, performance.now() + ttl * 1000);
      record.authenticated = true;
      return send(200, token);
    }
    if (method !== 'GET') return send(405, 'Method Not Allowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    const expires = typeof token === 'string' ? this.#tokens.get(token) : undefined;
    // IMDSv2 only: a GET without a valid token is refused, as on an instance with `HttpTokens: required`.
    if (metadata === null || expires === undefined || expires < performance.now()) return send(401, 'Unauthorized');
    record.authenticated = true;
    const base = '/latest/meta-data/';
    const path = url.pathname;
    if (path === `${base}instance-id`) return send(200, metadata.instanceId);
    if (path === `${base}placement/region`) return send(200, metadata.region);
    const role = metadata.role;
    if (path === `${base}iam/security-credentials/` && role !== undefined) return send(200, role.name);
    if (path === `${base}iam/security-credentials/${role?.name}` && role !== undefined) {
      const document = {
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        Type: 'AWS-HMAC',
        AccessKeyId: role.credentials.accessKeyId,
        SecretAccessKey: role.credentials.secretAccessKey,
        Token: role.credentials.sessionToken,
        Expiration: role.expiration ?? new Date(Date.now() + 3_600_000).toISOString(),
      };
      return send(200, JSON.stringify(document, null, 2), 'application/json');
    }
    return send(404, 'Not Found');
  }

  /** The role credentials IMDS serves are also accepted by the API (call after changing `metadata.role`). */
  acceptRoleCredentials(): void {
    const role = this.metadata?.role;
    if (role !== undefined) this.addCredentials(role.credentials);
  }
}

function ok(action: string, inner: string): Reply {
  return {
    status: 200,
    xml: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}">\n    <requestId>${randomUUID()}</requestId>\n    ${inner}\n</${action}Response>`,
  };
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
}

function addressXml(a: AddressRecord): string {
  const association =
    a.instanceId === null
      ? ''
      : `<instanceId>${a.instanceId}</instanceId><associationId>${a.associationId}</associationId><networkInterfaceId>${eniOf(a.instanceId)}</networkInterfaceId><networkInterfaceOwnerId>123456789012</networkInterfaceOwnerId><privateIpAddress>${a.privateIpAddress}</privateIpAddress>`;
  return `<item><publicIp>${a.publicIp}</publicIp><allocationId>${a.allocationId}</allocationId><domain>vpc</domain>${association}<tagSet/><publicIpv4Pool>amazon</publicIpv4Pool><networkBorderGroup>us-east-1</networkBorderGroup></item>`;
}

/** The network interface of an instance in the fake: `eni-` and the instance ID's digits. */
function eniOf(instanceId: string): string {
  return `eni-${instanceId.slice(2)}`;
}

/** An instance's private addresses in the fake: primary `10.0.0.N`, secondary `10.0.1.N`. */
function privateIpsOf(instanceId: string): [string, string] {
  const n = (Number.parseInt(instanceId.slice(-2), 16) % 250) + 4;
  return [`10.0.0.${n}`, `10.0.1.${n}`];
}

function filterValue(a: AddressRecord, name: string): string | undefined {
  switch (name) {
    case 'public-ip':
      return a.publicIp;
    case 'allocation-id':
      return a.allocationId;
    case 'instance-id':
      return a.instanceId ?? undefined;
    case 'association-id':
      return a.associationId ?? undefined;
    case 'domain':
      return 'vpc';
    default:
      return undefined;
  }
}

function listParam(params: URLSearchParams, name: string): string[] {
  const values: string[] = [];
  for (let i = 1; params.has(`${name}.${i}`); i++) values.push(params.get(`${name}.${i}`)!);
  return values;
}

function filterParams(params: URLSearchParams): Array<[string, string[]]> {
  const filters: Array<[string, string[]]> = [];
  for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
    filters.push([params.get(`Filter.${i}.Name`)!, listParam(params, `Filter.${i}.Value`)]);
  }
  return filters;
}

function allocationIdOf(ip: string): string {
  return `eipalloc-${createHash('sha256').update(ip).digest('hex').slice(0, 17)}`;
}

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

function headerValue(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text.trim().replace(/\s+/g, ' ');
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}
