/**
 * Two leaders during a partition of the leader: keepalived beside leader-ip, partitioned the same way.
 *
 * Three network namespaces on a bridge (`lipp-*`, 10.214.0.0/24, bench/lib/netns.ts; not the keepalived baseline's,
 * so both can run on one machine). A fake DigitalOcean API runs in the bridge's namespace, on the bridge's address,
 * and every node moves one floating IP through it: leader-ip's CLI (`leader-ip run --floating-ip ... --api-url`),
 * keepalived's notify program on MASTER (one assign request, as a cloud notify script would). The fake counts the
 * calls and says who holds the IP.
 *
 * Each trial: wait until node 1 (keepalived's highest priority, leader-ip's lowest ID) leads alone, every node agrees
 * and the IP is on it; after a random phase of one advert or heartbeat, drop node 1's traffic with nftables inside
 * its namespace for 5 s — everything (`symmetric`), only what it receives (`inbound`) or only what it sends
 * (`outbound`); traffic with the fake API is never dropped (a cloud's API is reached another way than the peers, and
 * a deposed leader that can still call it is the harder case) — then lift the rules, wait until one leader is left
 * and nothing has changed for a while, then let in-flight API calls land and read the fake.
 *
 * Measured per trial: the time during which two or more nodes led at once (leadership intervals from the nodes'
 * events on the shared monotonic clock: keepalived's notify log, leader-ip's `--json` lines with `endedMsAgo`);
 * who led at the heal; the leader after it and where the IP was then; the assign calls the fake received and, for
 * keepalived, the notify program's runs. Any overlap of leader-ip leaderships is a safety bug and is reported with
 * the trial. keepalived does not move the IP back by itself when its master never changed state; the harness then
 * puts it back on node 1 before the next trial (noted).
 *
 * `npm run bench:partition [-- --partition-trials 5 --verbose]` runs only this and prints the table; `npm run bench`
 * includes it. Needs root, `ip netns`, nft (nftables), keepalived and perl; otherwise skipped with the install line.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { leadershipIntervals, leadershipViolations } from '../src/testing/leadership-intervals.ts';
import type { NodeProcessEvent } from '../src/testing/process-cluster.ts';
import {
  KEEPALIVED_SETTINGS,
  type KeepalivedSetting,
  keepalivedMissing,
  keepalivedWorkDir,
  startKeepalived,
} from './baselines/keepalived.ts';
import { PROFILES, type Profile } from './leader-ip.ts';
import { nowMs } from './lib/clock.ts';
import { NetnsBridge, nftMissing, type PartitionMode } from './lib/netns.ts';
import { type BenchOptions, parseBenchArgs } from './lib/options.ts';
import { type Child, delay, REPO_ROOT, spawnProcess, stopAll } from './lib/proc.ts';
import { renderConsole } from './lib/report.ts';
import { noLeaderMs, type Span, twoLeadersMs } from './lib/two-leaders.ts';
import type { BenchSection, PartitionResult, PartitionTrial } from './lib/types.ts';

/** What enables this part of the bench. */
export const PARTITION_INSTALL_HINT = `apt-get install -y keepalived nftables iproute2 perl   # and run the bench as root`;

const NODES = 3;
const PARTITION_MS = 5000;
const MODES: PartitionMode[] = ['symmetric', 'inbound', 'outbound'];
const FAKE_TOKEN = 'bench-fake-token';
const FAKE_IP = '203.0.113.10';
/** How long the fake takes to complete an assign action (real ones take about 1–3 s). */
const FAKE_ACTION_MS = 1000;
const PORT = 7400;
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Droplet of node `id` in the fake. */
const dropletOf = (id: number): number => 1000 + id;
const nodeOf = (droplet: number | null): number | null => (droplet === null ? null : droplet - 1000);

/** A running 3-node cluster of either tool, as the trial loop sees it. */
interface Cluster {
  system: string;
  config: string;
  /** Advert or heartbeat interval: the random phase of each partition is drawn over one. */
  intervalMs: number;
  children: Child[];
  /** Every leadership so far. */
  spans(): Span[];
  /** The one node that leads, when exactly one does and every node agrees on it. */
  settledLeader(): number | undefined;
  /** Shared-clock time of the last event that changes who leads or whom a node follows. */
  lastChange(): number;
  /** keepalived: notify program runs in [from, to]. */
  notifyCalls?(from: number, to: number): number;
  /** leader-ip: every event line of the nodes in [from, to], for a trial worth a closer look. */
  dump?(from: number, to: number): string;
  /** leader-ip: safety violations over the whole run (overlapping leaderships, terms not growing). */
  violations?(): string[];
  /** keepalived does not re-announce a mastership it never lost: the harness may have to move the IP back. */
  harnessMovesIpBack: boolean;
}

/** The fake API's process and its report protocol (bench/lib/fake-api-child.ts). */
class FakeApi {
  #seq = 0;
  private constructor(
    readonly child: Child,
    readonly url: string,
  ) {}

  static async start(net: NetnsBridge, verbose: boolean): Promise<FakeApi> {
    // Inside the bridge's namespace, on the bridge's address: reachable from every node's namespace only.
    const inside = spawnProcess(
      'ip',
      [
        ...net.exec('br').slice(1),
        process.execPath,
        '--import',
        'tsx',
        'bench/lib/fake-api-child.ts',
        net.bridgeAddress,
        FAKE_TOKEN,
        FAKE_IP,
        String(FAKE_ACTION_MS),
        ...[1, 2, 3].map((id) => String(dropletOf(id))),
      ],
      { name: 'fake DigitalOcean', echo: verbose, dieWithParent: 'SIGKILL' },
    );
    const listening = await inside.waitForEvent('listening', 30_000);
    return new FakeApi(inside, String(listening.url));
  }

  async report(): Promise<{ holder: number | null; assigns: number; requests: number }> {
    const seq = ++this.#seq;
    this.child.proc.stdin?.write(`report ${seq}\n`);
    const e = await this.child.waitForEvent((ev) => ev.event === 'report' && ev.seq === seq, 10_000);
    const assigns = Object.values(e.assigns as Record<string, number>).reduce((a, b) => a + b, 0);
    return { holder: nodeOf(e.holder as number | null), assigns, requests: Number(e.requests) };
  }

  move(id: number): void {
    this.child.proc.stdin?.write(`move ${dropletOf(id)}\n`);
  }
}

function startKeepalivedCluster(
  net: NetnsBridge,
  dir: string,
  setting: KeepalivedSetting,
  fake: FakeApi,
  verbose: boolean,
): Cluster {
  const nodes = [0, 1, 2].map((index) =>
    startKeepalived({
      net,
      dir,
      setting,
      index,
      generation: 0,
      verbose,
      assign: { apiUrl: fake.url, token: FAKE_TOKEN, ip: FAKE_IP, dropletId: dropletOf },
    }),
  );
  const children = nodes.map((n) => n.child);
  const states = (i: number) => children[i]!.events.filter((e) => e.event === 'state');
  return {
    system: 'keepalived',
    config: setting.name,
    intervalMs: setting.advertS * 1000,
    children,
    harnessMovesIpBack: true,
    spans: () =>
      children.flatMap((_, i) => {
        const out: Span[] = [];
        let open: Span | undefined;
        for (const e of states(i)) {
          if (e.state === 'MASTER') {
            open ??= { id: i + 1, from: e.t, to: Number.POSITIVE_INFINITY };
          } else if (open) {
            open.to = e.t;
            out.push(open);
            open = undefined;
          }
        }
        if (open) out.push(open);
        return out;
      }),
    settledLeader: () => {
      const last = children.map((_, i) => states(i).at(-1)?.state);
      const masters = last.flatMap((s, i) => (s === 'MASTER' ? [i + 1] : []));
      return masters.length === 1 && last.every((s) => s === 'MASTER' || s === 'BACKUP') ? masters[0] : undefined;
    },
    lastChange: () => Math.max(0, ...children.flatMap((_, i) => states(i).map((e) => e.t))),
    notifyCalls: (from, to) =>
      children.reduce((n, _, i) => n + states(i).filter((e) => e.t >= from && e.t <= to).length, 0),
  };
}

function leaderIpConfig(profile: Profile): string {
  return `${profile.name} (hb ${profile.heartbeatMs} ms, lease ${profile.leaseMs} ms)`;
}

function startLeaderIpCluster(net: NetnsBridge, profile: Profile, fake: FakeApi, verbose: boolean): Cluster {
  const history: NodeProcessEvent[] = [];
  const children = [1, 2, 3].map((id) => {
    const peers = [1, 2, 3].filter((p) => p !== id).map((p) => `${net.address(p)}:${PORT}`);
    const child = spawnProcess(
      'ip',
      [
        ...net.exec(id).slice(1),
        process.execPath,
        CLI,
        'run',
        '--json',
        '--id',
        String(id),
        '--listen',
        `${net.address(id)}:${PORT}`,
        '--peers',
        peers.join(','),
        '--heartbeat-ms',
        String(profile.heartbeatMs),
        '--lease-ms',
        String(profile.leaseMs),
        '--floating-ip',
        FAKE_IP,
        '--api-url',
        fake.url,
        '--droplet-id',
        String(dropletOf(id)),
        // As the other leader-ip benches: no secret (keepalived's VRRP here has no authentication either).
        '--insecure',
      ],
      {
        name: `leader-ip node ${id}`,
        echo: verbose,
        env: { ...process.env, DIGITALOCEAN_TOKEN: FAKE_TOKEN },
        // Every JSON line is kept (with `mono` as `t`): the interval checker needs the raw history.
        mapEvent: (line) => {
          if (typeof line.event !== 'string' || typeof line.mono !== 'number') return undefined;
          history.push({ ...line, id, event: line.event, mono: line.mono });
          return { ...line, event: line.event, t: line.mono };
        },
        dieWithParent: 'SIGKILL',
      },
    );
    return child;
  });
  const leadership = new Set(['gainedLeadership', 'lostLeadership', 'leaderChange', 'starting', 'started']);
  return {
    system: 'leader-ip',
    config: leaderIpConfig(profile),
    intervalMs: profile.heartbeatMs,
    children,
    harnessMovesIpBack: false,
    spans: () => leadershipIntervals(history, []).intervals.map((i) => ({ id: i.id, from: i.from, to: i.to })),
    settledLeader: () => {
      const open = leadershipIntervals(history, []).intervals.filter((i) => i.end === 'open');
      if (open.length !== 1) return undefined;
      const leader = open[0]!.id;
      const agree = children.every(
        (c) => c.events.filter((e) => e.event === 'leaderChange').at(-1)?.leaderId === leader,
      );
      return agree ? leader : undefined;
    },
    lastChange: () => Math.max(0, ...history.filter((e) => leadership.has(e.event)).map((e) => e.mono)),
    violations: () => leadershipViolations(history, []),
    dump: (from, to) =>
      history
        .filter((e) => e.mono >= from && e.mono <= to)
        .map((e) => JSON.stringify(e))
        .join('\n'),
  };
}

/** Throws if a node's process has exited: nothing measured after that would mean anything. */
function checkAlive(cluster: Cluster): void {
  const dead = cluster.children.find((c) => !c.alive);
  if (dead) throw new Error(`${dead.name} exited\n--- its last output ---\n${dead.outputTail()}`);
}

/**
 * Poll `get` until it returns a value, or throw after `timeoutMs` or when a node of `cluster` exits. A bench loop,
 * not a test: polling is fine.
 */
async function until<T>(
  what: string,
  cluster: Cluster,
  timeoutMs: number,
  get: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    checkAlive(cluster);
    const v = await get();
    if (v !== undefined) return v;
    if (nowMs() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(20);
  }
}

/** Quiet time that counts as settled, and the time given to API calls in flight before the fake is read. */
function quietMs(cluster: Cluster): number {
  return Math.max(2000, 10 * cluster.intervalMs);
}
const TAIL_MS = 3 * FAKE_ACTION_MS;

/** Event dumps written so far, for unique file names. */
let dumps = 0;

/** Until one leader, agreed on by all, and no change for the quiet time; returns the leader or null. */
async function settle(cluster: Cluster, timeoutMs: number): Promise<number | null> {
  try {
    return await until('settle', cluster, timeoutMs, () => {
      const leader = cluster.settledLeader();
      return leader !== undefined && nowMs() - cluster.lastChange() >= quietMs(cluster) ? leader : undefined;
    });
  } catch (error) {
    checkAlive(cluster);
    if (!(error instanceof Error && error.message.startsWith('settle:'))) throw error;
    return null;
  }
}

async function trial(net: NetnsBridge, cluster: Cluster, fake: FakeApi, mode: PartitionMode): Promise<PartitionTrial> {
  const notes: string[] = [];
  // Before: node 1 leads alone, the others follow, the IP is on it.
  const before = await settle(cluster, 60_000);
  if (before !== 1) throw new Error(`${cluster.system}: node 1 is not the settled leader before the trial`);
  let start = await fake.report();
  if (start.holder !== 1) {
    if (!cluster.harnessMovesIpBack) {
      await until('the IP on node 1 before the trial', cluster, 30_000, async () =>
        (await fake.report()).holder === 1 ? true : undefined,
      );
    } else {
      // keepalived's master never changed state, so its notify program never ran again: put the IP back as an
      // operator would (the previous trial's row already shows where it was left).
      fake.move(1);
    }
    start = await fake.report();
  }
  await delay(Math.random() * cluster.intervalMs);
  const t0 = nowMs();
  net.partition(1, mode, net.bridgeAddress);
  await delay(PARTITION_MS - (nowMs() - t0));
  const t1 = nowMs();
  net.heal(1);
  // Settled, then nothing may change while API calls in flight land; otherwise settle again. (A node whose
  // reconnections backed off during the partition can come back and preempt well after a quiet spell.)
  let leaderAfter: number | null = null;
  for (const deadline = t1 + 60_000; nowMs() < deadline; ) {
    leaderAfter = await settle(cluster, Math.max(0, deadline - nowMs()));
    const mark = cluster.lastChange();
    await delay(TAIL_MS);
    if (leaderAfter === null || (cluster.lastChange() === mark && cluster.settledLeader() === leaderAfter)) break;
    leaderAfter = null;
  }
  if (leaderAfter === null) notes.push('no single settled leader within 60 s of the heal');
  const end = nowMs();
  const after = await fake.report();
  const spans = cluster.spans();
  const violations = cluster.violations?.() ?? [];
  if (violations.length) notes.push(`SAFETY: ${violations.join('; ')}`);
  const leadersAtHeal = spans.filter((s) => s.from <= t1 && s.to > t1).map((s) => s.id);
  // A majority side without a leader at the heal, or a violation: keep the nodes' lines for a closer look.
  if (cluster.dump && (violations.length || leadersAtHeal.length === 0 || leaderAfter !== after.holder)) {
    const file = path.join(os.tmpdir(), `leader-ip-partition-${process.pid}-${++dumps}.jsonl`);
    writeFileSync(file, `${cluster.dump(t0 - 2000, end)}\n`);
    notes.push(
      `${leadersAtHeal.length ? '' : 'no leader at the heal; '}events from 2 s before the partition: ${file} (partition ${t0.toFixed(3)}–${t1.toFixed(3)})`,
    );
  }
  return {
    twoLeadersMs: twoLeadersMs(spans, t0, end),
    noLeaderMs: noLeaderMs(spans, t0, end),
    settledAfterHealMs: Math.max(0, cluster.lastChange() - t1),
    leadersAtHeal,
    leaderAfter,
    holderAfter: after.holder,
    assignCalls: after.assigns - start.assigns,
    ...(cluster.notifyCalls ? { notifyCalls: cluster.notifyCalls(t0, end) } : {}),
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

async function measure(
  net: NetnsBridge,
  fake: FakeApi,
  cluster: Cluster,
  trials: number,
  modes: readonly PartitionMode[],
  log: (m: string) => void,
  errors: string[],
): Promise<PartitionResult[]> {
  const results: PartitionResult[] = [];
  try {
    await until(`${cluster.system} ${cluster.config}: first leader`, cluster, 60_000, () => cluster.settledLeader());
    for (const mode of modes) {
      const result: PartitionResult = {
        system: cluster.system,
        config: cluster.config,
        mode,
        partitionMs: PARTITION_MS,
        trials: [],
      };
      for (let i = 0; i < trials; i++) {
        let t: PartitionTrial;
        try {
          t = await trial(net, cluster, fake, mode);
        } catch (error) {
          // Keep what was measured; the rest of this cluster's cases are not worth running on a broken cluster.
          const message = `${cluster.system} ${cluster.config} ${mode} trial ${i + 1} failed: ${error instanceof Error ? error.message : String(error)}`;
          log(message);
          errors.push(message.split('\n')[0]!);
          if (result.trials.length) results.push(result);
          return results;
        }
        log(
          `${cluster.system} ${cluster.config} ${mode} #${i + 1}: two leaders ${t.twoLeadersMs.toFixed(0)} ms, ` +
            `no leader ${t.noLeaderMs.toFixed(0)} ms, settled ${t.settledAfterHealMs.toFixed(0)} ms after the heal, ` +
            `leading at heal ${t.leadersAtHeal.join('+') || 'none'}, after: leader ${t.leaderAfter} IP ${t.holderAfter}, ` +
            `assigns ${t.assignCalls}${t.notifyCalls === undefined ? '' : `, notify ${t.notifyCalls}`}${t.note ? ` (${t.note})` : ''}`,
        );
        result.trials.push(t);
      }
      results.push(result);
    }
  } finally {
    await Promise.all(cluster.children.map((c) => c.stop('SIGTERM', 5000)));
  }
  return results;
}

/** The partition bench; see the module comment. */
export async function runPartitionBench(opts: BenchOptions): Promise<BenchSection> {
  const why = keepalivedMissing() ?? nftMissing();
  if (why) {
    const msg = `partition bench skipped: ${why} (to enable: ${PARTITION_INSTALL_HINT})`;
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }
  const log = (m: string): void => {
    process.stderr.write(`${m}\n`);
  };
  log('partition: building dist/ (leader-ip is measured as the built command)');
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const trials = opts.partitionTrials;
  const version = execFileSync('keepalived', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const net = new NetnsBridge({ prefix: 'lipp', subnet: '10.214.0', nodes: NODES });
  const dir = keepalivedWorkDir('partition');
  const partition: PartitionResult[] = [];
  const errors: string[] = [];
  net.create();
  try {
    const fake = await FakeApi.start(net, opts.verbose);
    const profiles = PROFILES.filter((p) => p.name === 'default' || p.name === 'fast LAN');
    const clusters: [string, () => Cluster][] = [
      ...profiles.map((p): [string, () => Cluster] => [
        `leader-ip ${leaderIpConfig(p)}`,
        () => startLeaderIpCluster(net, p, fake, opts.verbose),
      ]),
      ...KEEPALIVED_SETTINGS.map((s): [string, () => Cluster] => [
        `keepalived ${s.name}`,
        () => startKeepalivedCluster(net, dir, s, fake, opts.verbose),
      ]),
    ];
    for (const [name, start] of clusters) {
      // `--partition-filter`: only the rows whose "system config mode" contains it (to look into one case).
      const modes = MODES.filter((m) => `${name} ${m}`.includes(opts.partitionFilter ?? ''));
      if (modes.length === 0) continue;
      const cluster = start();
      log(`partition: ${name}, ${trials} trials per kind`);
      partition.push(...(await measure(net, fake, cluster, trials, modes, log, errors)));
    }
    await fake.child.stop('SIGTERM', 5000);
  } finally {
    await stopAll('SIGKILL');
    net.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    failover: [],
    partition,
    ...(errors.length ? { notes: errors } : {}),
    settings: {
      partition:
        `3 nodes in network namespaces on a bridge (10.214.0.0/24, only inside them); node 1 leads; nftables in node 1's namespace ` +
        `drops ${MODES.join(' / ')} traffic of its interface for ${PARTITION_MS / 1000} s (not traffic with the fake API), ` +
        `random phase over one advert/heartbeat; ${trials} trials each; before each trial the cluster has settled on node 1 ` +
        `and the IP is on it (keepalived leaves it elsewhere after a partition: the harness moves it back); settled = one leader agreed by all and no change ` +
        `for max(2 s, 10 intervals); the fake is read ${TAIL_MS / 1000} s after that. Fake DigitalOcean API on the bridge, ` +
        `assign actions complete after ${FAKE_ACTION_MS} ms. keepalived: ${version.split('\n')[0]?.trim()}, unicast_peer, ` +
        `priorities 150/100/50, notify program logs CLOCK_MONOTONIC and POSTs one assign on MASTER. leader-ip: ` +
        `dist/cli/main.js run --json, worker thread (default), DigitalOcean assigner defaults.`,
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opts = parseBenchArgs();
  const start = nowMs();
  const section = await runPartitionBench(opts);
  process.stdout.write(`\n${renderConsole(section)}\n`);
  process.stdout.write(`\npartition bench run time: ${((nowMs() - start) / 60_000).toFixed(1)} min\n`);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(section, null, 2)}\n`);
  await stopAll('SIGKILL');
  process.exit(0);
}
