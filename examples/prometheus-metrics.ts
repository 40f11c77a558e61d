/**
 * Prometheus metrics for a leader-ip node through prom-client (`npm install prom-client`), with
 * `leader-ip/prometheus`: one call registers the node's and its floating-IP binding's metrics into your registry.
 *
 *   node --import tsx examples/prometheus-metrics.ts
 *   curl -s http://127.0.0.1:9464/metrics
 *
 * Runs a cluster of one with a mock assigner that takes 300 ms, so every metric has a value. `leader-ip run --http`
 * serves the same metrics on /metrics without any code.
 *
 * Alert rules that matter (Prometheus rule file; `lease` ≈ leaseMs, 1 s by default):
 *
 *   groups:
 *     - name: leader-ip
 *       rules:
 *         - alert: LeaderIpNoLeader            # nobody leads: the floating IP serves nothing new
 *           expr: sum(leader_ip_leader) == 0
 *           for: 30s
 *         - alert: LeaderIpTwoLeaders          # two nodes say they lead (a scrape-time race lasts < 1 lease)
 *           expr: sum(leader_ip_leader) > 1
 *           for: 10s
 *         - alert: LeaderIpFlapping            # leadership moves often: see the tuning table in docs/operations.md
 *           expr: sum(increase(leader_ip_leadership_transitions_total{direction="gained"}[15m])) > 3
 *         - alert: LeaderIpAssignFailing       # the cloud API refuses to move the IP (token, region, quota)
 *           expr: increase(leader_ip_assign_failures_total{retryable="false"}[5m]) > 0
 *                 or increase(leader_ip_assign_failures_total[10m]) > 5
 *         - alert: LeaderIpSlowAssign          # the IP takes long to arrive after a failover
 *           expr: histogram_quantile(0.9, sum by (le) (rate(leader_ip_assign_duration_seconds_bucket[1h]))) > 30
 *         - alert: LeaderIpPeerDown            # a member is unreachable: one more failure loses the majority
 *           expr: leader_ip_peers_alive < leader_ip_cluster_size - 1
 *           for: 1m
 *
 * Environment: NODE_ID (1), LISTEN (127.0.0.1:0), PEERS, METRICS (127.0.0.1:9464; port 0 picks one).
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';
// In your project: from 'leader-ip', 'leader-ip/prometheus' and 'leader-ip/testing'.
import { bindFloatingIp, ElectionNode } from '../src/index.ts';
import { registerLeaderIpMetrics } from '../src/prometheus.ts';
import { MockFloatingIpAssigner } from '../src/testing.ts';

async function main(): Promise<void> {
  const env = process.env;
  const id = Number(env.NODE_ID ?? 1);
  const node = new ElectionNode({
    id,
    listen: env.LISTEN ?? '127.0.0.1:0',
    peers: env.PEERS ? env.PEERS.split(',') : [],
  });
  const binding = bindFloatingIp(node, new MockFloatingIpAssigner({ id: `node-${id}`, latencyMs: 300 }));
  binding.events.on('assigned', ({ term, durationMs }) =>
    console.log(`IP assigned (term ${term}, ${Math.round(durationMs)} ms)`),
  );

  const registry = new Registry();
  registry.setDefaultLabels({ node: String(id) });
  collectDefaultMetrics({ register: registry }); // the process's own: CPU, memory, event-loop lag
  registerLeaderIpMetrics(registry, node, { bindings: [{ binding, ip: '203.0.113.7' }] });

  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await node.start();
  const [host = '127.0.0.1', port = '9464'] = (env.METRICS ?? '127.0.0.1:9464').split(/:(?=\d+$)/);
  server.listen(Number(port), host, () => {
    const address = server.address();
    console.log(`metrics on http://${host}:${typeof address === 'object' && address ? address.port : port}/metrics`);
  });

  const shutdown = async (): Promise<void> => {
    await binding.unbind();
    await node.stop();
    server.close();
    server.closeIdleConnections();
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
