import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../src/cli/flag-table.ts';
import { runCommand } from '../src/cli/run.ts';
import { ConfigError } from '../src/errors.ts';
import { commandHealthCheck, httpHealthCheck, splitCommand } from '../src/health/checks.ts';

/** The ready-made health checks (HTTP 2xx, command exit 0) and the CLI flags that use them. */

describe('splitCommand', () => {
  it('splits words without a shell: quotes group, backslash escapes, shell syntax stays literal', () => {
    assert.deepEqual(splitCommand('pg_isready -h  db\t-p 5432'), ['pg_isready', '-h', 'db', '-p', '5432']);
    assert.deepEqual(splitCommand(`curl -H 'X-A: b c' "say \\"hi\\"" a\\ b ''`), [
      'curl',
      '-H',
      'X-A: b c',
      'say "hi"',
      'a b',
      '',
    ]);
    assert.deepEqual(splitCommand('a | b $HOME *'), ['a', '|', 'b', '$HOME', '*']);
  });
  it('rejects an unterminated quote or a trailing backslash, naming the field', () => {
    assert.throws(
      () => splitCommand("a 'b", 'health.command'),
      (e: unknown) => e instanceof ConfigError,
    );
    assert.throws(() => splitCommand('a \\'), /lone backslash/);
  });
});

describe('commandHealthCheck', () => {
  const signal = () => AbortSignal.timeout(5000);
  it('passes on exit 0 and fails on any other exit, without a shell', async () => {
    assert.equal(await commandHealthCheck('true')(signal()), true);
    await assert.rejects(async () => commandHealthCheck('false')(signal()), /exit status 1/);
    // Without a shell, `;` is an argument of `true`, not a second command.
    assert.equal(await commandHealthCheck('true ; false')(signal()), true);
    await assert.rejects(async () => commandHealthCheck('true ; false', { shell: true })(signal()), /exit status 1/);
    await assert.rejects(async () => commandHealthCheck('/nonexistent/check')(signal()), /ENOENT/);
  });
  it('kills a command cut off by its signal', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const running = commandHealthCheck(['sleep', '30'])(controller.signal);
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(async () => running);
    assert.ok(performance.now() - started < 5000, 'the command was not killed');
  });
});

describe('httpHealthCheck', () => {
  let status = 200;
  let hang = false;
  const server = createServer((_req, res) => {
    if (hang) return;
    res.writeHead(status).end('body');
  });
  let url = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  it('passes on 2xx, fails on anything else (redirects not followed), aborts on its signal', async () => {
    const check = httpHealthCheck(url);
    assert.equal(await check(AbortSignal.timeout(5000)), true);
    status = 503;
    await assert.rejects(async () => check(AbortSignal.timeout(5000)), /HTTP 503/);
    status = 302;
    await assert.rejects(async () => check(AbortSignal.timeout(5000)), /HTTP 302/);
    hang = true;
    await assert.rejects(async () => check(AbortSignal.timeout(50)));
  });
  it('rejects a URL that is not http(s)', () => {
    assert.throws(
      () => httpHealthCheck('ftp://x/'),
      (e: unknown) => e instanceof ConfigError && e.field === 'health.url',
    );
  });
});

describe('leader-ip run: health and leadership flags', () => {
  const base = ['--listen', '127.0.0.1:0', '--id', '1', '--peers', '127.0.0.1:9'];
  const cases: [string[], RegExp][] = [
    [['--health-url', 'http://a/', '--health-cmd', 'true'], /--health-url and --health-cmd/],
    [['--health-shell'], /--health-shell needs --health-cmd/],
    [['--fall', '2'], /--fall needs --health-url or --health-cmd/],
    [['--health-cmd', 'true', '--fall', '0'], /--fall: expected an integer >= 1/],
    [['--health-cmd', 'true', '--health-interval', '100', '--health-timeout', '100'], /--health-timeout: must be less/],
    [['--health-cmd', "a 'b"], /--health-cmd: .*unterminated/],
    [['--health-url', 'ftp://x'], /--health-url: expected an http\(s\) URL/],
    [['--no-preempt', '--preempt-delay', '100'], /--preempt-delay has no effect with --no-preempt/],
    [['--preempt-delay', '-1'], /--preempt-delay: expected an integer >= 0/],
    [['--voter-only', '--health-cmd', 'true'], /--health-cmd: a voterOnly node never leads|health: a voterOnly/],
  ];
  for (const [args, message] of cases) {
    it(`rejects ${args.join(' ')} before any I/O`, async () => {
      await assert.rejects(runCommand([...base, ...args]), (error: unknown) => {
        assert.ok(error instanceof UsageError || error instanceof ConfigError, String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
});

describe('leader-ip status: health lines', () => {
  it('prints the health verdict, why nobody leads, and peers that are voter-only or unhealthy', async () => {
    const { ElectionNode } = await import('../src/index.ts');
    const { formatStatus } = await import('../src/cli/status.ts');
    const node = new ElectionNode({ id: 2, listen: '127.0.0.1:0', peers: ['127.0.0.1:9'] });
    node.setHealthy(false, 'draining');
    const status = node.status();
    const peer = {
      id: 1,
      alive: true,
      ready: true,
      canLead: false,
      healthy: false,
      voterOnly: false,
      lastHeardMsAgo: 5,
      sees: [2],
    };
    const text = formatStatus({
      ...status,
      ready: true,
      cannotLead: 'unhealthy',
      noLeaderReason: 'no leader: 2 unhealthy, 1 unhealthy',
      peers: [peer, { ...peer, id: 3, healthy: true, voterOnly: true }],
      floatingIp: null,
    });
    assert.match(text, /this node {2}cannot lead \(unhealthy\)/);
    assert.match(text, /why {8}no leader: 2 unhealthy, 1 unhealthy/);
    assert.match(text, /health {5}UNHEALTHY: draining/);
    assert.match(text, /node 1 {2}up, ready, UNHEALTHY;/);
    assert.match(text, /node 3 {2}up, ready, voter-only;/);
  });
});

describe('checkSomeoneCanLead', () => {
  it('rejects a layout where every member is voter-only, naming the field', async () => {
    const { checkSomeoneCanLead } = await import('../src/leadership/leadership-options.ts');
    assert.doesNotThrow(() => checkSomeoneCanLead([true, false, true]));
    assert.throws(
      () => checkSomeoneCanLead([true, true, true], 'members[].voterOnly'),
      (e: unknown) => e instanceof ConfigError && e.field === 'members[].voterOnly',
    );
  });
});
