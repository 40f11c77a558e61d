import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CommandAssigner } from '../examples/command-assigner.ts';
import { AbortError, AssignerError, StaleTermError } from '../src/index.ts';
import { FakeHetzner } from '../src/testing/fake-hetzner.ts';
import { FakeVultr } from '../src/testing/fake-vultr.ts';
import { freePort, freePorts } from '../src/testing/process-cluster.ts';
import { LineProcess } from './support/line-process.ts';
import { parsePrometheusText, sampleValue } from './support/prometheus-text.ts';

/**
 * Every example runs as its users would run it (`node --import tsx examples/<x>.ts`), so they cannot rot: each
 * is driven through what it prints and serves, and must exit cleanly.
 */

const running: LineProcess[] = [];
after(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
});

function example(name: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): LineProcess {
  const process = LineProcess.tsx(`examples/${name}`, args, env);
  running.push(process);
  return process;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe('examples/http-server.ts', () => {
  it('serves /healthz and /leader, and hands over on SIGTERM', async () => {
    const ports = await freePorts(3);
    const servers = ports.map((port, i) =>
      example('http-server.ts', {
        NODE_ID: String(i + 1),
        LISTEN: `127.0.0.1:${port}`,
        PEERS: ports
          .filter((p) => p !== port)
          .map((p) => `127.0.0.1:${p}`)
          .join(','),
        HTTP: '127.0.0.1:0',
        LEASE_MS: '500',
        HEARTBEAT_MS: '50',
      }),
    );
    const urls = await Promise.all(servers.map(async (s) => (await s.waitForLine(/(http:\/\/\S+)/))[1]!));
    await servers[0]!.waitForLine(/\[node 1\] leader \(term \d+\)/);

    assert.equal((await get(`${urls[0]}/healthz`)).status, 200);
    const leader = await get(`${urls[0]}/leader`);
    assert.equal(leader.status, 200);
    assert.equal(JSON.parse(leader.body).isLeader, true);
    assert.equal((await get(`${urls[1]}/leader`)).status, 503);
    assert.equal((await get(`${urls[2]}/leader`)).status, 503);

    // Graceful shutdown: node 1 steps down, node 2 takes over, node 1's server closes and the process exits 0.
    // Node 2 may have led for a moment at start-up, before node 1 was ready: only a new line counts.
    const takeover = servers[1]!.waitForLine(/\[node 2\] leader \(term \d+\)/, { from: servers[1]!.lines.length });
    assert.deepEqual(await servers[0]!.stop('SIGTERM'), { code: 0, signal: null });
    assert.match(servers[0]!.output, /not leader any more \(term \d+, stopped\)/);
    assert.match(servers[0]!.output, /\[node 1\] stopped/);
    await takeover;
    assert.equal((await get(`${urls[1]}/leader`)).status, 200);

    for (const server of servers.slice(1)) assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });
});

describe('examples/http-server.ts with PROVIDER', () => {
  it('hetzner: an IPv4 and an IPv6 Floating IP move to a one-node cluster', async (t) => {
    const fake = await FakeHetzner.start({
      token: 'example-hetzner-token',
      floatingIps: [
        { id: 1, ip: '198.51.100.20' },
        { id: 2, ip: '2001:db8:1::/64' },
      ],
    });
    t.after(() => fake.close());
    const server = example('http-server.ts', {
      LISTEN: `127.0.0.1:${await freePort()}`,
      HTTP: '127.0.0.1:0',
      FLOATING_IP: '198.51.100.20,2001:db8:1::1',
      PROVIDER: 'hetzner',
      HCLOUD_TOKEN: 'example-hetzner-token',
      SERVER_ID: '1002',
      HETZNER_API_URL: fake.url,
    });
    await server.waitForLine(/198\.51\.100\.20 is here/);
    await server.waitForLine(/2001:db8:1::1 is here/);
    assert.equal(fake.holder('198.51.100.20'), 1002);
    assert.equal(fake.holder('2001:db8:1::/64'), 1002);
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('vultr: a reserved IP moves to a one-node cluster', async (t) => {
    const fake = await FakeVultr.start({ token: 'EXAMPLEVULTRKEY0123' });
    t.after(() => fake.close());
    const me = FakeVultr.INSTANCES[2]!;
    const server = example('http-server.ts', {
      LISTEN: `127.0.0.1:${await freePort()}`,
      HTTP: '127.0.0.1:0',
      FLOATING_IP: '192.0.2.50',
      PROVIDER: 'vultr',
      VULTR_API_KEY: 'EXAMPLEVULTRKEY0123',
      INSTANCE_ID: me,
      VULTR_API_URL: fake.url,
    });
    await server.waitForLine(/192\.0\.2\.50 is here/);
    assert.equal(fake.holder('192.0.2.50'), me);
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });
});

describe('examples/mock-assigner.test.ts', () => {
  it('passes as a node:test file users can copy', async () => {
    const run = new LineProcess(
      ['--import', 'tsx', '--test', '--test-reporter=tap', 'examples/mock-assigner.test.ts'],
      {
        NODE_TEST_CONTEXT: undefined,
      },
    );
    running.push(run);
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    assert.match(run.output, /^# pass 3$/m);
    assert.match(run.output, /^# fail 0$/m);
  });
});

describe('examples/command-assigner.ts', () => {
  it('runs a one-node cluster whose provider is a file', async () => {
    const run = example('command-assigner.ts');
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    assert.match(run.output, /holder before: nobody/);
    assert.match(run.output, /assigned for term \d+; holder now: web-1/);
  });

  describe('CommandAssigner', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leader-ip-command-test-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const state = join(dir, 'holder');
    const assigner = (assign: string, extra: { holder?: string; timeoutMs?: number } = {}) =>
      new CommandAssigner({
        ip: '192.0.2.10',
        self: 'me',
        assign,
        holder: 'cat "$STATE" 2>/dev/null || true',
        env: { STATE: state },
        ...extra,
      });

    it('passes the IP, its ID and the term to the command, and confirms with the holder command', async () => {
      const a = assigner('printf "%s %s %s" "$LEADER_IP_SELF" "$LEADER_IP_ADDRESS" "$LEADER_IP_TERM" > "$STATE"', {
        holder: 'cut -d" " -f1 "$STATE" 2>/dev/null || true',
      });
      await a.assign({ term: 7 });
      assert.equal(await a.holder(), 'me');
      assert.equal(await a.self(), 'me');
    });

    it('reports a failing command as a retryable AssignerError with its exit code and stderr', async () => {
      const error = await assigner('echo "quota exceeded" >&2; exit 3')
        .assign({ term: 1 })
        .catch((e: unknown) => e);
      assert.ok(error instanceof AssignerError);
      assert.equal(error.code, 'ERR_COMMAND_FAILED');
      assert.equal(error.retryable, true);
      assert.match(error.message, /exit code 3: quota exceeded/);
    });

    it('fails when the holder command does not confirm the move', async () => {
      const error = await assigner('true', { holder: 'echo someone-else' })
        .assign({ term: 1 })
        .catch((e: unknown) => e);
      assert.ok(error instanceof AssignerError);
      assert.equal(error.code, 'ERR_COMMAND_NOT_CONFIRMED');
    });

    it('kills a command that outlives its timeout', async () => {
      const error = await assigner('sleep 10', { timeoutMs: 100 })
        .assign({ term: 1 })
        .catch((e: unknown) => e);
      assert.ok(error instanceof AssignerError);
      assert.equal(error.code, 'ERR_COMMAND_TIMEOUT');
    });

    it('stops the command when the signal fires', async () => {
      const controller = new AbortController();
      const pending = assigner('sleep 10').assign({ term: 1, signal: controller.signal });
      controller.abort();
      await assert.rejects(pending, AbortError);
    });

    it('refuses an older term than one it has seen', async () => {
      const a = assigner('printf me > "$STATE"');
      await a.assign({ term: 5 });
      await assert.rejects(a.assign({ term: 4 }), StaleTermError);
    });
  });
});

describe('examples/prometheus-metrics.ts', () => {
  it('serves the node and the assign latency through prom-client, parsed as Prometheus text', async () => {
    const run = example('prometheus-metrics.ts', { METRICS: '127.0.0.1:0' });
    const url = (await run.waitForLine(/metrics on (http:\/\/\S+)/))[1]!;
    await run.waitForLine(/IP assigned \(term 1, \d+ ms\)/);
    const { status, body } = await get(url);
    assert.equal(status, 200);
    const m = parsePrometheusText(body);
    const node = { node: '1' };
    assert.equal(sampleValue(m, 'leader_ip_leader', node), 1);
    assert.equal(sampleValue(m, 'leader_ip_term', node), 1);
    assert.equal(sampleValue(m, 'leader_ip_leadership_transitions_total', { ...node, direction: 'gained' }), 1);
    assert.equal(m.get('leader_ip_assign_duration_seconds')?.type, 'histogram');
    const ip = { ...node, ip: '203.0.113.7' };
    assert.equal(sampleValue(m, 'leader_ip_assign_duration_seconds_count', ip), 1);
    // The mock takes 300 ms: within the 0.5 s bucket, not the 0.25 s one.
    assert.equal(sampleValue(m, 'leader_ip_assign_duration_seconds_bucket', { ...ip, le: '0.25' }), 0);
    assert.equal(sampleValue(m, 'leader_ip_assign_duration_seconds_bucket', { ...ip, le: '0.5' }), 1);
    assert.ok(m.has('process_cpu_user_seconds_total'));
    assert.deepEqual(await run.stop('SIGTERM'), { code: 0, signal: null });
  });
});
