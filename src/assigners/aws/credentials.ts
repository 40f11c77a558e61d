import { logger } from '../../util/log.ts';
import { withSignal } from '../timing.ts';
import { AwsCredentialsError, AwsMetadataError } from './errors.ts';
import type { ImdsClient } from './imds.ts';

const log = logger('aws');

/** Static AWS credentials: an access key pair, and the session token of temporary credentials. */
export interface AwsCredentials {
  /** Access key ID, e.g. `AKIAIOSFODNN7EXAMPLE` (not a secret, but never logged beyond its source). */
  accessKeyId: string;
  /** Secret access key. Kept in a private field; never in logs, errors or `JSON.stringify`. */
  secretAccessKey: string;
  /** Session token of temporary credentials (STS, SSO, an assumed role). Secret too. */
  sessionToken?: string | undefined;
}

/** Where the credentials in use come from. */
export type AwsCredentialSource = 'options' | 'environment' | 'instance-role';

/** Role credentials are renewed this long before they expire (IMDS rotates them well before that). */
const ROLE_REFRESH_MARGIN_MS = 5 * 60_000;

interface Resolved {
  credentials: AwsCredentials;
  /** Wall-clock expiry (ms since the epoch; IMDS reports an ISO instant), or Infinity. */
  expiresAt: number;
}

/**
 * Finds credentials the way AWS users expect, in the AWS SDKs' order: the `credentials` option, else the standard
 * environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), else the instance
 * role through IMDSv2 (`/latest/meta-data/iam/security-credentials/{role}`), renewed before it expires. The first
 * two are fixed at construction; role credentials are read when first needed.
 */
export class CredentialProvider {
  /** Where the credentials come from. */
  readonly source: AwsCredentialSource;
  readonly #imds: ImdsClient | undefined;
  #resolved: Resolved | undefined;
  #pending: Promise<Resolved> | undefined;

  constructor(fixed: AwsCredentials | undefined, source: AwsCredentialSource, imds: ImdsClient | undefined) {
    this.source = source;
    this.#imds = imds;
    if (fixed !== undefined) this.#resolved = { credentials: fixed, expiresAt: Number.POSITIVE_INFINITY };
  }

  /** Current credentials (role credentials are fetched or renewed as needed). */
  async get(signal?: AbortSignal): Promise<AwsCredentials> {
    const resolved = this.#resolved;
    // Expiry is a wall-clock instant from IMDS, so it is compared with the wall clock.
    if (resolved !== undefined && Date.now() < resolved.expiresAt - ROLE_REFRESH_MARGIN_MS) return resolved.credentials;
    if (this.source !== 'instance-role') return (resolved as Resolved).credentials;
    // One read serves every concurrent caller, so it does not take any one caller's signal (IMDS timeouts bound
    // it); each caller stops waiting on its own signal.
    this.#pending ??= this.#fromRole().finally(() => {
      this.#pending = undefined;
    });
    return (await withSignal(this.#pending, signal)).credentials;
  }

  /** Drops role credentials so the next {@link get} fetches fresh ones (EC2 said they expired). */
  invalidate(): boolean {
    if (this.source !== 'instance-role') return false;
    this.#resolved = undefined;
    return true;
  }

  async #fromRole(): Promise<Resolved> {
    const imds = this.#imds as ImdsClient;
    const base = '/latest/meta-data/iam/security-credentials/';
    let role: string;
    let text: string;
    try {
      role = (await imds.get(base)).split('\n')[0]!.trim();
      if (role === '') throw new AwsMetadataError(base, 'no instance role is attached');
      text = await imds.get(`${base}${role}`);
    } catch (error) {
      if (error instanceof AwsMetadataError) {
        throw new AwsCredentialsError(`the instance role could not be read (${error.message})`, error);
      }
      throw error;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new AwsCredentialsError('the instance role document is not JSON');
    }
    const { AccessKeyId, SecretAccessKey, Token, Expiration, Code } = body;
    if (Code !== undefined && Code !== 'Success') throw new AwsCredentialsError(`IMDS reports ${String(Code)}`);
    if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof Token !== 'string') {
      throw new AwsCredentialsError('the instance role document lacks AccessKeyId, SecretAccessKey or Token');
    }
    const expiresAt = typeof Expiration === 'string' ? Date.parse(Expiration) : Number.NaN;
    log('credentials of instance role %s, key %s, expire %s', role, AccessKeyId, Expiration);
    const resolved: Resolved = {
      credentials: { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: Token },
      expiresAt: Number.isNaN(expiresAt) ? Date.now() + 15 * 60_000 : expiresAt,
    };
    this.#resolved = resolved;
    return resolved;
  }

  /** Never shows the credentials. */
  toJSON(): { source: AwsCredentialSource } {
    return { source: this.source };
  }
}
