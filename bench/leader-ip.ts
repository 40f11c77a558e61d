/**
 * leader-ip scenarios for `npm run bench`, measured on the real command: every contender is a `leader-ip run --json`
 * process built from this checkout (`dist/`), whose events carry the host-wide monotonic clock.
 *
 * - crash / graceful failover, 3 and 5 nodes, default timing and a tuned LAN profile;
 * - end to end: SIGKILL of the leader → the new leader's `assigned` event, which fires once the fake DigitalOcean API
 *   has completed the assign action and a read of the IP confirmed it;
 * - overhead of an idle cluster (bench/idle.ts): CPU per node over a bare Node process, both thread modes, 3 and 15
 *   nodes, defaults and hb 25 / lease 250, beside a plain Node TCP mesh as the floor; bytes/s and RSS per node;
 * - micro: CPU cost of 1,000 `status()` reads and of decoding frames and messages; the broadcast's commit latency
 *   and throughput (bench/broadcast.ts).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { decodeMessage, encodeMessage } from '../src/core/codec.ts';
import { ElectionNode } from '../src/node/election-node.ts';
import { FakeDigitalOcean } from '../src/testing/fake-digitalocean.ts';
import { encodeFrame, FrameDecoder, FrameKind } from '../src/transport/frame.ts';
import { broadcastRows, measureBroadcast } from './broadcast.ts';
import { idleRows, measureIdle, renderIdle } from './idle.ts';
import { runKillLoop } from './lib/failover.ts';
import type { BenchOptions } from './lib/options.ts';
import { type Child, type ChildEvent, freePorts, REPO_ROOT, spawnProcess } from './lib/proc.ts';
import type { BenchSection, FailoverResult, MicroRow, OverheadRow, Scenario } from './lib/types.ts';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface Profile {
  name: string;
  heartbeatMs: number;
  leaseMs: number;
}

/** The defaults, and a profile for a quiet LAN where a 0.5 s lease leaves ample margin over GC pauses. */
export const PROFILES: Profile[] = [
  { name: 'default', heartbeatMs: 100, leaseMs: 1000 },
  { name: 'tuned LAN', heartbeatMs: 50, leaseMs: 500 },
  // The fast setting compared with keepalived's 0.1 s adverts (issue 14).
  { name: 'fast LAN', heartbeatMs: 25, leaseMs: 250 },
];

const FAKE_TOKEN = 'bench-fake-token';
const FAKE_IP = '203.0.113.10';
/** How long the fake takes to complete an assign action (real ones take about 1–3 s). */
const FAKE_ACTION_MS = 1000;

function timingArgs(profile: Profile): string[] {
  return ['--heartbeat-ms', String(profile.heartbeatMs), '--lease-ms', String(profile.leaseMs)];
}

/**
 * Maps `leader-ip run --json` lines onto the failover loop's protocol. `ready` means "settled": this node or a lower
 * ID leads. A restarted lower ID takes leadership back (bully preemption), so it is only ready once it leads
 * again, and the next fault never hits a leader that is just being replaced. With `assignedIsElected`, a
 * leader counts as elected only once the IP is confirmed on it (end-to-end runs).
 */
function eventMapper(
  id: number,
  assignedIsElected: boolean,
): (line: Record<string, unknown>) => ChildEvent | undefined {
  const electedOn = assignedIsElected ? 'assigned' : 'gainedLeadership';
  return (line) => {
    const t = Number(line.mono);
    switch (line.event) {
      case electedOn:
        return { event: 'elected', t };
      case 'lostLeadership':
        return { event: 'lost', t };
      case 'stopped':
        return { event: 'stopped', t };
      case 'leaderChange': {
        const leader = line.leaderId;
        if (typeof leader === 'number' && leader <= id) return { event: 'ready', t };
        return undefined;
      }
      default:
        return undefined;
    }
  };
}

export interface ClusterSpec {
  nodes: number;
  args: (id: number) => string[];
  assignedIsElected: boolean;
  label: string;
  verbose: boolean;
  env?: NodeJS.ProcessEnv;
}

function spawnNode(spec: ClusterSpec, ports: number[], index: number, generation: number): Child {
  const id = index + 1;
  const peers = ports.filter((_, i) => i !== index).map((p) => `127.0.0.1:${p}`);
  return spawnProcess(
    process.execPath,
    [
      CLI,
      'run',
      '--json',
      '--id',
      String(id),
      '--listen',
      `127.0.0.1:${ports[index]}`,
      '--peers',
      peers.join(','),
      ...spec.args(id),
    ],
    {
      name: `${spec.label} node ${id}.${generation}`,
      echo: spec.verbose,
      env: { ...process.env, ...spec.env },
      mapEvent: eventMapper(id, spec.assignedIsElected),
      dieWithParent: 'SIGKILL',
    },
  );
}

export async function failoverLoop(
  opts: BenchOptions,
  spec: ClusterSpec,
  scenario: Scenario,
  profile: Profile,
  kills: number,
): Promise<FailoverResult> {
  const ports = await freePorts(spec.nodes);
  const result = await runKillLoop({
    label: spec.label,
    nodes: spec.nodes,
    kills,
    signal: scenario === 'graceful' ? 'SIGTERM' : 'SIGKILL',
    spawn: (index, generation) => spawnNode(spec, ports, index, generation),
    startupTimeoutMs: 30_000 + 5 * profile.leaseMs,
    sampleTimeoutMs: 20 * profile.leaseMs + (spec.assignedIsElected ? 60_000 : 0),
    // Renewals happen every heartbeat: a uniform phase over one interval spreads the faults fairly.
    jitterMs: profile.heartbeatMs,
    budgetMs: opts.budgetMs,
    log: (m) => process.stderr.write(`${m}\n`),
  });
  return {
    system: 'leader-ip',
    config: `${profile.name} (hb ${profile.heartbeatMs} ms, lease ${profile.leaseMs} ms)`,
    scenario,
    nodes: spec.nodes,
    leaseMs: profile.leaseMs,
    samplesMs: result.samplesMs,
    ...(result.failures > 0 ? { failures: result.failures } : {}),
    ...(result.aborted ? { note: result.aborted } : {}),
  };
}

async function endToEnd(opts: BenchOptions, kills: number): Promise<FailoverResult> {
  const profile = PROFILES[0]!;
  const nodes = 3;
  const fake = await FakeDigitalOcean.start({
    token: FAKE_TOKEN,
    droplets: Array.from({ length: nodes }, (_, i) => ({ id: 1001 + i, region: 'nyc3' })),
    reservedIps: [{ ip: FAKE_IP, region: 'nyc3' }],
    actionDurationMs: FAKE_ACTION_MS,
  });
  try {
    const result = await failoverLoop(
      opts,
      {
        nodes,
        label: 'leader-ip end-to-end',
        assignedIsElected: true,
        verbose: opts.verbose,
        env: { DIGITALOCEAN_TOKEN: FAKE_TOKEN },
        args: (id) => [
          ...timingArgs(profile),
          '--floating-ip',
          FAKE_IP,
          '--api-url',
          fake.url,
          '--droplet-id',
          String(1000 + id),
        ],
      },
      'end-to-end',
      profile,
      kills,
    );
    const requests = fake.apiRequests().length;
    return {
      ...result,
      config: `${result.config}, fake action ${FAKE_ACTION_MS} ms, assigner defaults`,
      note: `${requests} API requests in all over ${result.samplesMs.length} failovers plus restarts (incl. moving the IP back)`,
    };
  } finally {
    await fake.close();
  }
}

function cpuMicros(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

async function micro(): Promise<MicroRow[]> {
  const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', heartbeatIntervalMs: 100, leaseMs: 1000 });
  await node.start();
  try {
    node.status();
    const statusMicros = cpuMicros(() => {
      for (let i = 0; i < 1000; i++) node.status();
    });
    const heartbeat = encodeMessage({
      type: 'heartbeat',
      incarnation: 0x12345678,
      ready: true,
      canLead: true,
      healthy: true,
      voterOnly: false,
      preempt: true,
      leaving: false,
      term: 42,
      leaderTerm: 42,
      sees: [2, 3, 4, 5],
    });
    const count = 100_000;
    const decodeMicros = cpuMicros(() => {
      for (let i = 0; i < count; i++) decodeMessage(heartbeat);
    });
    const frame = encodeFrame(FrameKind.Data, heartbeat);
    const stream = Buffer.concat(Array.from({ length: 1000 }, () => frame));
    const frameMicros = cpuMicros(() => {
      const decoder = new FrameDecoder({ maxFrameBytes: 65536 });
      for (let i = 0; i < count / 1000; i++) decoder.push(stream);
    });
    return [
      { name: '1,000 status() reads', value: statusMicros / 1000, unit: 'ms CPU' },
      { name: 'decode one heartbeat message', value: (decodeMicros * 1000) / count, unit: 'ns CPU' },
      { name: 'frame decoding (1,000-frame chunks)', value: (frameMicros * 1000) / count, unit: 'ns CPU per frame' },
      { name: 'heartbeat size on the wire', value: frame.length, unit: 'bytes (no secret; +16 MAC with one)' },
    ];
  } finally {
    await node.stop();
  }
}

export async function runLeaderIp(opts: BenchOptions): Promise<BenchSection> {
  process.stderr.write('leader-ip: building dist/ (the bench measures the built command)\n');
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const failover: FailoverResult[] = [];
  for (const profile of PROFILES) {
    for (const nodes of [3, 5]) {
      for (const scenario of ['crash', 'graceful'] as const) {
        const label = `leader-ip ${profile.name} ${nodes} nodes ${scenario}`;
        process.stderr.write(`${label}: ${opts.kills} faults\n`);
        failover.push(
          await failoverLoop(
            opts,
            { nodes, label, assignedIsElected: false, verbose: opts.verbose, args: () => timingArgs(profile) },
            scenario,
            profile,
            opts.kills,
          ),
        );
      }
    }
  }
  process.stderr.write('leader-ip end to end\n');
  failover.push(await endToEnd(opts, opts.kills));
  process.stderr.write('leader-ip idle overhead (bench/idle.ts)\n');
  const idle = await measureIdle({
    windowMs: opts.quick ? 5000 : 15_000,
    rounds: opts.quick ? 1 : 3,
    verbose: opts.verbose,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`${renderIdle(idle)}\n`);
  const overheadRows: OverheadRow[] = idleRows(idle);
  return {
    failover,
    overhead: overheadRows,
    micro: [
      ...(await micro()),
      ...broadcastRows(await measureBroadcast(opts.quick ? 500 : 2000, opts.quick ? 2000 : 5000)),
    ],
    settings: {
      'leader-ip': `dist/cli/main.js (leader-ip run --json), ${PROFILES.map((p) => `${p.name}: heartbeat ${p.heartbeatMs} ms, lease ${p.leaseMs} ms`).join('; ')}; peer timeout 4 heartbeats; max drift 1 %; no secret`,
      'leader-ip fault timing': 'random delay before each fault, uniform over one heartbeat interval',
      'leader-ip after each fault':
        'the victim is restarted; being the lowest ID it takes leadership back (bully) before the next fault',
      'leader-ip end to end': `FakeDigitalOcean on 127.0.0.1, assign actions complete after ${FAKE_ACTION_MS} ms; DigitalOceanAssigner defaults (first poll after 0.5 s, then x1.5)`,
    },
  };
}
