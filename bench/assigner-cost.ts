/**
 * What one failover costs at each provider's assigner, against its fake: the requests sent, and the time the
 * assigner adds over the fake's own move latency (polling granularity, confirming reads, round trips). Default
 * assigner settings (poll 500 ms ×1.5 up to 4 s); the IP starts on another machine; the ID lookup (listing) is
 * done before the clock starts, as it is once per process. Run: `node --import tsx bench/assigner-cost.ts`.
 * Prints a Markdown table (median of `RUNS` failovers per provider and latency).
 */

import { ElasticIpAssigner } from '../src/aws.ts';
import { DigitalOceanAssigner } from '../src/digitalocean.ts';
import { HetznerAssigner } from '../src/hetzner.ts';
import { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { FakeEc2 } from '../src/testing/fake-ec2.ts';
import { FakeHetzner } from '../src/testing/fake-hetzner.ts';
import { FakeVultr } from '../src/testing/fake-vultr.ts';
import { VultrAssigner } from '../src/vultr.ts';

const RUNS = 5;
const LATENCIES_MS = [1000, 3000];

interface Sample {
  requests: number;
  ms: number;
}

interface Scenario {
  provider: string;
  /** What the fake's latency stands for. */
  latency: string;
  /** One failover; resolves with the requests it sent and how long it took. */
  failover(latencyMs: number): Promise<Sample>;
}

async function timed(fake: { apiRequests(): unknown[] }, assign: () => Promise<void>): Promise<Sample> {
  const before = fake.apiRequests().length;
  const started = performance.now();
  await assign();
  return { requests: fake.apiRequests().length - before, ms: performance.now() - started };
}

const scenarios: Scenario[] = [
  {
    provider: 'DigitalOcean',
    latency: 'action in-progress → completed',
    async failover(latencyMs) {
      const fake = await FakeDigitalOcean.start({ token: 'bench-token', actionDurationMs: latencyMs });
      try {
        fake.moveIp('203.0.113.10', 102);
        const assigner = new DigitalOceanAssigner({
          token: 'bench-token',
          ip: '203.0.113.10',
          dropletId: 101,
          baseUrl: fake.url,
        });
        return await timed(fake, () => assigner.assign());
      } finally {
        await fake.close();
      }
    },
  },
  {
    provider: 'Hetzner',
    latency: 'action running → success',
    async failover(latencyMs) {
      const fake = await FakeHetzner.start({ token: 'bench-token', actionDurationMs: latencyMs });
      try {
        fake.moveIp('198.51.100.20', 1002);
        const assigner = new HetznerAssigner({
          token: 'bench-token',
          ip: '198.51.100.20',
          serverId: 1001,
          baseUrl: fake.url,
        });
        await assigner.holder(); // the one-time listing
        return await timed(fake, () => assigner.assign());
      } finally {
        await fake.close();
      }
    },
  },
  {
    provider: 'Vultr',
    latency: 'detach teardown + attach visible (each)',
    async failover(latencyMs) {
      const fake = await FakeVultr.start({
        token: 'bench-token',
        attachDurationMs: latencyMs,
        detachDurationMs: latencyMs,
      });
      try {
        fake.moveIp('192.0.2.50', FakeVultr.INSTANCES[1]!);
        const assigner = new VultrAssigner({
          token: 'bench-token',
          ip: '192.0.2.50',
          instanceId: FakeVultr.INSTANCES[0]!,
          baseUrl: fake.url,
        });
        await assigner.holder();
        return await timed(fake, () => assigner.assign());
      } finally {
        await fake.close();
      }
    },
  },
  {
    provider: 'AWS',
    latency: 'none (AssociateAddress is synchronous)',
    async failover() {
      const fake = await FakeEc2.start({ region: 'us-east-1' });
      try {
        fake.moveIp('198.51.100.10', 'i-00000000000000002');
        const assigner = new ElasticIpAssigner({
          ip: '198.51.100.10',
          region: 'us-east-1',
          instanceId: 'i-00000000000000001',
          endpoint: fake.url,
          metadataUrl: fake.url,
          credentials: { ...FakeEc2.DEFAULT_CREDENTIALS },
        });
        await assigner.holder();
        return await timed(fake, () => assigner.assign());
      } finally {
        await fake.close();
      }
    },
  },
];

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const rows: string[] = [];
for (const scenario of scenarios) {
  for (const latencyMs of scenario.provider === 'AWS' ? [0] : LATENCIES_MS) {
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(await scenario.failover(latencyMs));
    const ms = median(samples.map((s) => s.ms));
    // Vultr waits out two latencies in the worst case (the detach teardown, then the attach).
    const floor = scenario.provider === 'Vultr' ? 2 * latencyMs : latencyMs;
    rows.push(
      `| ${scenario.provider} | ${scenario.latency} | ${latencyMs} | ${median(samples.map((s) => s.requests))} | ` +
        `${Math.round(ms)} | ${Math.round(ms - floor)} |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
}
process.stdout.write(
  [
    `Assigner cost per failover (median of ${RUNS}; default polling; node ${process.version})`,
    '',
    '| provider | fake latency | latency ms | requests | failover ms | added ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
