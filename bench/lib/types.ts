/** Result shapes shared by every bench producer (leader-ip, baselines) and the report renderer. */

export type Scenario = 'crash' | 'graceful' | 'end-to-end';

/** One measured configuration: every sample is "fault injected → next leader active", in ms on the shared clock. */
export interface FailoverResult {
  /** e.g. `leader-ip`, `etcd`, `postgres`. */
  system: string;
  /** Short configuration name, e.g. `default`, `tuned LAN`, `TTL 60 s`, `poll 100 ms`. */
  config: string;
  scenario: Scenario;
  /** Number of contending processes. */
  nodes: number;
  /** leader-ip lease; latency ratios are given against it. */
  leaseMs?: number;
  /** etcd lease TTL in seconds (as granted by the server); ratios are given against it. */
  ttl?: number;
  /** Poll interval of polling baselines (PostgreSQL advisory lock); ratios are given against it. */
  pollMs?: number;
  samplesMs: number[];
  /** Kills after which no new leader appeared within the timeout (not included in samplesMs). */
  failures?: number;
  note?: string;
}

/** Steady-state cost of an idle cluster, per node. */
export interface OverheadRow {
  system: string;
  config?: string;
  nodes: number;
  /** CPU time per wall time of one node, in percent of one core. */
  cpuPercent: number;
  /** Bytes sent per second by one node (application payload or socket bytes; say which in `note`). */
  bytesPerSec?: number;
  /** Resident set size of one node, in MiB. */
  rssMiB: number;
  note?: string;
}

/** A micro-benchmark figure, e.g. CPU cost of 1,000 status() reads. */
export interface MicroRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/** One trial of a partition of the leader (bench/partition.ts); times in ms on the shared clock. */
export interface PartitionTrial {
  /** Time during which two or more nodes led at once, from the partition to the end of the observation. */
  twoLeadersMs: number;
  /** Time during which nobody led, over the same time (the price of never having two). */
  noLeaderMs: number;
  /** The nodes leading when the partition was lifted. */
  leadersAtHeal: number[];
  /** From the heal to the last change of who leads or whom a node follows (0: nothing changed after it). */
  settledAfterHealMs: number;
  /** The one leader the cluster settled on after the heal (null: it did not settle within the timeout). */
  leaderAfter: number | null;
  /** The node the fake cloud API had the floating IP on once the cluster had settled (null: nobody). */
  holderAfter: number | null;
  /** Assign requests received by the fake API from the partition to the end of the observation, all nodes. */
  assignCalls: number;
  /** keepalived: notify program runs (every state change, MASTER or not) over the same time. */
  notifyCalls?: number;
  /** Something the trial found, e.g. a safety violation (leader-ip) or the harness putting the IP back. */
  note?: string;
}

/** One system × setting × kind of partition, with its trials. */
export interface PartitionResult {
  system: string;
  config: string;
  /** What the leader's namespace drops: everything, what it receives, or what it sends. */
  mode: 'symmetric' | 'inbound' | 'outbound';
  partitionMs: number;
  trials: PartitionTrial[];
}

/** What one producer (leader-ip, a baseline) hands to the report. */
export interface BenchSection {
  failover: FailoverResult[];
  /** Two leaders during a partition of the leader, side by side (bench/partition.ts). */
  partition?: PartitionResult[];
  overhead?: OverheadRow[];
  micro?: MicroRow[];
  /** Settings worth recording in the report, e.g. `etcd: /usr/bin/etcd 3.4.23, --election-timeout 500`. */
  settings?: Record<string, string>;
  /** Why something was not measured, with how to fix it (e.g. the apt-get line). */
  skipped?: string[];
  notes?: string[];
}

/** Merge sections in order. */
export function mergeSections(sections: readonly BenchSection[]): Required<BenchSection> {
  const out: Required<BenchSection> = {
    failover: [],
    partition: [],
    overhead: [],
    micro: [],
    settings: {},
    skipped: [],
    notes: [],
  };
  for (const s of sections) {
    out.failover.push(...s.failover);
    out.partition.push(...(s.partition ?? []));
    out.overhead.push(...(s.overhead ?? []));
    out.micro.push(...(s.micro ?? []));
    Object.assign(out.settings, s.settings ?? {});
    out.skipped.push(...(s.skipped ?? []));
    out.notes.push(...(s.notes ?? []));
  }
  return out;
}
