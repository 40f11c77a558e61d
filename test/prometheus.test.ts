import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { bindFloatingIp, ConfigError, ElectionNode, type FloatingIpBinding } from '../src/index.ts';
import { type LeaderIpMetrics, registerLeaderIpMetrics } from '../src/prometheus.ts';
import { MockFloatingIpAssigner, SimulatedFloatingIp } from '../src/testing.ts';
import { type Family, parsePrometheusText, sampleValue } from './support/prometheus-text.ts';
import { waitFor } from './support/wait.ts';

/** `leader-ip/prometheus`: a real node and binding, a real /metrics endpoint, scraped and parsed. */
describe('leader-ip/prometheus', () => {
  const ip = new SimulatedFloatingIp('elsewhere');
  const assigner = new MockFloatingIpAssigner({ ip, id: 1, latencyMs: 5 });
  const registry = new Registry();
  let node: ElectionNode;
  let binding: FloatingIpBinding;
  let metrics: LeaderIpMetrics;
  let server: Server;
  let url: string;

  async function scrape(): Promise<Map<string, Family>> {
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  }

  before(async () => {
    node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', thread: 'main', heartbeatIntervalMs: 20, leaseMs: 200 });
    binding = bindFloatingIp(node, assigner, { reconcileIntervalMs: 50, retryBaseDelayMs: 5 });
    metrics = registerLeaderIpMetrics(registry, node, { bindings: [{ binding, ip: '203.0.113.7' }] });
    server = createServer((_req, res) => {
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  after(async () => {
    await binding.unbind();
    await node.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('exposes the node before start: not leading, not running, counters at zero', async () => {
    const m = await scrape();
    assert.equal(m.get('leader_ip_leader')?.type, 'gauge');
    assert.equal(sampleValue(m, 'leader_ip_leader'), 0);
    assert.equal(sampleValue(m, 'leader_ip_running'), 0);
    assert.equal(sampleValue(m, 'leader_ip_leader_id'), 0, 'no leader known');
    assert.equal(m.get('leader_ip_leadership_transitions_total')?.type, 'counter');
    assert.equal(sampleValue(m, 'leader_ip_leadership_transitions_total', { direction: 'gained' }), 0);
    assert.equal(sampleValue(m, 'leader_ip_assign_attempts_total', { ip: '203.0.113.7' }), 0);
  });

  it('follows the node and the binding: leader, term, transitions, attempts, failures, durations, corrections', async () => {
    let assigned = 0;
    binding.events.on('assigned', () => assigned++);
    assigner.failNext(2); // two retryable failures, then success: three attempts
    await node.start();
    await waitFor(() => assigned === 1, 10_000, 'the IP assigned');
    ip.move('elsewhere'); // a person moves it: the next reconciliation takes it back
    await waitFor(() => assigned === 2, 10_000, 'the IP taken back');
    const m = await scrape();
    const ipLabel = { ip: '203.0.113.7' };
    assert.equal(sampleValue(m, 'leader_ip_leader'), 1);
    assert.equal(sampleValue(m, 'leader_ip_leader_id'), 1);
    assert.equal(sampleValue(m, 'leader_ip_running'), 1);
    assert.equal(sampleValue(m, 'leader_ip_term'), node.term);
    assert.ok(node.term >= 1);
    assert.equal(sampleValue(m, 'leader_ip_cluster_size'), 1);
    assert.equal(sampleValue(m, 'leader_ip_peers_alive'), 0);
    assert.equal(sampleValue(m, 'leader_ip_healthy'), 1);
    assert.equal(sampleValue(m, 'leader_ip_leadership_transitions_total', { direction: 'gained' }), 1);
    assert.equal(
      sampleValue(m, 'leader_ip_assign_failures_total', { ...ipLabel, code: 'ERR_MOCK_FAILURE', retryable: 'true' }),
      2,
    );
    const attempts = sampleValue(m, 'leader_ip_assign_attempts_total', ipLabel) ?? 0;
    assert.ok(attempts >= 4, `3 for the first assign, 1 for the correction; got ${attempts}`);
    assert.equal(m.get('leader_ip_assign_duration_seconds')?.type, 'histogram');
    assert.ok((sampleValue(m, 'leader_ip_assign_duration_seconds_count', ipLabel) ?? 0) >= 2);
    assert.ok((sampleValue(m, 'leader_ip_assign_duration_seconds_sum', ipLabel) ?? 0) > 0);
    assert.equal(
      sampleValue(m, 'leader_ip_assign_duration_seconds_bucket', { ...ipLabel, le: '+Inf' }),
      sampleValue(m, 'leader_ip_assign_duration_seconds_count', ipLabel),
    );
    assert.ok((sampleValue(m, 'leader_ip_reconcile_corrections_total', ipLabel) ?? 0) >= 1);
    assert.ok((sampleValue(m, 'leader_ip_reconcile_checks_total', ipLabel) ?? 0) >= 1);
    // Names follow the conventions: snake_case, counters end in _total, durations in base units.
    for (const [name, family] of m) {
      assert.match(name, /^leader_ip_[a-z_]+$/);
      if (family.type === 'counter') assert.match(name, /_total$/);
      assert.ok(family.help.length > 10, `${name} has help`);
    }
  });

  it('counts a loss with its reason, and unregister() removes every metric and listener', async () => {
    await binding.unbind();
    await node.stop();
    const m = await scrape();
    assert.equal(sampleValue(m, 'leader_ip_leadership_transitions_total', { direction: 'lost', reason: 'stopped' }), 1);
    assert.equal(sampleValue(m, 'leader_ip_leader'), 0);
    assert.equal(sampleValue(m, 'leader_ip_running'), 0);
    metrics.unregister();
    assert.equal((await registry.metrics()).trim(), '');
    assert.equal(node.listenerCount('lostLeadership'), 0);
  });

  it('validates its arguments and refuses a second registration under the same names', () => {
    const other = new Registry();
    const source = new ElectionNode({ id: 2, listen: '127.0.0.1:0', thread: 'main' });
    assert.throws(
      () => registerLeaderIpMetrics({} as Registry, source),
      (e: unknown) => e instanceof ConfigError && e.field === 'registry',
    );
    assert.throws(
      () => registerLeaderIpMetrics(other, source, { prefix: 'bad-prefix' }),
      (e: unknown) => e instanceof ConfigError && e.field === 'prefix',
    );
    assert.throws(
      () => registerLeaderIpMetrics(other, source, { buckets: [1, 1] }),
      (e: unknown) => e instanceof ConfigError && e.field === 'buckets',
    );
    registerLeaderIpMetrics(other, source);
    assert.throws(() => registerLeaderIpMetrics(other, source), /already been registered/);
    registerLeaderIpMetrics(other, source, { prefix: 'second_' }).unregister();
  });
});
