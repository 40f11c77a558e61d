/**
 * Prometheus metrics for a leader-ip node, without a metrics library: `node.status()` and the floating-IP
 * binding's events rendered in the text exposition format on `GET /metrics`.
 *
 *   node --import tsx examples/prometheus-metrics.ts
 *   curl -s http://127.0.0.1:9464/metrics
 *
 * Runs a cluster of one with a mock assigner that takes 300 ms, so every metric has a value. In production, pass
 * your node and binding to `renderMetrics` from your own `/metrics` handler.
 *
 * Alerts worth having: `sum(leader_ip_leader) != 1` across the cluster for longer than a lease or two (no leader,
 * or a split view of it), `increase(leader_ip_assign_failures_total[5m]) > 0`, and
 * `rate(leader_ip_leadership_transitions_total[10m])` above a few per hour (flapping: see the tuning table in
 * docs/operations.md).
 *
 * Environment: NODE_ID (1), LISTEN (127.0.0.1:0), PEERS, METRICS (127.0.0.1:9464; port 0 picks one).
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
// In your project: from 'leader-ip' and 'leader-ip/testing'.
import { bindFloatingIp, ElectionNode, type FloatingIpBinding } from '../src/index.ts';
import { MockFloatingIpAssigner } from '../src/testing.ts';

/** Upper bounds of the assign-duration histogram, in seconds: from a mock's milliseconds to a slow cloud's minute. */
const BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Counts what `status()` does not: how long the IP took to arrive, and how often it failed to. */
export class AssignStats {
  readonly counts = BUCKETS.map(() => 0);
  count = 0;
  sum = 0;
  failures = 0;

  constructor(binding: FloatingIpBinding) {
    binding.events.on('assigned', ({ durationMs }) => {
      const seconds = durationMs / 1000;
      this.count++;
      this.sum += seconds;
      BUCKETS.forEach((bound, i) => {
        if (seconds <= bound) this.counts[i]!++;
      });
    });
    binding.events.on('assignFailed', () => {
      this.failures++;
    });
  }
}

/** The node's state in the Prometheus text format (version 0.0.4). */
export function renderMetrics(node: ElectionNode, assign?: AssignStats): string {
  const s = node.status();
  const label = `node="${s.id}"`;
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}{${[label, labels].filter(Boolean).join(',')}} ${value}`);
  };
  metric('leader_ip_leader', 'gauge', 'Whether this node is the leader (1) or not (0).', [['', s.isLeader ? 1 : 0]]);
  metric('leader_ip_term', 'gauge', 'Fencing term of the current or last known leadership.', [['', s.term]]);
  metric('leader_ip_known_leader', 'gauge', 'ID of the leader this node sees (0: none).', [['', s.leaderId ?? 0]]);
  metric('leader_ip_leadership_transitions_total', 'counter', 'Leadership gained plus lost by this node.', [
    ['', s.transitions],
  ]);
  metric('leader_ip_lease_remaining_seconds', 'gauge', "Time left on this leader's lease (0 unless leader).", [
    ['', s.leaseRemainingMs / 1000],
  ]);
  metric('leader_ip_cluster_size', 'gauge', 'Voting members configured.', [['', s.clusterSize]]);
  metric('leader_ip_peers_alive', 'gauge', 'Peers this node currently hears from.', [
    ['', s.peers.filter((p) => p.alive).length],
  ]);
  metric('leader_ip_bad_messages_total', 'counter', 'Authenticated frames that were not valid protocol messages.', [
    ['', s.badMessages],
  ]);
  if (s.transport !== null) {
    const t = s.transport;
    metric('leader_ip_messages_total', 'counter', 'Protocol messages sent and received.', [
      ['direction="in"', t.messagesIn],
      ['direction="out"', t.messagesOut],
    ]);
    metric('leader_ip_bad_frames_total', 'counter', 'Connections closed for a malformed or unauthenticated frame.', [
      ['', t.badFrames],
    ]);
    const refused = Object.entries(t.rejected).map(([reason, n]): [string, number] => [`reason="${reason}"`, n ?? 0]);
    metric('leader_ip_handshakes_refused_total', 'counter', 'Handshakes refused, by reason.', refused);
  }
  if (assign !== undefined) {
    out.push(
      '# HELP leader_ip_assign_duration_seconds Time from election to the provider confirming the IP here.',
      '# TYPE leader_ip_assign_duration_seconds histogram',
    );
    BUCKETS.forEach((bound, i) => {
      out.push(`leader_ip_assign_duration_seconds_bucket{${label},le="${bound}"} ${assign.counts[i]}`);
    });
    out.push(
      `leader_ip_assign_duration_seconds_bucket{${label},le="+Inf"} ${assign.count}`,
      `leader_ip_assign_duration_seconds_sum{${label}} ${assign.sum}`,
      `leader_ip_assign_duration_seconds_count{${label}} ${assign.count}`,
    );
    metric('leader_ip_assign_failures_total', 'counter', 'Failed attempts to move the IP here.', [
      ['', assign.failures],
    ]);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const env = process.env;
  const id = Number(env.NODE_ID ?? 1);
  const node = new ElectionNode({
    id,
    listen: env.LISTEN ?? '127.0.0.1:0',
    peers: env.PEERS ? env.PEERS.split(',') : [],
  });
  const binding = bindFloatingIp(node, new MockFloatingIpAssigner({ id: `node-${id}`, latencyMs: 300 }));
  const assign = new AssignStats(binding);
  binding.events.on('assigned', ({ term, durationMs }) =>
    console.log(`IP assigned (term ${term}, ${Math.round(durationMs)} ms)`),
  );

  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(node, assign));
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
