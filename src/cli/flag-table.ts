/**
 * The command line as a table. Every flag of every command is one {@link Flag}: its name, its argument, its
 * default (taken from the library's defaults tables, never restated), its validator and its help line. Commands
 * are lists of {@link FlagGroup}s; `leader-ip run`'s groups also contribute hooks (cross-flag validation, the
 * node's options, what to attach to the node), so a feature adds its flags and its wiring in one file under
 * `src/cli/flags/`. Every flag is parsed and validated before the command does any I/O, and every error names
 * the flag (`--lease-ms: …`), not the library option behind it.
 * @module
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';
import { parseEndpoint } from '../util/address.ts';

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * One flag. `parse` turns the raw text (`'true'` for a switch) into the value or throws a {@link UsageError} that
 * names the flag. `option` is the library option this flag feeds (`leaseMs`, `transport.idleTimeoutMs`): a
 * library {@link ConfigError} about that option is reported as this flag.
 */
export interface Flag<T> {
  /** The name without dashes: `lease-ms` for `--lease-ms`. */
  readonly name: string;
  /** The argument's placeholder in help (`N`, `HOST:PORT`); undefined for a switch, which takes no argument. */
  readonly metavar: string | undefined;
  /** One line of help (wrapped by hand with `\n` if longer). */
  readonly help: string;
  /** The value when the flag is absent (undefined: none). Take it from the library's defaults table. */
  readonly default: T | undefined;
  /** How help shows the default when it is not simply `default` (`4 heartbeats`). */
  readonly defaultText: string | undefined;
  /** The library option this flag sets, so library errors about it can name the flag. */
  readonly option: string | undefined;
  /** Validates and converts the raw text; throws a UsageError naming `--name`. */
  parse(raw: string): T;
  /** A list flag that may be given several times: its occurrences are joined (`--ip a --ip b` is `--ip a,b`). */
  readonly repeatable?: boolean | undefined;
}

/** Any flag, whatever its value type (for lists of flags). */
// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous list of flags; values are read back typed via get().
export type AnyFlag = Flag<any>;

/** What the shared constructors accept besides the validator. */
export interface FlagInit<T> {
  name: string;
  help: string;
  metavar?: string | undefined;
  default?: T | undefined;
  defaultText?: string | undefined;
  option?: string | undefined;
}

function make<T>(init: FlagInit<T>, metavar: string | undefined, parse: (raw: string, flag: string) => T): Flag<T> {
  const flag = `--${init.name}`;
  return {
    name: init.name,
    metavar,
    help: init.help,
    default: init.default,
    defaultText: init.defaultText,
    option: init.option,
    parse: (raw) => parse(raw, flag),
  };
}

/** A switch: `--insecure`. In a config file: `true` or `false`. */
export function switchFlag(init: FlagInit<boolean>): Flag<boolean> {
  return make(init, undefined, (raw, flag) => {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new UsageError(`${flag}: takes no value (got '${raw}')`);
  });
}

/** Free text, optionally checked: `check` returns a problem to report, or undefined. */
export function stringFlag(init: FlagInit<string> & { check?: (value: string) => string | undefined }): Flag<string> {
  return make(init, init.metavar ?? 'TEXT', (raw, flag) => {
    if (raw === '') throw new UsageError(`${flag}: must not be empty`);
    const problem = init.check?.(raw);
    if (problem !== undefined) throw new UsageError(`${flag}: ${problem}`);
    return raw;
  });
}

/** An integer in [min, max]. */
export function intFlag(init: FlagInit<number> & { min: number; max?: number }): Flag<number> {
  const max = init.max ?? Number.MAX_SAFE_INTEGER;
  return make(init, init.metavar ?? 'N', (raw, flag) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < init.min) {
      throw new UsageError(`${flag}: expected an integer >= ${init.min}, got '${raw}'`);
    }
    if (value > max) throw new UsageError(`${flag}: at most ${max}, got '${raw}'`);
    return value;
  });
}

/** A finite number in [min, max]. */
export function numberFlag(init: FlagInit<number> & { min: number; max: number }): Flag<number> {
  return make(init, init.metavar ?? 'N', (raw, flag) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag}: expected a number, got '${raw}'`);
    if (value < init.min || value > init.max) {
      throw new UsageError(`${flag}: expected a number from ${init.min} to ${init.max}, got '${raw}'`);
    }
    return value;
  });
}

/** One of a fixed set of words. */
export function enumFlag<const V extends string>(init: FlagInit<V> & { values: readonly V[] }): Flag<V> {
  return make(init, init.metavar ?? init.values.join('|'), (raw, flag) => {
    if ((init.values as readonly string[]).includes(raw)) return raw as V;
    throw new UsageError(`${flag}: expected ${init.values.map((v) => `'${v}'`).join(' or ')}, got '${raw}'`);
  });
}

/** A comma-separated list (a JSON array in a config file); each item checked by `item`. */
export function listFlag(
  init: FlagInit<string[]> & { item?: (value: string, flag: string) => void; repeatable?: boolean | undefined },
): Flag<string[]> {
  const flag = make(init, init.metavar ?? 'LIST', (raw, flag) => {
    if (raw.trim() === '') return [];
    const items = raw.split(',').map((item) => item.trim());
    items.forEach((item, index) => {
      if (item === '') throw new UsageError(`${flag}: item ${index + 1} is empty`);
      init.item?.(item, flag);
    });
    return items;
  });
  return init.repeatable === true ? { ...flag, repeatable: true } : flag;
}

/** `HOST:PORT` or `[V6]:PORT`, checked with the library's own endpoint parser. */
export function endpointFlag(init: FlagInit<string> & { allowZeroPort?: boolean }): Flag<string> {
  return make(init, init.metavar ?? 'HOST:PORT', (raw, flag) => {
    checkEndpoint(raw, flag, init.allowZeroPort === true);
    return raw;
  });
}

/** Throws a UsageError naming `flag` when `raw` is not `host:port`. */
export function checkEndpoint(raw: string, flag: string, allowZeroPort = false): void {
  try {
    parseEndpoint(raw, flag, allowZeroPort);
  } catch (error) {
    throw error instanceof ConfigError ? new UsageError(error.message) : error;
  }
}

/** An IP address (IPv4 or IPv6, or only the `families` given). */
export function ipFlag(init: FlagInit<string> & { families?: readonly (4 | 6)[] }): Flag<string> {
  const families = init.families ?? [4, 6];
  const expected = families.length === 2 ? 'an IPv4 or IPv6 address' : `an IPv${families[0]} address`;
  return make(init, init.metavar ?? 'IP', (raw, flag) => {
    if (!families.includes(isIP(raw) as 4 | 6)) throw new UsageError(`${flag}: expected ${expected}, got '${raw}'`);
    return raw;
  });
}

/** An absolute http(s) URL without credentials, query or fragment. */
export function urlFlag(init: FlagInit<string>): Flag<string> {
  return make(init, init.metavar ?? 'URL', (raw, flag) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`${flag}: expected an absolute http(s) URL, got '${raw}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`${flag}: expected an http(s) URL, got '${raw}'`);
    }
    if (url.username !== '' || url.password !== '') throw new UsageError(`${flag}: must not contain credentials`);
    if (url.search !== '' || url.hash !== '') throw new UsageError(`${flag}: must not contain a query or fragment`);
    return raw;
  });
}

/** A path to a file or directory (not read here: a group's `validate` hook reads it). */
export function pathFlag(init: FlagInit<string>): Flag<string> {
  return stringFlag({ ...init, metavar: init.metavar ?? 'PATH' });
}

/** A titled set of flags, printed together in help. */
export interface FlagGroup {
  readonly title: string;
  readonly flags: readonly AnyFlag[];
}

/** `--help` (every command) and `--config` (commands that read a config file). */
export const HELP_FLAG = switchFlag({ name: 'help', help: 'show this help' });

/** The parsed command line: each flag's validated value, the defaults filled in. */
export class FlagValues {
  readonly #values = new Map<string, unknown>();
  readonly #given = new Set<string>();
  readonly #flags: ReadonlyMap<string, AnyFlag>;

  constructor(flags: ReadonlyMap<string, AnyFlag>) {
    this.#flags = flags;
  }

  /** Records a validated value (from the command line or the config file). */
  set<T>(flag: Flag<T>, value: T): void {
    this.#values.set(flag.name, value);
    this.#given.add(flag.name);
  }

  /** The flag's value: as given, else its default (undefined when it has none). */
  get<T>(flag: Flag<T>): T | undefined {
    if (!this.#flags.has(flag.name)) throw new Error(`flag --${flag.name} is not part of this command`);
    return this.#given.has(flag.name) ? (this.#values.get(flag.name) as T) : flag.default;
  }

  /** Whether the flag was given (on the command line or in the config file). */
  has(flag: AnyFlag): boolean {
    return this.#given.has(flag.name);
  }
}

/**
 * Parses `args` against `groups` (plus `--help`). Accepts `--name value`, `--name=value` and, for switches,
 * `--name`. A value flag always takes the next argument, so `--max-drift -0.5` reaches the validator (which names
 * the flag) instead of being read as another option. `config`, when given, supplies values first (command-line
 * flags override it). Unknown flags get a "did you mean". Throws {@link UsageError}.
 */
export function parseCommandLine(
  args: readonly string[],
  groups: readonly FlagGroup[],
  config?: (values: FlagValues, byName: ReadonlyMap<string, AnyFlag>) => void,
  configFlag?: Flag<string>,
): FlagValues {
  const byName = new Map<string, AnyFlag>();
  for (const flag of [...groups.flatMap((group) => group.flags), HELP_FLAG, ...(configFlag ? [configFlag] : [])]) {
    if (byName.has(flag.name)) throw new Error(`flag --${flag.name} defined twice`);
    byName.set(flag.name, flag);
  }
  const raw: [AnyFlag, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-h') {
      raw.push([HELP_FLAG, 'true']);
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument '${arg}' (flags start with --; see --help)`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const flag = byName.get(name);
    if (flag === undefined) throw new UsageError(unknownFlag(name, [...byName.keys()]));
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (flag.metavar === undefined) value = 'true';
    else {
      const next = args[i + 1];
      if (next === undefined) throw new UsageError(`--${name} needs a value (${flag.metavar})`);
      value = next;
      i++;
    }
    raw.push([flag, value]);
  }
  const values = new FlagValues(byName);
  if (raw.some(([flag]) => flag === HELP_FLAG)) {
    values.set(HELP_FLAG, true);
    return values;
  }
  const seen = new Set<string>();
  for (const [flag] of raw) {
    if (seen.has(flag.name) && flag.repeatable !== true) throw new UsageError(`--${flag.name} given twice`);
    seen.add(flag.name);
  }
  if (configFlag !== undefined) {
    const configEntry = raw.find(([flag]) => flag === configFlag);
    if (configEntry !== undefined) {
      values.set(configFlag, configFlag.parse(configEntry[1]));
      config?.(values, byName);
    }
  }
  const texts = new Map<AnyFlag, string[]>();
  for (const [flag, text] of raw) if (flag !== configFlag) texts.set(flag, [...(texts.get(flag) ?? []), text]);
  // A repeated flag's occurrences form one list; an empty one (`--ip ''`) would hide a typo, so it stays an error.
  for (const [flag, list] of texts) values.set(flag, flag.parse(list.join(',')));
  return values;
}

/**
 * Reads a JSON config file whose keys are flag names without dashes (`{"listen": "10.0.0.2:7400", "peers":
 * ["10.0.0.3:7400"], "lease-ms": 1000, "insecure": false}`) and validates every value with its flag's own
 * validator. Errors name the file and the key. Returns nothing: values land in `values`.
 */
export function loadConfigFile(path: string, values: FlagValues, byName: ReadonlyMap<string, AnyFlag>): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--config: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config: ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new UsageError(`--config: ${path} must hold a JSON object of flag names and values`);
  }
  for (const [key, value] of Object.entries(document)) {
    const flag = byName.get(key);
    if (flag === undefined || flag === HELP_FLAG || key === 'config') {
      const names = [...byName.keys()].filter((name) => name !== 'help' && name !== 'config');
      throw new UsageError(`--config: ${path}: ${unknownFlag(key, names, '')}`);
    }
    let raw: string;
    if (typeof value === 'string') raw = value;
    else if (typeof value === 'number' || typeof value === 'boolean') raw = String(value);
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) raw = value.join(',');
    else throw new UsageError(`--config: ${path}: "${key}": expected a string, number, boolean or array of strings`);
    if (flag.metavar === undefined && typeof value !== 'boolean') {
      throw new UsageError(`--config: ${path}: "${key}": expected true or false`);
    }
    try {
      values.set(flag, flag.parse(raw));
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(`--config: ${path}: ${error.message}`);
      throw error;
    }
  }
}

/** "unknown flag --lese-ms (did you mean --lease-ms?)". */
export function unknownFlag(name: string, known: readonly string[], dashes = '--'): string {
  const best = closest(name, known);
  const what = dashes === '' ? `unknown key "${name}"` : `unknown flag ${dashes}${name}`;
  return best === undefined ? `${what} (see --help)` : `${what} (did you mean ${dashes}${best}?)`;
}

/** The known name nearest to `name` by edit distance, if it is near enough to be a plausible typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))) return best;
  // A truncated name (`--floating`) is a plausible typo too, however far by edit distance.
  return name.length >= 3 ? known.find((candidate) => candidate.startsWith(name)) : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * Re-words a library {@link ConfigError} about an option a flag feeds as an error about that flag:
 * `peers[1]: duplicate peer …` becomes `--peers: item 2: duplicate peer …`. Other errors pass through.
 */
export function flagError(error: unknown, flags: readonly AnyFlag[]): unknown {
  if (!(error instanceof ConfigError)) return error;
  const match = /^([^[]+)(?:\[(\d+)\])?(.*)$/.exec(error.field);
  const root = match?.[1] ?? error.field;
  const flag = flags.find((f) => f.option === error.field) ?? flags.find((f) => f.option === root);
  if (flag === undefined) return error;
  const detail = error.message.slice(error.field.length + 2);
  const item = match?.[2] === undefined || flag.option === error.field ? '' : `item ${Number(match[2]) + 1}: `;
  return new UsageError(`--${flag.name}: ${item}${detail}`);
}

/** Help text for `groups`: one line per flag, its default appended. */
export function renderHelp(groups: readonly FlagGroup[]): string {
  const lines: string[] = [];
  for (const group of groups) {
    if (group.title !== '') lines.push(`${group.title}:`);
    for (const flag of group.flags) {
      const left = `  --${flag.name}${flag.metavar === undefined ? '' : ` ${flag.metavar}`}`;
      const shown = flag.defaultText ?? (flag.default === undefined ? undefined : String(flag.default));
      const help = shown === undefined ? flag.help : `${flag.help} (default ${shown})`;
      const [first, ...rest] = help.split('\n');
      lines.push(left.length < 25 ? `${left.padEnd(25)}${first}` : `${left}\n${' '.repeat(25)}${first}`);
      for (const line of rest) lines.push(`${' '.repeat(25)}${line}`);
    }
  }
  lines.push('  --help                 show this help');
  return lines.join('\n');
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
