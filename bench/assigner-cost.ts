/**
 * `node --import tsx bench/assigner-cost.ts`: what one failover costs each assigner against its fake — requests
 * sent and the time `assign()` adds over the fake's own action latency. Not part of `npm run bench` (no baseline
 * to compare with); its figures are recorded in docs/benchmarks.md.
 *
 * A failover here: the IP is moved to another machine behind the assigner's back, then `assign()` runs to
 * completion with the assigner's default schedule (poll intervals, retries); only the endpoints point at the fake.
 */
import { ElasticIpAssigner } from '../src/aws.ts';
import { DigitalOceanAssigner } from '../src/digitalocean.ts';
import { HetznerAssigner } from '../src/hetzner.ts';
import { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { FakeEc2 } from '../src/testing/fake-ec2.ts';
import { FakeHetzner } from '../src/testing/fake-hetzner.ts';
import { FakeVultr } from '../src/testing/fake-vultr.ts';
import { VultrAssigner } from '../src/vultr.ts';

interface Result {
  name: string;
  actionMs: number;
  runs: number;
  requests: number[];
  ms: number[];
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

async function elasticIp(runs: number): Promise<Result> {
  const fake = await FakeEc2.start({ rateLimit: { capacity: 1e9, refillPerSecond: 1e9 } });
  const ip = '198.51.100.10';
  const assigner = new ElasticIpAssigner({
    ip,
    region: fake.region,
    instanceId: 'i-00000000000000001',
    credentials: FakeEc2.DEFAULT_CREDENTIALS,
    endpoint: fake.url,
    metadataUrl: fake.url,
    env: {},
  });
  await assigner.holder(); // the one-off AllocationId lookup, as a running process has done long before
  const result: Result = { name: 'AWS Elastic IP', actionMs: 0, runs, requests: [], ms: [] };
  for (let i = 0; i < runs; i++) {
    fake.moveIp(ip, 'i-00000000000000002');
    const before = fake.requests.length;
    const started = performance.now();
    await assigner.assign({ term: i + 1 });
    result.ms.push(performance.now() - started);
    result.requests.push(fake.requests.length - before);
  }
  await fake.close();
  return result;
}

async function digitalOcean(name: string, ip: string, actionMs: number, runs: number): Promise<Result> {
  const fake = await FakeDigitalOcean.start({
    reservedIps: [{ ip, region: 'nyc3' }],
    actionDurationMs: actionMs,
    rateLimit: { limit: 1e9, windowMs: 60_000 },
  });
  const assigner = new DigitalOceanAssigner({
    token: 'fake-do-token',
    ip,
    dropletId: 101,
    baseUrl: fake.url,
    metadataUrl: fake.url,
  });
  const result: Result = { name, actionMs, runs, requests: [], ms: [] };
  for (let i = 0; i < runs; i++) {
    fake.moveIp(ip, 102);
    const before = fake.requests.length;
    const started = performance.now();
    await assigner.assign({ term: i + 1 });
    result.ms.push(performance.now() - started);
    result.requests.push(fake.requests.length - before);
  }
  await fake.close();
  return result;
}

async function hetzner(actionMs: number, runs: number): Promise<Result> {
  const fake = await FakeHetzner.start({ actionDurationMs: actionMs, rateLimit: { limit: 1e9, refillMs: 1 } });
  const ip = '198.51.100.20';
  const assigner = new HetznerAssigner({ token: 'fake-hetzner-token', ip, serverId: 1001, baseUrl: fake.url });
  await assigner.holder(); // the one-off listing that finds the Floating IP's ID
  const result: Result = { name: 'Hetzner Floating IP', actionMs, runs, requests: [], ms: [] };
  for (let i = 0; i < runs; i++) {
    fake.moveIp(ip, 1002);
    const before = fake.requests.length;
    const started = performance.now();
    await assigner.assign({ term: i + 1 });
    result.ms.push(performance.now() - started);
    result.requests.push(fake.requests.length - before);
  }
  await fake.close();
  return result;
}

// Vultr has two background latencies: the old attachment's teardown after the detach, then the attach becoming
// visible. Both are `latencyMs`; the table's "action latency" is their sum.
async function vultr(latencyMs: number, runs: number): Promise<Result> {
  const fake = await FakeVultr.start({
    attachDurationMs: latencyMs,
    detachDurationMs: latencyMs,
    requestsPerSecond: 1e6,
  });
  const ip = '192.0.2.50';
  const [me, other] = FakeVultr.INSTANCES as [string, string];
  const assigner = new VultrAssigner({ token: 'fake-vultr-key', ip, instanceId: me, baseUrl: fake.url });
  await assigner.holder(); // the one-off listing that finds the reserved IP's ID
  const result: Result = {
    name: 'Vultr reserved IP (detach + attach)',
    actionMs: 2 * latencyMs,
    runs,
    requests: [],
    ms: [],
  };
  for (let i = 0; i < runs; i++) {
    fake.moveIp(ip, other);
    const before = fake.requests.length;
    const started = performance.now();
    await assigner.assign({ term: i + 1 });
    result.ms.push(performance.now() - started);
    result.requests.push(fake.requests.length - before);
  }
  await fake.close();
  return result;
}

const results = [
  await elasticIp(200),
  await digitalOcean('DigitalOcean reserved IPv4', '203.0.113.10', 1000, 10),
  await digitalOcean('DigitalOcean reserved IPv6', '2001:db8::10', 1000, 10),
  await hetzner(1000, 10),
  await vultr(500, 10),
];
process.stdout.write(
  '| assigner | fake action latency | requests per failover | assign() p50 / p95 | added over the action (p50) |\n',
);
process.stdout.write('| --- | --- | --- | --- | --- |\n');
for (const r of results) {
  const p50 = quantile(r.ms, 0.5);
  const requests = [...new Set(r.requests)].sort((a, b) => a - b).join(' or ');
  process.stdout.write(
    `| ${r.name} | ${r.actionMs} ms | ${requests} | ${p50.toFixed(1)} / ${quantile(r.ms, 0.95).toFixed(1)} ms | ${(p50 - r.actionMs).toFixed(1)} ms (${r.runs} runs) |\n`,
  );
}
