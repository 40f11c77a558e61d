import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FlagGroup,
  flagError,
  intFlag,
  listFlag,
  loadConfigFile,
  parseCommandLine,
  pathFlag,
  renderHelp,
  switchFlag,
  UsageError,
} from '../src/cli/flag-table.ts';
import { LISTEN, PEERS } from '../src/cli/flags/cluster.ts';
import { RUN_GROUPS } from '../src/cli/flags/index.ts';
import { CONFIG as RUN_CONFIG, RUN_USAGE, runCommand } from '../src/cli/run.ts';
import { statusCommand } from '../src/cli/status.ts';
import { ConfigError } from '../src/errors.ts';

/** The table-driven command line: parsing, validation before I/O, errors that name the flag, the config file. */

const COUNT = intFlag({ name: 'count', min: 2, max: 9, help: 'how many', default: 3, option: 'count' });
const DRIFT = intFlag({ name: 'offset', min: -100, help: 'may be negative' });
const LIST = listFlag({ name: 'items', help: 'items', option: 'items' });
const ON = switchFlag({ name: 'on', help: 'a switch' });
const GROUPS: FlagGroup[] = [{ title: 'Test', flags: [COUNT, DRIFT, LIST, ON] }];
const CONFIG = pathFlag({ name: 'config', help: 'config file' });

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

async function usageAsync(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('flag table: parsing', () => {
  it('reads --name value, --name=value and switches, and applies defaults', () => {
    const values = parseCommandLine(['--count', '4', '--items=a,b', '--on'], GROUPS);
    assert.equal(values.get(COUNT), 4);
    assert.deepEqual(values.get(LIST), ['a', 'b']);
    assert.equal(values.get(ON), true);
    assert.equal(values.get(DRIFT), undefined);
    const defaults = parseCommandLine([], GROUPS);
    assert.equal(defaults.get(COUNT), 3);
    assert.equal(defaults.has(COUNT), false);
  });

  it('hands a negative number to the validator instead of reading it as a flag', () => {
    assert.equal(parseCommandLine(['--offset', '-5'], GROUPS).get(DRIFT), -5);
    assert.equal(
      usage(() => parseCommandLine(['--count', '-1'], GROUPS)),
      "--count: expected an integer >= 2, got '-1'",
    );
  });

  it('names the flag in every error', () => {
    assert.equal(
      usage(() => parseCommandLine(['--count', '12'], GROUPS)),
      "--count: at most 9, got '12'",
    );
    assert.equal(
      usage(() => parseCommandLine(['--count'], GROUPS)),
      '--count needs a value (N)',
    );
    assert.equal(
      usage(() => parseCommandLine(['--on=yes'], GROUPS)),
      "--on: takes no value (got 'yes')",
    );
    assert.equal(
      usage(() => parseCommandLine(['--count', '3', '--count', '4'], GROUPS)),
      '--count given twice',
    );
    assert.match(
      usage(() => parseCommandLine(['stray'], GROUPS)),
      /^unexpected argument 'stray'/,
    );
  });

  it('suggests the nearest flag for an unknown one', () => {
    assert.equal(
      usage(() => parseCommandLine(['--cuont', '3'], GROUPS)),
      'unknown flag --cuont (did you mean --count?)',
    );
    assert.equal(
      usage(() => parseCommandLine(['--ite'], GROUPS)),
      'unknown flag --ite (did you mean --items?)',
    );
    assert.equal(
      usage(() => parseCommandLine(['--zzzzzzzz'], GROUPS)),
      'unknown flag --zzzzzzzz (see --help)',
    );
    assert.equal(
      usage(() => parseCommandLine(['--lese-ms', '5'], RUN_GROUPS)),
      'unknown flag --lese-ms (did you mean --lease-ms?)',
    );
  });

  it('turns a library ConfigError about a flag-fed option into one about the flag', () => {
    const items = flagError(new ConfigError('items[1]', "duplicate peer 'x'"), [LIST]) as Error;
    assert.ok(items instanceof UsageError);
    assert.equal(items.message, "--items: item 2: duplicate peer 'x'");
    const other = new ConfigError('elsewhere', 'bad');
    assert.equal(flagError(other, [LIST]), other);
  });

  it('renders help from the table, defaults included', () => {
    const help = renderHelp(GROUPS);
    assert.match(help, /^Test:\n {2}--count N {14}how many \(default 3\)$/m);
    assert.match(help, /^ {2}--on {19}a switch$/m);
    // Every run flag appears in `leader-ip run --help`.
    for (const group of RUN_GROUPS)
      for (const flag of group.flags) assert.match(RUN_USAGE, new RegExp(`--${flag.name}\\b`));
  });
});

describe('flag table: config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leader-ip-flags-'));
  const file = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  };
  const parse = (args: string[]) =>
    parseCommandLine(
      args,
      GROUPS,
      (values, byName) => loadConfigFile(values.get(CONFIG) as string, values, byName),
      CONFIG,
    );

  it('takes values from the file, typed as JSON; flags override it', () => {
    const path = file('ok.json', JSON.stringify({ count: 5, items: ['a', 'b'], on: true }));
    const values = parse(['--config', path, '--count', '6']);
    assert.equal(values.get(COUNT), 6);
    assert.deepEqual(values.get(LIST), ['a', 'b']);
    assert.equal(values.get(ON), true);
  });

  it('names the file and the key in errors, with a suggestion for unknown keys', () => {
    const bad = file('bad.json', JSON.stringify({ count: 1 }));
    assert.equal(
      usage(() => parse(['--config', bad])),
      `--config: ${bad}: --count: expected an integer >= 2, got '1'`,
    );
    const typo = file('typo.json', JSON.stringify({ cont: 4 }));
    assert.equal(
      usage(() => parse(['--config', typo])),
      `--config: ${typo}: unknown key "cont" (did you mean count?)`,
    );
    const notJson = file('not.json', '{ nope');
    assert.match(
      usage(() => parse(['--config', notJson])),
      /is not valid JSON/,
    );
    const onText = file('switch.json', JSON.stringify({ on: 'yes' }));
    assert.equal(
      usage(() => parse(['--config', onText])),
      `--config: ${onText}: "on": expected true or false`,
    );
    assert.match(
      usage(() => parse(['--config', join(dir, 'missing.json')])),
      /^--config: cannot read .* \(ENOENT\)$/,
    );
  });
});

describe('leader-ip run: validation before any I/O', () => {
  let metadataRequests = 0;
  let metadataUrl = '';
  const server = createServer((_req, res) => {
    metadataRequests++;
    res.end('7');
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    metadataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    usageAsync(runCommand(['--metadata-url', metadataUrl, ...args], env));

  it('names a bad --floating-ip before asking the metadata service', async () => {
    const message = await run(['--listen', '127.0.0.1:0', '--floating-ip', 'not-an-ip'], { DIGITALOCEAN_TOKEN: 't' });
    assert.equal(message, "--floating-ip: expected an IPv4 or IPv6 address, got 'not-an-ip'");
    assert.equal(metadataRequests, 0);
  });

  it('names --secret-file/--insecure (not the option) for a public address without a secret', async () => {
    const message = await run(['--listen', '0.0.0.0:7400']);
    assert.match(message, /^--listen 0\.0\.0\.0:7400 .*--secret-file PATH .*--insecure/);
    assert.equal(metadataRequests, 0);
  });

  it('names the flag for a negative or out-of-range number', async () => {
    assert.equal(
      await run(['--listen', '127.0.0.1:0', '--max-drift', '-0.5']),
      "--max-drift: expected a number from 0 to 0.2, got '-0.5'",
    );
    assert.equal(
      await run(['--listen', '127.0.0.1:0', '--lease-ms', '-5']),
      "--lease-ms: expected an integer >= 1, got '-5'",
    );
  });

  it('names the flag when the library refuses a combination (timing, peers)', async () => {
    const timing = await run(['--listen', '127.0.0.1:0', '--lease-ms', '100', '--heartbeat-ms', '90']);
    assert.match(timing, /^--(lease-ms|heartbeat-ms|peer-timeout-ms): /);
    const dup = await run(['--listen', '127.0.0.1:0', '--peers', 'localhost:7401,127.0.0.1:7401']);
    assert.equal(dup, "--peers: item 2: '127.0.0.1:7401' is the same peer as 'localhost:7401'");
    const self = await run(['--listen', '127.0.0.1:7400', '--peers', 'localhost:7400']);
    assert.equal(self, "--peers: item 1: 'localhost:7400' is this node's own listen address");
    assert.equal(metadataRequests, 0);
  });

  it('requires --listen, a secret for --encrypt, a token for --floating-ip, and --floating-ip for its options', async () => {
    assert.equal(await run([]), '--listen is required');
    assert.match(await run(['--listen', '127.0.0.1:0', '--encrypt']), /^--encrypt needs --secret-file/);
    assert.match(
      await run(['--listen', '127.0.0.1:0', '--floating-ip', '203.0.113.1']),
      /^--floating-ip needs a token/,
    );
    assert.equal(await run(['--listen', '127.0.0.1:0', '--poll-ms', '10']), '--poll-ms needs --floating-ip');
    assert.equal(metadataRequests, 0);
  });

  it("the operations guide's config file is valid for leader-ip run", () => {
    const guide = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
    const json = /## systemd[\s\S]*?```json\n([\s\S]*?)```/.exec(guide)?.[1];
    assert.ok(json !== undefined, 'a JSON config under ## systemd');
    const dir = mkdtempSync(join(tmpdir(), 'leader-ip-guide-'));
    const path = join(dir, 'leader-ip.json');
    writeFileSync(path, json);
    const values = parseCommandLine(
      ['--config', path],
      RUN_GROUPS,
      (into, byName) => loadConfigFile(into.get(RUN_CONFIG) as string, into, byName),
      RUN_CONFIG,
    );
    assert.equal(values.get(LISTEN), '10.116.0.2:7400');
    assert.deepEqual(values.get(PEERS), ['10.116.0.3:7400', '10.116.0.4:7400']);
  });

  it('reads a config file for run, flags overriding it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leader-ip-run-'));
    const path = join(dir, 'leader-ip.json');
    writeFileSync(path, JSON.stringify({ listen: '127.0.0.1:0', peers: ['127.0.0.1:7401', 'localhost:7401'] }));
    assert.equal(
      await run(['--config', path]),
      "--peers: item 2: 'localhost:7401' is the same peer as '127.0.0.1:7401'",
    );
    assert.equal(
      await run(['--config', path, '--peers', '127.0.0.1:7401', '--encrypt']),
      '--encrypt needs --secret-file (the key is derived from the shared secret)',
    );
  });
});

describe('leader-ip status --url: only leader-ip status endpoints', () => {
  const server = createServer((req, res) => {
    if (req.url === '/status') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>not leader-ip</html>');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ hello: 'world' }));
    }
  });
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('says "not a leader-ip status endpoint" for HTML or other JSON, not a parser error', async () => {
    const out: string[] = [];
    await assert.rejects(
      statusCommand(['--url', base], (t) => out.push(t)),
      (error: Error) => {
        assert.match(
          error.message,
          /^cannot read http:\/\/127\.0\.0\.1:\d+\/status: not a leader-ip status endpoint \(HTTP 200, text\/html/,
        );
        return true;
      },
    );
    await assert.rejects(
      statusCommand(['--url', `http://${base}/other`], (t) => out.push(t)),
      /not a leader-ip status endpoint/,
    );
    assert.deepEqual(out, []);
  });

  it('refuses unsupported schemes before any request', async () => {
    for (const url of ['https://127.0.0.1:1/status', 'ftp://127.0.0.1:1/', 'file:///etc/passwd']) {
      await assert.rejects(
        statusCommand(['--url', url], () => {}),
        (error: unknown) => {
          assert.ok(error instanceof UsageError);
          assert.match(error.message, /^--url: unsupported scheme/);
          return true;
        },
      );
    }
  });
});
