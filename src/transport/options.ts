/**
 * The transport's options: one table of defaults and one validator per option. `TcpTransport` resolves its own
 * options with these, and `ElectionNode` validates its `transport.*` options with the very same functions in its
 * constructor (with the `transport.` prefix), so a bad value is reported once, early, with its full field path.
 * @module
 */
import { ConfigError } from '../errors.ts';
import type { Endpoint } from '../util/address.ts';
import { checkBoolean, checkInt, checkObject, checkString } from '../util/validate.ts';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from './frame.ts';
import { MAX_NAME_BYTES } from './messages.ts';
import type { TransportOptions } from './types.ts';

/** Default values of the optional {@link TransportOptions}. */
export const TRANSPORT_DEFAULTS = {
  handshakeTimeoutMs: 2000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxConnectionsPerAddress: 8,
  reconnectMinMs: 50,
  reconnectMaxMs: 2000,
  keepaliveMs: 1000,
  idleTimeoutMs: 5000,
  maxWriteBufferBytes: 1024 * 1024,
  encrypt: false,
} as const;

/** Shortest accepted secret, in bytes. */
export const MIN_SECRET_BYTES = 32;

/** Longest host name accepted, so `host:port` fits the HELLO's 255-byte advertised field. */
export const MAX_HOST_LENGTH = 240;

/** An hour: no timeout or delay of the transport sensibly exceeds it, and a typo (extra zeros) is caught. */
const MAX_DELAY_MS = 3_600_000;

/** The numeric tuning knobs, resolved. */
export interface TransportTuningValues {
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  maxConnectionsPerAddress: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  keepaliveMs: number;
  idleTimeoutMs: number;
  maxWriteBufferBytes: number;
}

/** Name of a numeric tuning knob. */
export type TuningKey = keyof TransportTuningValues;

/**
 * Validates one knob. `given` holds the raw values (undefined = not given), `resolved` the knobs validated before
 * this one (the table's order), `defaults` what an absent knob takes. Throws a {@link ConfigError} naming
 * `prefix + key`; when a bound comes from another knob that was *not* given, the error names the knob that was,
 * so the user is told about the value they actually wrote.
 */
type TuningValidator = (
  given: Readonly<Partial<Record<TuningKey, unknown>>>,
  resolved: Readonly<Partial<TransportTuningValues>>,
  defaults: Readonly<TransportTuningValues>,
  prefix: string,
) => number;

/** A knob bounded below by another knob (`low`), reported on whichever of the two the user set. */
function atLeast(key: TuningKey, low: TuningKey, factor: number, max: number): TuningValidator {
  return (given, resolved, defaults, prefix) => {
    const bound = factor * (resolved[low] as number);
    if (given[key] === undefined) {
      const value = defaults[key];
      if (value < bound) {
        throw new ConfigError(
          `${prefix}${low}`,
          `${resolved[low]} needs ${prefix}${key} >= ${bound}, but it is ${value} by default; set it too`,
        );
      }
      return value;
    }
    return checkInt(given[key], `${prefix}${key}`, bound, max);
  };
}

function plain(key: TuningKey, min: number, max: number): TuningValidator {
  return (given, _resolved, defaults, prefix) => checkInt(given[key] ?? defaults[key], `${prefix}${key}`, min, max);
}

/** One validator per knob, in dependency order (a knob's bounds may depend on the ones above it). */
const TUNING_VALIDATORS: readonly [TuningKey, TuningValidator][] = [
  ['handshakeTimeoutMs', plain('handshakeTimeoutMs', 1, MAX_DELAY_MS)],
  ['maxFrameBytes', plain('maxFrameBytes', MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES)],
  ['maxConnectionsPerAddress', plain('maxConnectionsPerAddress', 1, 0xffff)],
  ['reconnectMinMs', plain('reconnectMinMs', 1, MAX_DELAY_MS)],
  ['reconnectMaxMs', atLeast('reconnectMaxMs', 'reconnectMinMs', 1, MAX_DELAY_MS)],
  ['keepaliveMs', plain('keepaliveMs', 2, MAX_DELAY_MS)],
  ['idleTimeoutMs', atLeast('idleTimeoutMs', 'keepaliveMs', 2, MAX_DELAY_MS)],
  ['maxWriteBufferBytes', atLeast('maxWriteBufferBytes', 'maxFrameBytes', 1, 2 ** 30)],
];

/** The knob names, for unknown-key checks. */
export const TUNING_KEYS: readonly TuningKey[] = TUNING_VALIDATORS.map(([key]) => key);

/**
 * Validates the numeric knobs of `given` against `defaults` (the transport's, or a caller's derived ones), naming
 * each field `prefix + key` (`transport.maxFrameBytes` when called by `ElectionNode`).
 */
export function resolveTuning(
  given: Readonly<Partial<Record<TuningKey, unknown>>>,
  prefix: string,
  defaults: Readonly<TransportTuningValues> = TRANSPORT_DEFAULTS,
): TransportTuningValues {
  const resolved: Partial<TransportTuningValues> = {};
  for (const [key, validate] of TUNING_VALIDATORS) resolved[key] = validate(given, resolved, defaults, prefix);
  return resolved as TransportTuningValues;
}

/** Validates an advertised or listen endpoint object (`{ host, port }`). */
export function checkEndpointObject(value: unknown, field: string, minPort: number): Endpoint {
  const endpoint = checkObject(value, field);
  return {
    host: checkString(endpoint.host, `${field}.host`, MAX_HOST_LENGTH),
    port: checkInt(endpoint.port, `${field}.port`, minPort, 65535),
  };
}

/** Validates a cluster name: non-empty, at most {@link MAX_NAME_BYTES} UTF-8 bytes (it travels in the HELLO). */
export function checkClusterName(value: unknown, field: string): string {
  const cluster = checkString(value, field);
  if (Buffer.byteLength(cluster, 'utf8') > MAX_NAME_BYTES) {
    throw new ConfigError(field, `expected at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  }
  return cluster;
}

/** {@link TransportOptions}, validated and with every default applied. */
export interface ResolvedTransportOptions extends TransportTuningValues {
  nodeId: number;
  listen: Endpoint;
  cluster: string;
  clusterSize: number;
  insecure: boolean;
  encrypt: boolean;
  advertise: Endpoint | undefined;
}

/** Validates a `TcpTransport`'s options (all but the secret, which the transport checks and copies itself). */
export function resolveTransportOptions(options: TransportOptions): ResolvedTransportOptions {
  checkObject(options, 'transport');
  return {
    nodeId: checkInt(options.nodeId, 'nodeId', 1),
    listen: checkEndpointObject(options.listen, 'listen', 0),
    cluster: checkClusterName(options.cluster, 'cluster'),
    clusterSize: checkInt(options.clusterSize, 'clusterSize', 1, 0xffff),
    insecure: checkBoolean(options.insecure ?? false, 'insecure'),
    encrypt: checkBoolean(options.encrypt ?? TRANSPORT_DEFAULTS.encrypt, 'encrypt'),
    advertise: options.advertise === undefined ? undefined : checkEndpointObject(options.advertise, 'advertise', 1),
    ...resolveTuning(options, ''),
  };
}
