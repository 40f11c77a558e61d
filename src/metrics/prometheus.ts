/**
 * Prometheus metrics of a leadership source (an `ElectionNode`, an `EtcdElection`, any {@link LeadershipSource})
 * and of its floating-IP bindings, registered into the caller's prom-client registry in one call.
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FloatingIpBinding } from '../assigners/bind-floating-ip.ts';
import { ConfigError } from '../errors.ts';
import type { LeadershipEvents, LeadershipSource } from '../leadership/leadership-source.ts';

/**
 * Upper bounds of the assign-duration histogram, in seconds: a cloud API moves an IP in one to a few tens of
 * seconds; a mock or a local fake in milliseconds.
 */
export const ASSIGN_DURATION_BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];

/** A binding to observe, with the IP it moves (the `ip` label). */
export interface ObservedBinding {
  /** What `bindFloatingIp` returned. */
  binding: FloatingIpBinding;
  /** The floating IP, as the `ip` label of its metrics. */
  ip: string;
}

/** Options of {@link registerLeaderIpMetrics}. */
export interface LeaderIpMetricsOptions {
  /** Floating-IP bindings of this source to observe; more can be added with {@link LeaderIpMetrics.addBinding}. */
  bindings?: readonly ObservedBinding[] | undefined;
  /**
   * Prefix of every metric name. Default `leader_ip_`. Change it only to register two sources into one registry
   * (an application running two elections); otherwise prefer the registry's default labels.
   */
  prefix?: string | undefined;
  /** Upper bounds of `assign_duration_seconds`. Default {@link ASSIGN_DURATION_BUCKETS}. */
  buckets?: readonly number[] | undefined;
}

/** Returned by {@link registerLeaderIpMetrics}. */
export interface LeaderIpMetrics {
  /** Observes one more binding (e.g. one created after the metrics were registered). */
  addBinding(observed: ObservedBinding): void;
  /** Removes every metric from the registry and every listener from the source and the bindings. */
  unregister(): void;
}

/** The optional parts of a status that some backends have (`ElectionNode` has them all). */
interface RichStatus {
  state?: string;
  clusterSize?: number;
  peers?: readonly { alive?: boolean }[];
  health?: { healthy?: boolean };
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers the metrics of `source` and of its bindings into `registry` (names under the `leader_ip_` prefix,
 * following Prometheus conventions: base units, `_total` counters, gauges read at scrape time):
 *
 * | metric | type | labels | meaning |
 * | --- | --- | --- | --- |
 * | `leader_ip_leader` | gauge | | 1 while this node leads, else 0 (`sum` across the cluster must be 1) |
 * | `leader_ip_leader_id` | gauge | | the leader's ID as this node sees it; 0 while none is known (IDs start at 1) |
 * | `leader_ip_term` | gauge | | fencing term of the current or last leadership |
 * | `leader_ip_running` | gauge | | 1 between `start()` and `stop()` |
 * | `leader_ip_cluster_size` | gauge | | voting members (backends that have it) |
 * | `leader_ip_peers_alive` | gauge | | peers heard from within the peer timeout (backends that have it) |
 * | `leader_ip_healthy` | gauge | | the node's health verdict, 1 or 0 (backends with health gating) |
 * | `leader_ip_leadership_transitions_total` | counter | `direction` (`gained`, `lost`), `reason` (lost) | leadership changes of this node |
 * | `leader_ip_assign_attempts_total` | counter | `ip` | assign calls, retries included |
 * | `leader_ip_assign_failures_total` | counter | `ip`, `code`, `retryable` | failed assign calls |
 * | `leader_ip_assign_duration_seconds` | histogram | `ip` | gaining leadership (first attempt) → IP confirmed here |
 * | `leader_ip_reconcile_checks_total` | counter | `ip` | reconciliation reads while leading |
 * | `leader_ip_reconcile_corrections_total` | counter | `ip` | reads that found the IP elsewhere and took it back |
 *
 * Throws a {@link ConfigError} for a bad option, and prom-client's error when a metric of the same name is
 * already registered (one source per registry, or a distinct `prefix` each).
 */
export function registerLeaderIpMetrics(
  registry: Registry,
  source: LeadershipSource,
  options: LeaderIpMetricsOptions = {},
): LeaderIpMetrics {
  if (typeof registry?.registerMetric !== 'function') {
    throw new ConfigError('registry', 'expected a prom-client Registry');
  }
  if (typeof source?.on !== 'function' || typeof source.status !== 'function') {
    throw new ConfigError('source', 'expected a LeadershipSource (an ElectionNode, an EtcdElection, ...)');
  }
  const prefix = options.prefix ?? 'leader_ip_';
  if (!NAME.test(`${prefix}x`)) throw new ConfigError('prefix', `not a valid metric name prefix: '${prefix}'`);
  const buckets = [...(options.buckets ?? ASSIGN_DURATION_BUCKETS)];
  if (
    buckets.length === 0 ||
    buckets.some((b, i) => !Number.isFinite(b) || b <= 0 || (i > 0 && b <= (buckets[i - 1] as number)))
  ) {
    throw new ConfigError('buckets', 'expected increasing positive numbers');
  }
  const registers = [registry];
  const status = (): RichStatus & ReturnType<LeadershipSource['status']> =>
    source.status() as RichStatus & ReturnType<LeadershipSource['status']>;
  const names: string[] = [];
  const name = (suffix: string): string => {
    names.push(`${prefix}${suffix}`);
    return `${prefix}${suffix}`;
  };

  // Gauges are read from the source when scraped, so they are never stale.
  const gauge = (suffix: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name: name(suffix),
      help,
      registers,
      collect() {
        const value = read();
        this.reset();
        if (value !== undefined) this.set(value);
      },
    });
  };
  gauge('leader', 'Whether this node is the leader (1) or not (0).', () => (source.isLeader ? 1 : 0));
  gauge(
    'leader_id',
    'ID of the leader as this node sees it; absent while none is known.',
    () => source.leaderId ?? undefined,
  );
  gauge('term', 'Fencing term of the current or last known leadership.', () => source.term);
  gauge('running', 'Whether the node has started and not stopped (1) or not (0).', () =>
    status().state === 'running' ? 1 : 0,
  );
  const sample = status();
  if (typeof sample.clusterSize === 'number') {
    gauge('cluster_size', 'Voting members of the cluster, this node included.', () => status().clusterSize);
  }
  if (Array.isArray(sample.peers)) {
    gauge(
      'peers_alive',
      'Peers heard from within the peer timeout.',
      () => status().peers?.filter((p) => p.alive === true).length,
    );
  }
  if (typeof sample.health?.healthy === 'boolean') {
    gauge('healthy', "This node's health verdict (1 healthy, 0 not); an unhealthy node does not lead.", () =>
      status().health?.healthy === true ? 1 : 0,
    );
  }

  const transitions = new Counter({
    name: name('leadership_transitions_total'),
    help: 'Leadership changes of this node: direction gained or lost, with the reason of a loss.',
    labelNames: ['direction', 'reason'] as const,
    registers,
  });
  transitions.inc({ direction: 'gained' }, 0);
  const onGained: LeadershipEvents['gainedLeadership'] = () => transitions.inc({ direction: 'gained' });
  const onLost: LeadershipEvents['lostLeadership'] = ({ reason }) => transitions.inc({ direction: 'lost', reason });
  source.on('gainedLeadership', onGained);
  source.on('lostLeadership', onLost);

  const attempts = new Counter({
    name: name('assign_attempts_total'),
    help: 'Floating-IP assign calls, retries included.',
    labelNames: ['ip'] as const,
    registers,
  });
  const failures = new Counter({
    name: name('assign_failures_total'),
    help: 'Failed floating-IP assign calls, by error code and whether the binding retries.',
    labelNames: ['ip', 'code', 'retryable'] as const,
    registers,
  });
  const duration = new Histogram({
    name: name('assign_duration_seconds'),
    help: 'From the first assign attempt of a leadership to the IP confirmed on this node, retries included.',
    labelNames: ['ip'] as const,
    buckets,
    registers,
  });
  const checks = new Counter({
    name: name('reconcile_checks_total'),
    help: 'Reconciliation reads of who holds the floating IP, while leading.',
    labelNames: ['ip'] as const,
    registers,
  });
  const corrections = new Counter({
    name: name('reconcile_corrections_total'),
    help: 'Reconciliation reads that found the floating IP elsewhere and took it back.',
    labelNames: ['ip'] as const,
    registers,
  });

  const detach: (() => void)[] = [];
  const addBinding = ({ binding, ip }: ObservedBinding): void => {
    if (typeof binding?.events?.on !== 'function') throw new ConfigError('binding', 'expected a FloatingIpBinding');
    if (typeof ip !== 'string' || ip === '') throw new ConfigError('ip', 'expected the floating IP as a string');
    // Zero samples from the start, so rate() and increase() work from the first scrape.
    for (const counter of [attempts, checks, corrections]) counter.inc({ ip }, 0);
    const events = binding.events;
    const onAssigned = ({ durationMs }: { durationMs: number }): void => {
      attempts.inc({ ip });
      duration.observe({ ip }, durationMs / 1000);
    };
    const onFailed = ({ error, willRetry }: { error: { code: string }; willRetry: boolean }): void => {
      attempts.inc({ ip });
      failures.inc({ ip, code: error.code, retryable: String(willRetry) });
    };
    const onReconciled = ({ corrected }: { corrected: boolean }): void => {
      checks.inc({ ip });
      if (corrected) corrections.inc({ ip });
    };
    events.on('assigned', onAssigned);
    events.on('assignFailed', onFailed);
    events.on('reconciled', onReconciled);
    detach.push(() => {
      events.off('assigned', onAssigned);
      events.off('assignFailed', onFailed);
      events.off('reconciled', onReconciled);
    });
  };
  for (const observed of options.bindings ?? []) addBinding(observed);

  return {
    addBinding,
    unregister() {
      source.off('gainedLeadership', onGained);
      source.off('lostLeadership', onLost);
      for (const undo of detach.splice(0)) undo();
      for (const metric of names) registry.removeSingleMetric(metric);
    },
  };
}
