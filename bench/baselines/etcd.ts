/**
 * Baseline: leader election on etcd with npm `etcd3`'s `Election` (the port of etcd's Go `concurrency.Election`).
 *
 * A single-member etcd (Debian's `etcd-server`) runs on 127.0.0.1 with a temp data dir. Each contender is its own
 * Node process (`etcd-contender.ts`) with its own lease. Crash: SIGKILL the leader; its lease stops being renewed
 * and etcd revokes it once the TTL has run out (etcd's lessor checks expiry every 500 ms), deleting the key the next
 * contender watches. Graceful: SIGTERM; the leader revokes its lease at once.
 *
 * Configurations: etcd3's default TTL (60 s) and a tuned TTL (1 s by default). etcd refuses a TTL below
 * ceil(1.5 × election timeout), so the server runs with `--election-timeout 500` (minimum TTL 1 s); the granted TTL
 * is read back from the server and reported. With the 60 s TTL one crash takes about a minute, so crash rounds run
 * in several independent elections at once (each its own contenders and election key) to collect the samples in
 * reasonable time; they share the server, which is idle apart from keep-alives.
 */
import path from 'node:path';
import { type EtcdCluster, etcdBinary, startEtcdCluster } from '../../src/testing/etcd-cluster.ts';
import { type KillLoopResult, runKillLoop } from '../lib/failover.ts';
import type { BenchOptions } from '../lib/options.ts';
import { REPO_ROOT, spawnNodeScript } from '../lib/proc.ts';
import type { BenchSection, FailoverResult, Scenario } from '../lib/types.ts';

const CONTENDER = path.join(REPO_ROOT, 'bench', 'baselines', 'etcd-contender.ts');
/** etcd3's `Election` default. */
const ETCD3_DEFAULT_TTL = 60;
/** Concurrent elections in long-TTL crash rounds (faults are spread over them). */
const MAX_GROUPS = 10;

export const ETCD_INSTALL_HINT = 'apt-get install -y etcd-server   # Debian/Ubuntu; provides /usr/bin/etcd';

interface LoopSpec {
  config: string;
  ttl: number;
  scenario: Scenario;
  nodes: number;
  groups: number;
}

async function runSpec(server: EtcdCluster, spec: LoopSpec, opts: BenchOptions, tag: string): Promise<FailoverResult> {
  let grantedTtl: number | undefined;
  const label = `etcd ${spec.config} ${spec.scenario} n=${spec.nodes}`;
  const perGroup = Array.from(
    { length: spec.groups },
    (_, g) => Math.floor(opts.kills / spec.groups) + (g < opts.kills % spec.groups ? 1 : 0),
  );
  const results: KillLoopResult[] = await Promise.all(
    perGroup.map((kills, g) =>
      runKillLoop({
        label: spec.groups > 1 ? `${label} [election ${g + 1}/${spec.groups}]` : label,
        nodes: spec.nodes,
        kills,
        signal: spec.scenario === 'crash' ? 'SIGKILL' : 'SIGTERM',
        spawn: (index, generation) => {
          const reportTtl = g === 0 && index === 0 && generation === 0;
          const child = spawnNodeScript(
            CONTENDER,
            [
              `--endpoint=${server.endpoints[0]}`,
              `--election=${tag}-g${g}`,
              `--ttl=${spec.ttl}`,
              `--id=c${index}.${generation}`,
              ...(reportTtl ? ['--report-ttl'] : []),
            ],
            { name: `etcd-${tag}-g${g}-c${index}.${generation}`, echo: opts.verbose },
          );
          if (reportTtl) {
            child.waitForEvent('ready', 60_000).then(
              (e) => {
                if (typeof e.grantedTtl === 'number') grantedTtl = e.grantedTtl;
              },
              () => {},
            );
          }
          return child;
        },
        // Generous: up to 30 contenders start at once on a 2-core machine.
        startupTimeoutMs: 60_000,
        sampleTimeoutMs: spec.ttl * 2000 + 10_000,
        // Crash: exactly one keep-alive period. The failover itself lasts about three of them, so without this every
        // kill would land at the same phase (just after a renewal) and all samples would sit near the full TTL.
        // Graceful: resign() does not wait for the lease, the phase is irrelevant.
        jitterMs: spec.scenario === 'crash' ? (spec.ttl * 1000) / 3 : 500,
        budgetMs: opts.budgetMs,
      }),
    ),
  );
  const samplesMs = results.flatMap((r) => r.samplesMs);
  const failures = results.reduce((s, r) => s + r.failures, 0);
  const aborted = results.map((r) => r.aborted).filter((a): a is string => !!a);
  const notes: string[] = [];
  if (spec.groups > 1) notes.push(`${spec.groups} concurrent elections`);
  if (grantedTtl !== undefined && grantedTtl !== spec.ttl)
    notes.push(`asked TTL ${spec.ttl} s, etcd granted ${grantedTtl} s`);
  if (aborted.length) notes.push(`stopped early: ${aborted[0]}`);
  return {
    system: 'etcd',
    config: spec.config,
    scenario: spec.scenario,
    nodes: spec.nodes,
    ttl: grantedTtl ?? spec.ttl,
    samplesMs,
    ...(failures ? { failures } : {}),
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

export async function runEtcdBaseline(opts: BenchOptions): Promise<BenchSection> {
  const bin = etcdBinary();
  if (!bin) {
    const msg = `etcd baseline skipped: etcd server not found (set ETCD_BIN or install it: ${ETCD_INSTALL_HINT})`;
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }
  try {
    await import('etcd3');
  } catch {
    const msg = 'etcd baseline skipped: npm package etcd3 is missing (npm install -D etcd3)';
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }

  // One member; a raft election timeout of 500 ms makes etcd grant a 1 s TTL (its minimum is 1.5 × the timeout).
  const server = await startEtcdCluster(1, { electionTimeoutMs: 500 });
  const failover: FailoverResult[] = [];
  const ttls: [string, number][] = [
    [`default TTL ${ETCD3_DEFAULT_TTL} s`, ETCD3_DEFAULT_TTL],
    [`tuned TTL ${opts.etcdTunedTtl} s`, opts.etcdTunedTtl],
  ];
  try {
    let seq = 0;
    for (const nodes of opts.baselineNodes) {
      for (const [config, ttl] of ttls) {
        for (const scenario of ['crash', 'graceful'] as const) {
          // Only a crash waits out the TTL; parallel elections are needed nowhere else.
          const groups = scenario === 'crash' && ttl >= 10 ? Math.min(MAX_GROUPS, opts.kills) : 1;
          const spec: LoopSpec = { config, ttl, scenario, nodes, groups };
          process.stderr.write(`etcd: ${config}, ${scenario}, ${nodes} contenders, ${opts.kills} faults\n`);
          failover.push(await runSpec(server, spec, opts, `bench-${seq++}`));
        }
      }
    }
  } finally {
    await server.stop();
  }
  return {
    failover,
    settings: {
      etcd: `${bin} ${server.version}, single member on 127.0.0.1, --election-timeout=500 (so a 1 s lease TTL is allowed), temp data dir`,
      'etcd client': `npm etcd3 Election/campaign, one process and one lease per contender; keep-alive every TTL/3`,
      'etcd fault timing':
        'random delay before each crash, uniform over one keep-alive period (TTL/3); before each graceful stop, uniform in [0, 500 ms)',
    },
  };
}
