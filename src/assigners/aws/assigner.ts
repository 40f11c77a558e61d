import { isIP } from 'node:net';
import { AbortError, ConfigError } from '../../errors.ts';
import { logger } from '../../util/log.ts';
import { checkHttpUrl, checkInt, checkKnownKeys, checkObject, checkString } from '../../util/validate.ts';
import { type AssignOptions, type FloatingIpAssigner, type HolderOptions, TermFence } from '../floating-ip-assigner.ts';
import { Deadline, throwIfAborted, withSignal } from '../timing.ts';
import { asNode, asNodes, type Ec2CallContext, Ec2Client, text } from './client.ts';
import { type AwsCredentialSource, type AwsCredentials, CredentialProvider } from './credentials.ts';
import { ELASTIC_IP_DEFAULTS as DEFAULTS } from './defaults.ts';
import { AwsApiError, AwsBadResponseError, AwsCredentialsError, AwsMetadataError } from './errors.ts';
import { ImdsClient } from './imds.ts';

const log = logger('aws');

/** Retry policy of {@link ElasticIpAssignerOptions.retry}. */
export interface ElasticIpRetryOptions {
  /** Attempts per request on `RequestLimitExceeded`, 5xx and network errors, the first included. Default 5. */
  maxAttempts?: number | undefined;
  /** First backoff step in ms (doubles per attempt, equal jitter). Default 500, as EC2 asks for throttling. */
  baseDelayMs?: number | undefined;
  /** Largest backoff step in ms. Default 10000. */
  maxDelayMs?: number | undefined;
}

/** Options of {@link ElasticIpAssigner}. */
export interface ElasticIpAssignerOptions {
  /** The Elastic IP's public IPv4 address, e.g. `'198.51.100.7'`. Its `AllocationId` is looked up once. */
  ip: string;
  /**
   * The AWS region of the address and the instance, e.g. `'eu-west-1'`. Default: `AWS_REGION`, else
   * `AWS_DEFAULT_REGION`, else the instance's region from IMDSv2.
   */
  region?: string | undefined;
  /** This instance's ID (`i-…`). Default: read once from IMDSv2 (`/latest/meta-data/instance-id`). */
  instanceId?: string | undefined;
  /**
   * Associate with this network interface (`eni-…`) of the instance instead of its primary one, for instances with
   * several interfaces. Default: the instance's primary interface (`InstanceId`).
   */
  networkInterfaceId?: string | undefined;
  /** With `networkInterfaceId`: which of its private IPv4 addresses the Elastic IP maps to. Default: its primary. */
  privateIpAddress?: string | undefined;
  /**
   * Credentials. Default: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the instance
   * role through IMDSv2 (renewed before it expires). The secret parts are never logged or serialised.
   */
  credentials?: AwsCredentials | undefined;
  /**
   * EC2 endpoint URL. Default: `AWS_ENDPOINT_URL_EC2`, else `AWS_ENDPOINT_URL` (the SDKs' variables), else
   * `https://ec2.{region}.amazonaws.com` (`.com.cn` in the China regions).
   */
  endpoint?: string | undefined;
  /** Instance metadata service base URL. Default: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`. */
  metadataUrl?: string | undefined;
  /**
   * Where the standard variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
   * `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
   * `AWS_EC2_METADATA_DISABLED`) are read, once, at construction. Default `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Timeout of one EC2 request in ms. Default 10000. */
  requestTimeoutMs?: number | undefined;
  /** Overall deadline of one `assign()` call in ms, waits included. Default 30000. */
  assignTimeoutMs?: number | undefined;
  /** Per-attempt timeout of a metadata request in ms (3 attempts). Default 1000. */
  metadataTimeoutMs?: number | undefined;
  /** Retries on throttling, 5xx and network errors; see {@link ElasticIpRetryOptions} for defaults. */
  retry?: ElasticIpRetryOptions | undefined;
  /** A `fetch` implementation (proxies, instrumentation, tests). Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch | undefined;
}

const KNOWN_KEYS = [
  'ip',
  'region',
  'instanceId',
  'networkInterfaceId',
  'privateIpAddress',
  'credentials',
  'endpoint',
  'metadataUrl',
  'env',
  'requestTimeoutMs',
  'assignTimeoutMs',
  'metadataTimeoutMs',
  'retry',
  'fetch',
] as const;
const RETRY_KEYS = ['maxAttempts', 'baseDelayMs', 'maxDelayMs'] as const;
const CREDENTIAL_KEYS = ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const;
const MAX_TIMER_MS = 2_147_483_647;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

/** Where an Elastic IP is, from `DescribeAddresses`. */
interface AddressState {
  allocationId: string;
  /** The instance it is associated with, or (for an ENI without an instance) the network interface, or null. */
  holder: string | null;
  networkInterfaceId: string | undefined;
  privateIpAddress: string | undefined;
}

/**
 * Moves an AWS EC2 Elastic IP to this instance with `AssociateAddress` (`AllowReassociation=true`, so it is taken
 * from whichever instance holds it, in one call).
 *
 * `assign()` reads the address with `DescribeAddresses` (by public IP the first time, which also yields the
 * `AllocationId`, cached; by `AllocationId.1` after that) and returns when it is already here. Otherwise it sends
 * `AssociateAddress`, which is synchronous: its success is EC2's confirmation, so one failover costs 2 requests.
 * `RequestLimitExceeded` (503) and 5xx back off and retry; `AuthFailure`, `UnauthorizedOperation`,
 * `InvalidAllocationID.NotFound` and other client errors fail at once (an unknown allocation also drops the
 * cached ID, so a re-allocated address is found again).
 *
 * Fencing: every `assign({ term })` is checked against the highest term this instance has been given; a lower term
 * is refused with `StaleTermError`, and a call overtaken by a newer term or by `stillLeader() === false` sends
 * nothing further. EC2 has no conditional association, so `bindFloatingIp`'s reconciliation corrects a late one.
 */
export class ElasticIpAssigner implements FloatingIpAssigner {
  /** The Elastic IP this assigner moves. */
  readonly ip: string;
  /** Where the credentials come from: `options`, `environment` or `instance-role`. */
  readonly credentialSource: AwsCredentialSource;
  readonly #fence = new TermFence();
  readonly #imds: ImdsClient | undefined;
  readonly #credentials: CredentialProvider;
  readonly #endpoint: string | undefined;
  readonly #requestTimeoutMs: number;
  readonly #assignTimeoutMs: number;
  readonly #retry: Required<ElasticIpRetryOptions>;
  readonly #fetch: typeof globalThis.fetch | undefined;
  #region: string | undefined;
  #instanceId: string | undefined;
  #allocationId: string | undefined;
  #client: Promise<Ec2Client> | undefined;
  #instanceIdPromise: Promise<string> | undefined;
  readonly #networkInterfaceId: string | undefined;
  readonly #privateIpAddress: string | undefined;

  constructor(options: ElasticIpAssignerOptions) {
    const o = checkObject(options, 'options');
    checkKnownKeys(o, KNOWN_KEYS);
    if (typeof o.ip !== 'string' || isIP(o.ip) !== 4) {
      throw new ConfigError('ip', 'expected the Elastic IP as an IPv4 address');
    }
    this.ip = o.ip;
    const env = o.env === undefined ? process.env : checkObject(o.env, 'env');
    const envString = (name: string): string | undefined => {
      const value = env[name];
      return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
    };
    if (o.region !== undefined) this.#region = checkRegion(o.region, 'region');
    else {
      const fromEnv = envString('AWS_REGION') ?? envString('AWS_DEFAULT_REGION');
      if (fromEnv !== undefined)
        this.#region = checkRegion(fromEnv, envString('AWS_REGION') ? 'env.AWS_REGION' : 'env.AWS_DEFAULT_REGION');
    }
    if (o.instanceId !== undefined) {
      const id = checkString(o.instanceId, 'instanceId', 64);
      if (!INSTANCE_ID.test(id))
        throw new ConfigError('instanceId', "expected an instance ID such as 'i-0123456789abcdef0'");
      this.#instanceId = id;
    }
    if (o.networkInterfaceId !== undefined) {
      const eni = checkString(o.networkInterfaceId, 'networkInterfaceId', 64);
      if (!/^eni-[0-9a-f]{8}(?:[0-9a-f]{9})?$/.test(eni)) {
        throw new ConfigError('networkInterfaceId', "expected a network interface ID such as 'eni-0123456789abcdef0'");
      }
      this.#networkInterfaceId = eni;
    }
    if (o.privateIpAddress !== undefined) {
      if (typeof o.privateIpAddress !== 'string' || isIP(o.privateIpAddress) !== 4) {
        throw new ConfigError('privateIpAddress', 'expected a private IPv4 address');
      }
      if (this.#networkInterfaceId === undefined) throw new ConfigError('privateIpAddress', 'needs networkInterfaceId');
      this.#privateIpAddress = o.privateIpAddress;
    }
    const endpointVar = envString('AWS_ENDPOINT_URL_EC2') !== undefined ? 'AWS_ENDPOINT_URL_EC2' : 'AWS_ENDPOINT_URL';
    if (o.endpoint !== undefined) this.#endpoint = checkHttpUrl(o.endpoint, 'endpoint', { pathless: true });
    else if (envString(endpointVar) !== undefined)
      this.#endpoint = checkHttpUrl(envString(endpointVar), `env.${endpointVar}`, { pathless: true });
    const metadataUrl =
      o.metadataUrl !== undefined
        ? checkHttpUrl(o.metadataUrl, 'metadataUrl', { pathless: true })
        : envString('AWS_EC2_METADATA_SERVICE_ENDPOINT') !== undefined
          ? checkHttpUrl(envString('AWS_EC2_METADATA_SERVICE_ENDPOINT'), 'env.AWS_EC2_METADATA_SERVICE_ENDPOINT', {
              pathless: true,
            })
          : DEFAULTS.metadataUrl;
    this.#requestTimeoutMs = checkInt(
      o.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      'requestTimeoutMs',
      1,
      MAX_TIMER_MS,
    );
    this.#assignTimeoutMs = checkInt(o.assignTimeoutMs ?? DEFAULTS.assignTimeoutMs, 'assignTimeoutMs', 1, MAX_TIMER_MS);
    const metadataTimeoutMs = checkInt(
      o.metadataTimeoutMs ?? DEFAULTS.metadataTimeoutMs,
      'metadataTimeoutMs',
      1,
      MAX_TIMER_MS,
    );
    const retry = o.retry === undefined ? {} : checkObject(o.retry, 'retry');
    checkKnownKeys(retry, RETRY_KEYS, 'retry.');
    const baseDelayMs = checkInt(retry.baseDelayMs ?? DEFAULTS.retryBaseDelayMs, 'retry.baseDelayMs', 1, MAX_TIMER_MS);
    this.#retry = {
      maxAttempts: checkInt(retry.maxAttempts ?? DEFAULTS.retryMaxAttempts, 'retry.maxAttempts', 1, 100),
      baseDelayMs,
      maxDelayMs: checkInt(
        retry.maxDelayMs ?? Math.max(DEFAULTS.retryMaxDelayMs, baseDelayMs),
        'retry.maxDelayMs',
        baseDelayMs,
        MAX_TIMER_MS,
      ),
    };
    if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new ConfigError('fetch', 'expected a function');
    this.#fetch = o.fetch as typeof globalThis.fetch | undefined;

    const imdsDisabled = envString('AWS_EC2_METADATA_DISABLED')?.toLowerCase() === 'true';
    this.#imds = imdsDisabled
      ? undefined
      : new ImdsClient({ url: metadataUrl, timeoutMs: metadataTimeoutMs, attempts: 3, fetch: this.#fetch });

    let fixed: AwsCredentials | undefined;
    let source: AwsCredentialSource;
    if (o.credentials !== undefined) {
      fixed = checkCredentials(o.credentials);
      source = 'options';
    } else {
      const accessKeyId = envString('AWS_ACCESS_KEY_ID');
      const secretAccessKey = envString('AWS_SECRET_ACCESS_KEY');
      if (accessKeyId !== undefined || secretAccessKey !== undefined) {
        if (accessKeyId === undefined)
          throw new ConfigError('env.AWS_ACCESS_KEY_ID', 'is unset while AWS_SECRET_ACCESS_KEY is set');
        if (secretAccessKey === undefined)
          throw new ConfigError('env.AWS_SECRET_ACCESS_KEY', 'is unset while AWS_ACCESS_KEY_ID is set');
        fixed = checkCredentials(
          { accessKeyId, secretAccessKey, sessionToken: envString('AWS_SESSION_TOKEN') },
          'env.',
        );
        source = 'environment';
      } else {
        if (this.#imds === undefined) {
          throw new AwsCredentialsError('none in the options or the environment, and AWS_EC2_METADATA_DISABLED is set');
        }
        source = 'instance-role';
      }
    }
    this.credentialSource = source;
    this.#credentials = new CredentialProvider(fixed, source, this.#imds);
    log('Elastic IP %s, region %s, credentials from %s', this.ip, this.#region ?? '(from IMDS)', source);
  }

  /** This instance's ID: the `instanceId` option, or read once from IMDSv2 (then cached). */
  async self(options: HolderOptions = {}): Promise<string> {
    if (this.#instanceId !== undefined) return this.#instanceId;
    // Shared by concurrent callers, so it takes none's signal (IMDS timeouts bound it); each waits on its own.
    this.#instanceIdPromise ??= this.#metadata('/latest/meta-data/instance-id', undefined).then(
      (id) => {
        if (!INSTANCE_ID.test(id))
          throw new AwsMetadataError('/latest/meta-data/instance-id', 'the answer is not an instance ID');
        this.#instanceId = id;
        return id;
      },
      (error: unknown) => {
        this.#instanceIdPromise = undefined;
        throw error;
      },
    );
    return withSignal(this.#instanceIdPromise, options.signal);
  }

  /** The instance holding the IP now (or the network interface, when it is on one without an instance), or `null`. */
  async holder(options: HolderOptions = {}): Promise<string | null> {
    return (await this.#read({ signal: options.signal })).holder;
  }

  /** Makes this instance the holder; see the class description. Rejects with typed errors only. */
  async assign(options: AssignOptions = {}): Promise<void> {
    const { signal, term, stillLeader } = options;
    this.#fence.admit(term);
    throwIfAborted(signal);
    const started = performance.now();
    const ctx: Ec2CallContext = {
      signal,
      term,
      deadline: new Deadline(this.#assignTimeoutMs),
      guard: () => {
        this.#fence.check(term);
        if (stillLeader?.() === false) throw new AbortError('leadership ended: no further request is sent');
      },
    };
    const me = await this.self({ signal });
    const state = await this.#read(ctx);
    if (this.#isHere(state, me)) {
      log('%s is on %s (term %s)', this.ip, me, term);
      return;
    }
    log('associating %s (%s) with %s, was on %s (term %s)', this.ip, state.allocationId, me, state.holder, term);
    const client = await this.#ec2(signal);
    const reply = await this.#call(
      client,
      'AssociateAddress',
      {
        AllocationId: state.allocationId,
        ...(this.#networkInterfaceId === undefined
          ? { InstanceId: me }
          : {
              NetworkInterfaceId: this.#networkInterfaceId,
              ...(this.#privateIpAddress === undefined ? {} : { PrivateIpAddress: this.#privateIpAddress }),
            }),
        AllowReassociation: 'true',
      },
      ctx,
    );
    log(
      '%s associated with %s as %s (term %s, %d ms)',
      this.ip,
      me,
      text(reply.associationId),
      term,
      Math.round(performance.now() - started),
    );
  }

  // With a chosen interface (and address), the IP is only "here" on that interface (and address).
  #isHere(state: AddressState, me: string): boolean {
    if (state.holder !== me) return false;
    if (this.#networkInterfaceId === undefined) return true;
    if (state.networkInterfaceId !== this.#networkInterfaceId) return false;
    return this.#privateIpAddress === undefined || state.privateIpAddress === this.#privateIpAddress;
  }

  /** Never shows credentials: the address and where credentials come from. */
  toJSON(): {
    /** The Elastic IP. */
    ip: string;
    /** The region, once known. */
    region: string | undefined;
    /** Where credentials come from (never the credentials themselves). */
    credentialSource: AwsCredentialSource;
  } {
    return { ip: this.ip, region: this.#region, credentialSource: this.credentialSource };
  }

  async #read(ctx: Ec2CallContext): Promise<AddressState> {
    const client = await this.#ec2(ctx.signal);
    const byAllocation = this.#allocationId;
    const reply = await this.#call(
      client,
      'DescribeAddresses',
      byAllocation === undefined ? { 'PublicIp.1': this.ip } : { 'AllocationId.1': byAllocation },
      ctx,
    );
    const item = asNodes(asNode(reply.addressesSet)?.item).find((a) => text(a.publicIp) === this.ip);
    if (item === undefined) throw new AwsBadResponseError('DescribeAddresses', `${this.ip} is not in addressesSet`);
    const allocationId = text(item.allocationId);
    if (allocationId === undefined) {
      // EC2-Classic addresses had no allocation ID; they are gone, and AllowReassociation needs one.
      throw new AwsBadResponseError('DescribeAddresses', `${this.ip} has no allocationId (not a VPC address)`);
    }
    if (this.#allocationId === undefined) log('%s is allocation %s', this.ip, allocationId);
    this.#allocationId = allocationId;
    const networkInterfaceId = text(item.networkInterfaceId);
    return {
      allocationId,
      holder: text(item.instanceId) ?? networkInterfaceId ?? null,
      networkInterfaceId,
      privateIpAddress: text(item.privateIpAddress),
    };
  }

  async #call(client: Ec2Client, action: string, params: Record<string, string>, ctx: Ec2CallContext) {
    try {
      return await client.call(action, params, ctx);
    } catch (error) {
      // A released (and perhaps re-allocated) address: look it up by IP next time.
      if (error instanceof AwsApiError && error.awsCode === 'InvalidAllocationID.NotFound')
        this.#allocationId = undefined;
      throw error;
    }
  }

  #ec2(signal: AbortSignal | undefined): Promise<Ec2Client> {
    this.#client ??= this.#resolveRegion().then(
      (region) =>
        new Ec2Client({
          endpoint: this.#endpoint ?? defaultEndpoint(region),
          region,
          credentials: this.#credentials,
          requestTimeoutMs: this.#requestTimeoutMs,
          retry: this.#retry,
          fetch: this.#fetch,
        }),
      (error: unknown) => {
        this.#client = undefined;
        throw error;
      },
    );
    return withSignal(this.#client, signal);
  }

  // Shared (through #client) by concurrent callers: it takes none's signal; IMDS timeouts bound it.
  async #resolveRegion(): Promise<string> {
    if (this.#region !== undefined) return this.#region;
    const path = '/latest/meta-data/placement/region';
    const region = await this.#metadata(path, undefined);
    if (!REGION.test(region)) throw new AwsMetadataError(path, 'the answer is not a region');
    this.#region = region;
    return region;
  }

  #metadata(path: string, signal: AbortSignal | undefined): Promise<string> {
    if (this.#imds === undefined) {
      return Promise.reject(new AwsMetadataError(path, 'AWS_EC2_METADATA_DISABLED is set'));
    }
    return this.#imds.get(path, signal);
  }
}

/** EC2's regional endpoint: the China regions live under their own domain. */
function defaultEndpoint(region: string): string {
  return `https://ec2.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

function checkRegion(value: unknown, field: string): string {
  const region = checkString(value, field, 32);
  if (!REGION.test(region)) throw new ConfigError(field, "expected an AWS region such as 'eu-west-1'");
  return region;
}

function checkCredentials(value: unknown, prefix = 'credentials.'): AwsCredentials {
  const field = prefix === 'env.' ? 'env' : 'credentials';
  const c = checkObject(value, field);
  if (prefix !== 'env.') checkKnownKeys(c, CREDENTIAL_KEYS, prefix);
  const names =
    prefix === 'env.'
      ? {
          accessKeyId: 'env.AWS_ACCESS_KEY_ID',
          secretAccessKey: 'env.AWS_SECRET_ACCESS_KEY',
          sessionToken: 'env.AWS_SESSION_TOKEN',
        }
      : {
          accessKeyId: 'credentials.accessKeyId',
          secretAccessKey: 'credentials.secretAccessKey',
          sessionToken: 'credentials.sessionToken',
        };
  // Messages never echo the values: a misplaced secret must not end up in a log through its error.
  const accessKeyId = c.accessKeyId;
  if (typeof accessKeyId !== 'string' || !/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
    throw new ConfigError(names.accessKeyId, 'expected an access key ID (16-128 upper-case letters and digits)');
  }
  const secretAccessKey = c.secretAccessKey;
  if (typeof secretAccessKey !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(secretAccessKey)) {
    throw new ConfigError(names.secretAccessKey, 'expected a secret access key (printable ASCII without spaces)');
  }
  const sessionToken = c.sessionToken;
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || !/^[\x21-\x7e]{1,8192}$/.test(sessionToken))) {
    throw new ConfigError(names.sessionToken, 'expected a session token (printable ASCII without spaces)');
  }
  return { accessKeyId, secretAccessKey, sessionToken };
}
