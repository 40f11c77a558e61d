import { ConfigError } from '../errors.ts';

/** Checks that `value` is an integer in [min, max]; throws a {@link ConfigError} naming `field` otherwise. */
export function checkInt(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `expected an integer in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

/** Checks that `value` is a finite number in [min, max]. */
export function checkNumber(value: unknown, field: string, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(field, `expected a number in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

/** Checks that `value` is a non-empty string (at most `maxLength` characters). */
export function checkString(value: unknown, field: string, maxLength = 1024): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new ConfigError(field, `expected a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

/** Checks that `value` is a boolean. */
export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(field, `expected a boolean, got ${show(value)}`);
  return value;
}

/** Checks that `value` is a plain object (options bag). */
export function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(field, 'expected an options object');
  }
  return value as Record<string, unknown>;
}

/** Throws a {@link ConfigError} for any own key of `options` not listed in `known` (catches typos). */
export function checkKnownKeys(options: Record<string, unknown>, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError(`${prefix}${key}`, 'unknown option');
  }
}

// Values are shown by type only for non-numbers: an options bag may carry secrets.
function show(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * An absolute http(s) base URL without credentials, query or fragment (and, with `pathless`, without a path),
 * returned without trailing slashes. Throws a {@link ConfigError} naming `field`.
 */
export function checkHttpUrl(value: unknown, field: string, options: { pathless?: boolean } = {}): string {
  const text = checkString(value, field);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(field, 'expected an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(field, 'expected an http(s) URL');
  if (url.username !== '' || url.password !== '') throw new ConfigError(field, 'must not contain credentials');
  if (url.search !== '' || url.hash !== '') throw new ConfigError(field, 'must not contain a query or fragment');
  if (options.pathless === true && url.pathname !== '/') throw new ConfigError(field, 'must not contain a path');
  return text.replace(/\/+$/, '');
}
