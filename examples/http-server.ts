/**
 * Embedding leader-ip in an existing `node:http` server: the server runs on every machine, one of them leads,
 * and a load balancer (or the floating IP) sends traffic to the leader.
 *
 *   node --import tsx examples/http-server.ts
 *
 * Configuration comes from the environment; the defaults make a cluster of one on loopback:
 *
 *   NODE_ID=1 LISTEN=127.0.0.1:7400 PEERS=127.0.0.1:7401,127.0.0.1:7402 HTTP=127.0.0.1:8080
 *   LEADER_IP_SECRET=...      shared secret, >= 32 bytes (openssl rand -base64 32); required beyond loopback
 *   LEASE_MS, HEARTBEAT_MS    timing (defaults 1000 and 100)
 *   FLOATING_IP=203.0.113.7 DIGITALOCEAN_TOKEN=...   also move a DigitalOcean reserved IP to the leader
 *   DROPLET_ID, DIGITALOCEAN_API_URL                 (defaults: the metadata service, the real API)
 *   FLOATING_IP=198.51.100.7 PROVIDER=aws            an AWS Elastic IP instead; the standard AWS_* variables
 *                                                    (or the instance role), INSTANCE_ID (default: IMDSv2)
 *   FLOATING_IP=198.51.100.20 PROVIDER=hetzner HCLOUD_TOKEN=...   a Hetzner Floating IP; SERVER_ID, HETZNER_API_URL
 *   FLOATING_IP=192.0.2.50 PROVIDER=vultr VULTR_API_KEY=...       a Vultr reserved IP; INSTANCE_ID, VULTR_API_URL
 *   FLOATING_IP=a,b                                  several addresses (any provider), moved concurrently
 *
 * Endpoints: `GET /healthz` (200 while running), `GET /leader` (200 on the leader only, 503 elsewhere: point a
 * load balancer's health check at it), `GET /` (the application). SIGTERM or Ctrl-C hands leadership over first
 * (a peer takes over within a round trip), then closes the server.
 */
import { createServer } from 'node:http';
// In your project: import { bindFloatingIps, ElectionNode, type FloatingIpAssigner } from 'leader-ip';
import { bindFloatingIps, ElectionNode, type FloatingIpAssigner } from '../src/index.ts';

const env = process.env;
const id = Number(env.NODE_ID ?? 1);
const node = new ElectionNode({
  id,
  listen: env.LISTEN ?? '127.0.0.1:7400',
  peers: env.PEERS ? env.PEERS.split(',') : [],
  secret: env.LEADER_IP_SECRET,
  leaseMs: env.LEASE_MS ? Number(env.LEASE_MS) : undefined,
  heartbeatIntervalMs: env.HEARTBEAT_MS ? Number(env.HEARTBEAT_MS) : undefined,
});

// The application's own leader-only work starts and stops with leadership.
node.on('gainedLeadership', ({ term }) => console.log(`[node ${id}] leader (term ${term}): starting leader-only work`));
node.on('lostLeadership', ({ term, reason }) =>
  console.log(`[node ${id}] not leader any more (term ${term}, ${reason})`),
);
node.on('leaderChange', (leaderId) => console.log(`[node ${id}] leader is ${leaderId ?? 'unknown'}`));
// Connection problems (a peer with the wrong secret, say) are reported here; the node keeps running.
node.on('error', (error) => console.warn(`[node ${id}] warning: ${error.message}`));

type Make = (ip: string) => FloatingIpAssigner;
let make: Make | undefined;
if (env.FLOATING_IP && env.PROVIDER === 'aws') {
  // Region, credentials and endpoints come from the standard AWS_* variables, else from IMDSv2 on the instance.
  const { ElasticIpAssigner } = await import('../src/aws.ts'); // 'leader-ip/aws'
  make = (ip) => new ElasticIpAssigner({ ip, instanceId: env.INSTANCE_ID });
} else if (env.FLOATING_IP && env.PROVIDER === 'hetzner' && env.HCLOUD_TOKEN) {
  const { HetznerAssigner } = await import('../src/hetzner.ts'); // 'leader-ip/hetzner'
  const token = env.HCLOUD_TOKEN;
  const serverId = env.SERVER_ID ? Number(env.SERVER_ID) : undefined;
  make = (ip) => new HetznerAssigner({ token, ip, serverId, baseUrl: env.HETZNER_API_URL });
} else if (env.FLOATING_IP && env.PROVIDER === 'vultr' && env.VULTR_API_KEY) {
  const { VultrAssigner } = await import('../src/vultr.ts'); // 'leader-ip/vultr'
  const token = env.VULTR_API_KEY;
  make = (ip) => new VultrAssigner({ token, ip, instanceId: env.INSTANCE_ID, baseUrl: env.VULTR_API_URL });
} else if (env.FLOATING_IP && env.DIGITALOCEAN_TOKEN) {
  // Loaded only when used: each provider's entry point brings its own HTTP client dependency.
  const { DigitalOceanAssigner } = await import('../src/digitalocean.ts'); // 'leader-ip/digitalocean'
  const token = env.DIGITALOCEAN_TOKEN;
  const dropletId = env.DROPLET_ID ? Number(env.DROPLET_ID) : undefined;
  make = (ip) => new DigitalOceanAssigner({ token, ip, dropletId, baseUrl: env.DIGITALOCEAN_API_URL });
}
// One address or several (an IPv4 and an IPv6, say): each moves on its own, concurrently.
const binding =
  make === undefined ? undefined : bindFloatingIps(node, (env.FLOATING_IP as string).split(',').map(make));
binding?.events.on('assigned', ({ address, term, durationMs }) =>
  console.log(`[node ${id}] ${address} is here (term ${term}, ${Math.round(durationMs)} ms)`),
);
binding?.events.on('error', (error, address) => console.error(`[node ${id}] floating IP ${address}: ${error.message}`));

const server = createServer((req, res) => {
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  switch (req.url) {
    case '/healthz':
      return json(200, { ok: true });
    case '/leader':
      return json(node.isLeader ? 200 : 503, { id, isLeader: node.isLeader, leaderId: node.leaderId, term: node.term });
    default:
      return json(200, { hello: `from node ${id}`, leader: node.isLeader });
  }
});

await node.start();
const [httpHost = '127.0.0.1', httpPort = '8080'] = (env.HTTP ?? '127.0.0.1:8080').split(/:(?=\d+$)/);
server.listen(Number(httpPort), httpHost, () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : httpPort;
  console.log(`[node ${id}] http://${httpHost}:${port} (election on ${env.LISTEN ?? '127.0.0.1:7400'})`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[node ${id}] ${signal}: handing over leadership, then closing the server`);
  // Leadership first: a peer takes over now, while this server still answers its in-flight requests.
  await binding?.unbind();
  await node.stop();
  server.close(() => console.log(`[node ${id}] stopped`));
  server.closeIdleConnections();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
