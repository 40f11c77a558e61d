import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

/** A parsed `host:port` endpoint. */
export interface Endpoint {
  /** Host name or IP address, without brackets. */
  host: string;
  /** TCP port (0: any free port, for a listen address). */
  port: number;
}

/**
 * Parses `'host:port'` or `'[v6]:port'`. `field` names the option for the error message.
 * Port 0 is accepted only when `allowZeroPort` (a listen address picks a free port; a peer cannot).
 */
export function parseEndpoint(value: unknown, field: string, allowZeroPort = false): Endpoint {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `expected 'host:port' or '[v6]:port', got ${describe(value)}`);
  }
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') throw new ConfigError(field, `malformed IPv6 endpoint '${value}'`);
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) throw new ConfigError(field, `'${host}' is not an IPv6 address`);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon <= 0) throw new ConfigError(field, `expected 'host:port', got '${value}'`);
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) throw new ConfigError(field, `IPv6 addresses must be bracketed: '[${host}]:port'`);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new ConfigError(field, `invalid host '${host}'`);
  }
  if (!/^\d{1,5}$/.test(portText)) throw new ConfigError(field, `invalid port '${portText}'`);
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZeroPort)) throw new ConfigError(field, `port out of range: ${port}`);
  return { host, port };
}

/** Formats an endpoint back to its canonical `host:port` / `[v6]:port` text. */
export function formatEndpoint(endpoint: Endpoint): string {
  return isIP(endpoint.host) === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * A key equal for two spellings of the same endpoint: host case and a trailing dot ignored, IP literals in
 * canonical form (`127.1` and `127.0.0.1`, `[0:0::1]` and `[::1]`, `::ffff:10.0.0.1` and `10.0.0.1`), and every
 * loopback spelling (`localhost`, `127.0.0.1`, `::1`) one host, since `localhost` resolves to either. Used to
 * refuse one peer listed twice, which would inflate the cluster size and so the majority.
 */
export function endpointKey(endpoint: Endpoint): string {
  let host = endpoint.host.toLowerCase().replace(/\.$/, '');
  try {
    host = new URL(`http://${isIP(host) === 6 ? `[${host}]` : host}/`).hostname;
  } catch {
    // Not a valid URL host: keep it as written (parseEndpoint already vetted it).
  }
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (mapped !== null) {
    const high = Number.parseInt(mapped[1] as string, 16);
    const low = Number.parseInt(mapped[2] as string, 16);
    host = `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  if (host === 'localhost' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'))) host = 'loopback';
  return `${host}:${endpoint.port}`;
}

/** Whether `host` is a loopback address or `localhost` (where an unauthenticated cluster is tolerated). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : typeof value;
}
