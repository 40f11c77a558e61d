import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StatusDocument } from '../src/cli/http-status.ts';
import { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { freePort, type NodeProcessEvent, ProcessCluster } from '../src/testing/process-cluster.ts';
import { LineProcess } from './support/line-process.ts';
import { parsePrometheusText, sampleValue } from './support/prometheus-text.ts';

/** `leader-ip run --http` serving /status, /healthz and /leader, and `leader-ip status` reading it. */
const IP = '203.0.113.10';
const TOKEN = 'status-test-token';

describe('leader-ip run --http and leader-ip status', () => {
  let fake: FakeDigitalOcean;
  let cluster: ProcessCluster;
  const urls = new Map<number, string>();
  let assigned: NodeProcessEvent;

  before(async () => {
    fake = await FakeDigitalOcean.start({
      token: TOKEN,
      droplets: [1, 2, 3].map((id) => ({ id, region: 'nyc3' })),
      reservedIps: [{ ip: IP, region: 'nyc3' }],
      actionDurationMs: 20,
    });
    cluster = new ProcessCluster({
      ids: [1, 2, 3],
      // The default timing: these tests are about the HTTP answers, which a re-election under load would blur.
      args: ['--http', '127.0.0.1:0'],
      argsFor: (id) => ['--floating-ip', IP, '--api-url', fake.url, '--droplet-id', String(id), '--poll-ms', '10'],
      env: { DIGITALOCEAN_TOKEN: TOKEN },
    });
    cluster.on('event', (e) => {
      if (e.event === 'http') urls.set(e.id, String(e.url));
    });
    const leaderHasIp = cluster.waitFor((e) => e.event === 'assigned' && e.id === 1, 15_000);
    await cluster.start();
    assigned = await leaderHasIp;
  });
  after(async () => {
    await cluster.stop();
    await fake.close();
  });

  async function get(id: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${urls.get(id)}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function status(args: string[]): LineProcess {
    return LineProcess.tsx('src/cli/main.ts', ['status', ...args]);
  }

  it('reports its address once listening', () => {
    assert.deepEqual([...urls.keys()].sort(), [1, 2, 3]);
    for (const url of urls.values()) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers /leader with 200 on the leader only, for a load balancer', async () => {
    const leader = await get(1, '/leader');
    assert.equal(leader.status, 200);
    assert.deepEqual(leader.body, { id: 1, isLeader: true, leaderId: 1, term: assigned.term });
    for (const id of [2, 3]) {
      const follower = await get(id, '/leader');
      assert.equal(follower.status, 503);
      assert.equal(follower.body.isLeader, false);
      assert.equal(follower.body.leaderId, 1);
    }
  });

  it('answers /healthz with 200 while running, and unknown paths with 404', async () => {
    assert.deepEqual(await get(2, '/healthz'), { status: 200, body: { id: 2, state: 'running' } });
    assert.equal((await get(2, '/nope')).status, 404);
    assert.equal((await fetch(`${urls.get(2)}/status`, { method: 'POST' })).status, 405);
  });

  it('serves /metrics through prom-client: the node, its floating IP and the process', async () => {
    const response = await fetch(`${urls.get(1)}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const metrics = parsePrometheusText(await response.text());
    assert.equal(sampleValue(metrics, 'leader_ip_leader'), 1);
    assert.equal(sampleValue(metrics, 'leader_ip_term'), assigned.term);
    assert.equal(sampleValue(metrics, 'leader_ip_peers_alive'), 2);
    assert.equal(sampleValue(metrics, 'leader_ip_cluster_size'), 3);
    assert.ok((sampleValue(metrics, 'leader_ip_assign_duration_seconds_count', { ip: IP }) ?? 0) >= 1);
    assert.ok((sampleValue(metrics, 'leader_ip_assign_attempts_total', { ip: IP }) ?? 0) >= 1);
    assert.ok(metrics.has('process_cpu_user_seconds_total'), "the process's own metrics too");
    const follower = parsePrometheusText(await (await fetch(`${urls.get(2)}/metrics`)).text());
    assert.equal(sampleValue(follower, 'leader_ip_leader'), 0);
    assert.equal(sampleValue(follower, 'leader_ip_leader_id'), 1);
  });

  it("serves the node's status with the floating IP's", async () => {
    const { status: code, body } = await get(1, '/status');
    assert.equal(code, 200);
    const document = body as unknown as StatusDocument;
    assert.equal(document.id, 1);
    assert.equal(document.role, 'leader');
    assert.equal(document.clusterSize, 3);
    assert.deepEqual(document.peers.map((p) => p.id).sort(), [2, 3]);
    assert.equal(document.floatingIp?.ip, IP);
    assert.equal(document.floatingIp?.assignedTerm, assigned.term);
    assert.equal(document.floatingIp?.lastError, null);
    assert.ok(!JSON.stringify(document).includes(TOKEN), 'the token never appears');
  });

  it('leader-ip status prints it readably, or as JSON', async () => {
    const text = status(['--url', urls.get(1)!.replace('http://', '')]);
    assert.equal((await text.exited).code, 0, text.output);
    assert.match(text.lines[0]!, new RegExp(`^node 1: LEADER, term ${assigned.term} \\(lease \\d+ ms left\\)$`));
    assert.match(text.output, /cluster of 3 \(majority 2\)/);
    assert.match(
      text.output,
      new RegExp(`IP\\s+${IP.replaceAll('.', '\\.')}: assigned here for term ${assigned.term}`),
    );
    assert.match(text.output, /node 2 {2}up, ready/);

    const json = status(['--url', `${urls.get(2)}/status`, '--json']);
    assert.equal((await json.exited).code, 0, json.output);
    const document = JSON.parse(json.output) as StatusDocument;
    assert.equal(document.id, 2);
    assert.equal(document.leaderId, 1);
    // Node 2 may have led (and taken the IP) for a moment at start-up, before node 1 was ready: never since.
    const term = document.floatingIp?.assignedTerm ?? null;
    assert.ok(term === null || term < Number(assigned.term), `node 2 assigned for term ${term}`);
  });

  it('leader-ip status fails with one line: exit 1 when unreachable, 2 on bad usage', async () => {
    const port = await freePort();
    const unreachable = status(['--url', `127.0.0.1:${port}`, '--timeout-ms', '2000']);
    assert.equal((await unreachable.exited).code, 1);
    assert.deepEqual(unreachable.lines, [`leader-ip: cannot read http://127.0.0.1:${port}/status: ECONNREFUSED`]);

    const missing = status([]);
    assert.equal((await missing.exited).code, 2);
    assert.equal(missing.lines.length, 1);
    assert.match(missing.lines[0]!, /^leader-ip: --url is required/);
  });

  it('leader-ip run --http with /metrics still exits cleanly on SIGTERM (nothing of prom-client keeps it alive)', async () => {
    const run = LineProcess.tsx('src/cli/main.ts', [
      'run',
      '--id',
      '1',
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
    ]);
    const url = (await run.waitForLine(/status on (http:\/\/\S+)\/status/))[1]!;
    await run.waitForLine(/gained leadership/);
    const metrics = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    assert.equal(sampleValue(metrics, 'leader_ip_leader'), 1);
    assert.deepEqual(await run.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('leader-ip run rejects a bad --http address with one line and exit code 2', async () => {
    const run = LineProcess.tsx('src/cli/main.ts', ['run', '--id', '1', '--listen', '127.0.0.1:0', '--http', 'nope']);
    assert.equal((await run.exited).code, 2);
    assert.equal(run.lines.length, 1, run.output);
    assert.match(run.lines[0]!, /^leader-ip: --http: /);
  });
});
