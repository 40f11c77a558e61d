/** Command-line options shared by `bench/run.ts` and `bench/baselines/run.ts`. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Faults injected per configuration and scenario. */
  kills: number;
  quick: boolean;
  /** Contender counts for the baselines (leader-ip picks its own: 3 and 5 nodes). */
  baselineNodes: number[];
  /** Systems to run (`leader-ip`, `etcd`, `etcd-backend`, `postgres`, `keepalived`, `partition`); empty = all. */
  only: string[];
  /** Copy every child's output to stderr. */
  verbose: boolean;
  /** Time budget of one configuration × scenario loop, ms. */
  budgetMs: number;
  /** etcd: the tuned lease TTL in seconds (the default TTL is etcd3's own, 60 s). */
  etcdTunedTtl: number;
  /** PostgreSQL: poll intervals to measure, ms. */
  pgPollMs: number[];
  /** Partition bench: trials per system, setting and kind of partition. */
  partitionTrials: number;
  /** Partition bench: only the cases whose `system config mode` contains this text. */
  partitionFilter?: string;
  /** Write docs/benchmarks.md and the SVG chart (bench/run.ts only). */
  write: boolean;
  /** Also dump the raw results as JSON to this path. */
  json?: string;
}

export const USAGE = `Options:
  --kills N          faults per configuration and scenario (default 50; 5 with --quick)
  --quick            smoke run: 5 faults per configuration
  --nodes 3,5        contender counts for the baselines (default 3)
  --only a,b         run only these: leader-ip, etcd, etcd-backend, postgres, keepalived, partition
  --partition-trials N  partition bench: trials per setting and kind of partition (default 5; 2 with --quick)
  --partition-filter T  partition bench: only cases whose "system config mode" contains T,
                     e.g. 'fast LAN (hb 25 ms, lease 250 ms) outbound'
  --etcd-ttl S       etcd tuned lease TTL in seconds (default 1)
  --pg-poll A,B      PostgreSQL poll intervals in ms (default 100,20)
  --budget-min M     time budget of one configuration loop, minutes (default 15)
  --no-write         do not write docs/benchmarks.md and docs/benchmarks-failover.svg
  --json FILE        also write raw results as JSON
  --verbose          copy child process output to stderr
  --help`;

function numberList(s: string, what: string): number[] {
  const list = s.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((x) => !Number.isFinite(x) || x <= 0)) {
    throw new Error(`${what}: expected a comma-separated list of positive numbers, got '${s}'`);
  }
  return list;
}

function positive(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a positive number, got '${s}'`);
  return n;
}

export function parseBenchArgs(argv: string[] = process.argv.slice(2)): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      kills: { type: 'string' },
      quick: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      only: { type: 'string' },
      'etcd-ttl': { type: 'string' },
      'pg-poll': { type: 'string' },
      'budget-min': { type: 'string' },
      'partition-trials': { type: 'string' },
      'partition-filter': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      json: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const kills = values.kills ? Math.round(positive(values.kills, '--kills')) : quick ? 5 : 50;
  return {
    kills,
    quick,
    baselineNodes: values.nodes ? numberList(values.nodes, '--nodes').map(Math.round) : [3],
    only: values.only ? values.only.split(',').map((s) => s.trim().toLowerCase()) : [],
    verbose: values.verbose ?? false,
    budgetMs: (values['budget-min'] ? positive(values['budget-min'], '--budget-min') : 15) * 60_000,
    etcdTunedTtl: values['etcd-ttl'] ? Math.round(positive(values['etcd-ttl'], '--etcd-ttl')) : 1,
    pgPollMs: values['pg-poll'] ? numberList(values['pg-poll'], '--pg-poll') : [100, 20],
    partitionTrials: values['partition-trials']
      ? Math.round(positive(values['partition-trials'], '--partition-trials'))
      : quick
        ? 2
        : 5,
    write: !(values['no-write'] ?? false),
    ...(values.json ? { json: values.json } : {}),
    ...(values['partition-filter'] ? { partitionFilter: values['partition-filter'] } : {}),
  };
}

/** Whether `system` is selected by `--only`. */
export function selected(opts: BenchOptions, system: string): boolean {
  return opts.only.length === 0 || opts.only.includes(system);
}
