/**
 * `npm run bench:etcd-backend`: leader-ip's etcd backend (`EtcdElection`) beside npm `etcd3`'s own `Election`, on
 * the same single-member etcd (Debian's `etcd-server`, `--election-timeout=500`), the same TTL, in one process.
 *
 * Per round and per implementation, two contenders: A reaches etcd through a TCP proxy, B directly.
 * - handoff: A leads and resigns (`stop()` / `resign()`); the sample is the time until B is elected.
 * - cut-off: A leads; the proxy blackholes A's traffic both ways (its sockets stay open, nothing arrives: a
 *   partition). Samples: the time from the cut until B is elected (what a crash costs too: etcd must expire A's
 *   lease), and how long A still believed it led *after* B was elected — `believedPastSuccessorMs`, negative when
 *   A had stopped first, positive when two nodes believed they led at once. For `EtcdElection` A's belief ends when
 *   `isLeader` turns false (reported by `lostLeadership` as `mono − endedMsAgo`); for `etcd3`, when its campaign
 *   reports the lost lease (its only signal).
 * Options: `--rounds N` (default 5), `--ttl S` (default 2).
 *
 * `npm run bench` runs the same comparison as one of its systems (`etcd-backend`, see `runEtcdBackendBench`) and
 * reports a skip line with the install command when etcd is not installed.
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { EtcdElection } from '../src/etcd.ts';
import { etcdBinary, startEtcdCluster } from '../src/testing/etcd-cluster.ts';
import { monotonicMs } from '../src/util/monotonic.ts';
import { ChaosProxy } from '../test/chaos/proxy.ts';
import { ETCD_INSTALL_HINT } from './baselines/etcd.ts';
import type { BenchOptions } from './lib/options.ts';
import { summarize } from './lib/stats.ts';
import type { BenchSection, FailoverResult } from './lib/types.ts';

/** Lease TTL of both implementations, seconds (module-wide: set once per run before any round). */
let TTL_S = 2;

interface Contender {
  /** Resolves at the monotonic time it was elected. */
  elected: Promise<number>;
  /** Resolves once it leads on renewed keep-alives (not on its first grant alone). */
  settled(): Promise<void>;
  /** Resolves at the monotonic time its belief that it leads ended. */
  believedUntil: Promise<number>;
  resign(): Promise<void>;
  close(): Promise<void>;
}

type Impl = (name: string, endpoint: string, id: number) => Promise<Contender>;

const until = (cond: () => boolean): Promise<void> =>
  new Promise((resolve) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });

const leaderIp: Impl = async (name, endpoint, id) => {
  const e = new EtcdElection({ id, endpoints: endpoint, name, leaseMs: TTL_S * 1000, requestTimeoutMs: 500 });
  const elected = new Promise<number>((resolve) => e.once('gainedLeadership', () => resolve(monotonicMs())));
  const believedUntil = new Promise<number>((resolve) =>
    e.once('lostLeadership', ({ endedMsAgo }) => resolve(monotonicMs() - endedMsAgo)),
  );
  await e.start();
  const settled = async (): Promise<void> => {
    await elected;
    // Lead on keep-alives, not on the grant alone.
    const seen = e.status().keepAlives;
    await until(() => e.status().keepAlives >= seen + 2 || !e.isLeader);
  };
  return { elected, settled, believedUntil, resign: () => e.stop(), close: () => e.stop() };
};

const etcd3Election: Impl = async (name, endpoint, id) => {
  const client = new Etcd3({ hosts: endpoint });
  const campaign = client.election(name, TTL_S).campaign(String(id));
  campaign.on('error', () => {});
  const elected = new Promise<number>((resolve) => campaign.once('elected', () => resolve(monotonicMs())));
  const believedUntil = new Promise<number>((resolve) => campaign.once('error', () => resolve(monotonicMs())));
  return {
    elected,
    // etcd3 keeps its lease alive from the start; one TTL/3 period in, it has renewed at least once.
    settled: async () => {
      await elected;
      await new Promise((r) => setTimeout(r, (TTL_S * 1000) / 2));
    },
    believedUntil,
    resign: () => campaign.resign(),
    close: async () => client.close(),
  };
};

async function round(impl: Impl, endpointPort: number, tag: string, cut: boolean) {
  const proxy = new ChaosProxy([1, 2], (id) => (id === 2 ? endpointPort : undefined));
  await proxy.start();
  const a = await impl(tag, `http://127.0.0.1:${proxy.portFor(1, 2)}`, 1);
  await a.settled();
  const b = await impl(tag, `http://127.0.0.1:${endpointPort}`, 2);
  const result: { handoffMs?: number; failoverMs?: number; believedPastSuccessorMs?: number } = {};
  if (!cut) {
    const t0 = monotonicMs();
    await a.resign();
    result.handoffMs = (await b.elected) - t0;
  } else {
    const t0 = monotonicMs();
    proxy.setFlow(1, 2, { mode: 'stall', delayMs: 0 });
    proxy.setFlow(2, 1, { mode: 'stall', delayMs: 0 });
    const tB = await b.elected;
    result.failoverMs = tB - t0;
    const tA = await Promise.race([
      a.believedUntil,
      new Promise<number>((r) => setTimeout(() => r(Number.NaN), 20_000)),
    ]);
    result.believedPastSuccessorMs = Number.isNaN(tA) ? Number.POSITIVE_INFINITY : tA - tB;
  }
  proxy.healAll();
  await Promise.all([a.close(), b.close()]).catch(() => {});
  await proxy.stop();
  return result;
}

/** Raw samples of one implementation, ms. */
interface ImplSamples {
  label: string;
  handoff: number[];
  failover: number[];
  belief: number[];
}

const IMPLS = [
  ['leader-ip EtcdElection', leaderIp],
  ['etcd3 Election', etcd3Election],
] as const;

/** Runs `rounds` handoff and cut-off rounds per implementation on one fresh single-member etcd. */
async function measure(rounds: number): Promise<{ version: string; results: ImplSamples[] }> {
  // A raft election timeout of 500 ms lets etcd grant TTLs from 1 s (its minimum is 1.5 × the timeout).
  const server = await startEtcdCluster(1, { electionTimeoutMs: 500 });
  const port = server.members[0]!.clientPort;
  const results: ImplSamples[] = [];
  try {
    for (const [label, impl] of IMPLS) {
      const r: ImplSamples = { label, handoff: [], failover: [], belief: [] };
      for (let i = 0; i < rounds; i++) {
        const h = await round(impl, port, `h-${label.length}-${i}`, false);
        r.handoff.push(h.handoffMs!);
        const c = await round(impl, port, `c-${label.length}-${i}`, true);
        r.failover.push(c.failoverMs!);
        r.belief.push(c.believedPastSuccessorMs!);
        process.stderr.write(`${label} round ${i + 1}: ${JSON.stringify({ ...h, ...c })}\n`);
      }
      results.push(r);
    }
  } finally {
    await server.stop();
  }
  return { version: server.version, results };
}

const fmt = (xs: number[]) => {
  const s = summarize(xs);
  return s === undefined ? '-' : `p50 ${s.p50.toFixed(0)}, p90 ${s.p90.toFixed(0)}, max ${s.max.toFixed(0)}`;
};

/** The skip line `npm run bench` prints when etcd is missing. */
export const ETCD_BACKEND_SKIPPED = `etcd-backend skipped: install etcd-server (${ETCD_INSTALL_HINT})`;

/**
 * The etcd backend comparison as a `npm run bench` section: rows `etcd-backend` (leader-ip's `EtcdElection`) and
 * `etcd3-election` (npm etcd3's `Election`), scenario `graceful` = handoff, `crash` = the leader cut off by a
 * partition (etcd must expire its lease, as after a crash), 2 contenders. How long the cut-off leader still
 * believed it led after its successor was elected goes into each crash row's note. Rounds: `--kills`, capped at 20
 * (each cut-off round waits out a lease; 20 give stable percentiles in a few minutes).
 */
export async function runEtcdBackendBench(opts: BenchOptions): Promise<BenchSection> {
  if (etcdBinary() === undefined) {
    process.stderr.write(`${ETCD_BACKEND_SKIPPED}\n`);
    return { failover: [], skipped: [ETCD_BACKEND_SKIPPED] };
  }
  const rounds = Math.min(opts.kills, 20);
  const { version, results } = await measure(rounds);
  const failover: FailoverResult[] = [];
  for (const r of results) {
    const system = r.label.startsWith('leader-ip') ? 'etcd-backend' : 'etcd3-election';
    const config = `${r.label}, TTL ${TTL_S} s`;
    failover.push({ system, config, scenario: 'graceful', nodes: 2, ttl: TTL_S, samplesMs: r.handoff });
    const finite = r.belief.filter(Number.isFinite);
    const stuck = r.belief.length - finite.length;
    failover.push({
      system,
      config,
      scenario: 'crash',
      nodes: 2,
      ttl: TTL_S,
      samplesMs: r.failover,
      note:
        `leader cut off by a partition; it still believed it led after the successor was elected by ${fmt(finite)} ms` +
        ` (negative: it had stopped first)${stuck ? `; ${stuck} never noticed within 20 s` : ''}`,
    });
  }
  return {
    failover,
    settings: { 'etcd backend comparison': `etcd ${version}, single member, --election-timeout=500, ${rounds} rounds` },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, ttl: { type: 'string' } } });
  const rounds = Number(values.rounds ?? 5);
  TTL_S = Number(values.ttl ?? 2);
  if (etcdBinary() === undefined) throw new Error(`etcd not found: ${ETCD_INSTALL_HINT}`);
  const { version, results } = await measure(rounds);
  process.stdout.write(
    `etcd ${version}, single member, TTL ${TTL_S} s, ${rounds} rounds each (ms)\n` +
      '| implementation | graceful handoff | cut-off leader: successor elected after | cut-off leader believed past the successor |\n' +
      '|---|---|---|---|\n' +
      `${results.map((r) => `| ${r.label} | ${fmt(r.handoff)} | ${fmt(r.failover)} | ${fmt(r.belief)} |`).join('\n')}\n`,
  );
  process.exit(0);
}
