import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {}

export type FlagValues = Record<string, string | boolean | undefined>;

/** Parses `args` strictly: unknown flags and stray positionals are usage errors. */
export function parseFlags(args: string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return values as FlagValues;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function intFlag(values: FlagValues, name: string, min = 0): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name}: expected an integer >= ${min}, got '${String(raw)}'`);
  }
  return value;
}

export function numberFlag(values: FlagValues, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${name}: expected a number, got '${String(raw)}'`);
  }
  return value;
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

export function listFlag(values: FlagValues, name: string): string[] {
  const raw = stringFlag(values, name);
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((item) => item.trim());
}

/** Reads a secret from a file, trimming one trailing newline; errors never include the content. */
export function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.length === 0) throw new UsageError(`--${flag}: ${path} is empty`);
  return value;
}
