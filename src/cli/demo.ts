import { resolveEtcdOptions } from '../backends/etcd/options.ts';
import { ELECTION_DEFAULTS, resolveOptions } from '../node/options.ts';
import type { EtcdCluster } from '../testing/etcd-cluster.ts';
import type { FakeDigitalOcean } from '../testing/fake-digitalocean.ts';
import { leadershipViolations } from '../testing/leadership-intervals.ts';
import type { NodeProcessEvent, ProcessCluster } from '../testing/process-cluster.ts';
import { monotonicMs as monotonicNow } from '../util/monotonic.ts';
import {
  type FlagGroup,
  type FlagValues,
  flagError,
  HELP_FLAG,
  intFlag,
  parseCommandLine,
  renderHelp,
  switchFlag,
  UsageError,
} from './flag-table.ts';
import { BACKEND, ETCD_LEASE_MS } from './flags/etcd.ts';

const NODES = intFlag({ name: 'nodes', min: 3, max: 9, help: 'cluster size, 3..9', default: 3 });
const LEASE_MS = intFlag({
  name: 'lease-ms',
  min: 10,
  help: 'vote-lease: a crashed leader is replaced about this long after',
  default: ELECTION_DEFAULTS.leaseMs,
  option: 'leaseMs',
});
const HEARTBEAT_MS = intFlag({
  name: 'heartbeat-ms',
  min: 5,
  help: 'heartbeat interval',
  default: ELECTION_DEFAULTS.heartbeatIntervalMs,
  option: 'heartbeatIntervalMs',
});
const ACTION_MS = intFlag({
  name: 'action-ms',
  min: 0,
  help: 'how long the fake API takes to move the IP',
  default: 1500,
});
const PAUSE_MS = intFlag({
  name: 'pause-ms',
  min: 0,
  help: 'pause between steps, to watch',
  defaultText: '1000 on a terminal, else 0',
});
const NO_RESTART = switchFlag({ name: 'no-restart', help: 'stop after the failover' });
const JSON_FLAG = switchFlag({ name: 'json', help: 'print only a JSON summary' });
// `run`'s own flags (same values, default and validator), with help that says what they mean here.
const DEMO_BACKEND = {
  ...BACKEND,
  help: "'tcp': the built-in protocol; 'etcd': the nodes elect through a local etcd\nthat the demo starts and removes; needs etcd installed",
};
const DEMO_ETCD_LEASE_MS = {
  ...ETCD_LEASE_MS,
  help: 'with --backend etcd: the etcd lease TTL (whole seconds);\na crashed leader is replaced about this long after',
};
/** The built-in protocol's timing: with etcd, the lease is --etcd-lease-ms and the keep-alive derives from it. */
const TCP_ONLY = [LEASE_MS, HEARTBEAT_MS];
const DEMO_FLAGS: readonly FlagGroup[] = [
  {
    title: '',
    flags: [
      NODES,
      DEMO_BACKEND,
      LEASE_MS,
      HEARTBEAT_MS,
      DEMO_ETCD_LEASE_MS,
      ACTION_MS,
      PAUSE_MS,
      NO_RESTART,
      JSON_FLAG,
    ],
  },
];

export const DEMO_USAGE = `Usage: leader-ip demo [options]

A whole failover on this machine, offline and without an account: a fake DigitalOcean API
(real HTTP on 127.0.0.1) and a cluster of real 'leader-ip run' processes that elect a leader
and move a reserved IP to it. The demo then SIGKILLs the leader, times the election and the
IP move, restarts the killed node and shows it take leadership (and the IP) back.
With --backend etcd the nodes elect through a one-member etcd the demo starts on 127.0.0.1
(first come: the restarted node follows). Ctrl-C stops everything.

${renderHelp(DEMO_FLAGS)}`;

const IP = '203.0.113.10';
const REGION = 'nyc3';
const TOKEN = 'demo-token-not-a-secret';

interface DemoOptions {
  nodes: number;
  backend: 'tcp' | 'etcd';
  /** The vote-lease, or with etcd the lease TTL. */
  leaseMs: number;
  /** The heartbeat interval, or with etcd the keep-alive interval (derived from the TTL by the backend). */
  heartbeatMs: number;
  actionMs: number;
  pauseMs: number;
  restart: boolean;
  json: boolean;
}

/**
 * What step 3 of the demo showed. The built-in protocol: the restarted node, the lowest ID, takes leadership and
 * the IP back (the bully rule). The etcd backend: it follows the leader, who keeps the IP (first come).
 */
export type DemoRestart =
  | {
      outcome: 'leadsAgain';
      node: number;
      term: number;
      /** The restarted process reports `started` → it reports `gainedLeadership` (it first waits one lease). */
      leaderAgainMs: number;
      /** The previous leader steps down → the restarted node leads: time with no leader. */
      handoffGapMs: number;
      /** The restarted node leads → the API reports the IP on its droplet. */
      ipBackMs: number;
    }
  | {
      outcome: 'follows';
      node: number;
      /** The leader it follows (the one elected in step 2, still leading, still holding the IP). */
      leader: number;
      term: number;
      /** The restarted process begins its start → it reports that `leader` leads. */
      followingMs: number;
    };

/** The JSON summary (`--json`); the same numbers are printed as text otherwise. All times in ms. */
export interface DemoSummary {
  ok: boolean;
  /** `tcp`: the built-in protocol; `etcd`: the nodes elected through a local etcd. */
  backend: 'tcp' | 'etcd';
  /** With `backend: 'etcd'`: the version of the etcd server the demo ran; otherwise null. */
  etcdVersion: string | null;
  nodes: number;
  /** The vote-lease; with etcd, the etcd lease TTL. */
  leaseMs: number;
  /** The heartbeat interval; with etcd, the lease keep-alive interval. */
  heartbeatMs: number;
  actionMs: number;
  ip: string;
  firstLeader: {
    id: number;
    term: number;
    /**
     * The first leader's own start → it reports `gainedLeadership`. Its start: its `started` line (listening, the
     * election running); with etcd its `starting` line (its campaign may win before `started` is printed), so
     * loading the etcd client, which `start()` does, is included. Process spawn and the CLI's own module loading
     * are not: see `spawnMs`.
     */
    electedAfterStartMs: number;
    /** The first leader's own start → the API reports the IP on its droplet. */
    ipAssignedAfterStartMs: number;
    /** Spawning the processes → the first leader's own start (Node start-up and module loading). */
    spawnMs: number;
  };
  failover: {
    killed: number;
    newLeader: number;
    term: number;
    /** SIGKILL sent → the new leader reports `gainedLeadership`. */
    electionMs: number;
    /** SIGKILL sent → the (fake) API reports the IP on the new leader's droplet. */
    ipMovedMs: number;
    /** SIGKILL sent → the new leader's assigner confirms it (it polls the action). */
    ipConfirmedMs: number;
  };
  /** Step 3; null with `--no-restart`. */
  restart: DemoRestart | null;
  /** No two leadership intervals overlapped, and terms grew with each leader. */
  singleLeader: boolean;
  /** When `singleLeader` is false: which leadership intervals overlapped. */
  violations: string[];
  apiRequests: number;
}

/** Runs `leader-ip demo`; resolves with the exit code. */
export async function demoCommand(args: string[]): Promise<number> {
  const flags = parseCommandLine(args, DEMO_FLAGS);
  if (flags.get(HELP_FLAG)) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  const tty = process.stdout.isTTY === true && flags.get(JSON_FLAG) !== true;
  const options = demoOptions(flags, tty);
  if (options.backend === 'etcd') await checkEtcdInstalled();
  const view = new LiveView(options, tty);
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C while cleaning up means: now.
    if (abort.signal.aborted) process.exit(130);
    abort.abort(new Interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const demo = new Demo(options, view, abort.signal);
  let code = 1;
  try {
    const summary = await demo.run();
    view.summary(summary);
    code = summary.ok ? 0 : 1;
    return code;
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    view.note(`${error.signal}: stopping every node${options.backend === 'etcd' ? ', etcd' : ''} and the fake API`);
    code = 130;
    return code;
  } finally {
    await demo.close();
    view.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // An interrupted wait inside ProcessCluster (a node's start) keeps a timer; it must not delay the exit.
    if (code !== 0) setTimeout(() => process.exit(code), 1000).unref();
  }
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

function demoOptions(flags: FlagValues, tty: boolean): DemoOptions {
  const nodes = flags.get(NODES) as number;
  const backend = flags.get(DEMO_BACKEND) as 'tcp' | 'etcd';
  let leaseMs: number;
  let heartbeatMs: number;
  // The nodes would refuse a timing that cannot be safe; say so here, once, rather than through three crashes.
  if (backend === 'etcd') {
    const tcpFlag = TCP_ONLY.find((flag) => flags.has(flag));
    if (tcpFlag !== undefined) {
      throw new UsageError(
        `--${tcpFlag.name} does not apply to --backend etcd (its lease TTL is --${DEMO_ETCD_LEASE_MS.name}; ` +
          'the keep-alive interval follows from it)',
      );
    }
    try {
      const resolved = resolveEtcdOptions({
        id: 1,
        endpoints: 'http://127.0.0.1:2379',
        name: 'demo',
        leaseMs: flags.get(DEMO_ETCD_LEASE_MS),
      });
      leaseMs = resolved.leaseMs;
      heartbeatMs = resolved.keepAliveIntervalMs;
    } catch (error) {
      throw flagError(error, [DEMO_ETCD_LEASE_MS]);
    }
  } else {
    if (flags.has(DEMO_ETCD_LEASE_MS)) throw new UsageError(`--${DEMO_ETCD_LEASE_MS.name} needs --backend etcd`);
    leaseMs = flags.get(LEASE_MS) as number;
    heartbeatMs = flags.get(HEARTBEAT_MS) as number;
    try {
      resolveOptions({ id: 1, listen: '127.0.0.1:0', leaseMs, heartbeatIntervalMs: heartbeatMs });
    } catch (error) {
      throw flagError(error, [LEASE_MS, HEARTBEAT_MS]);
    }
  }
  return {
    nodes,
    backend,
    leaseMs,
    heartbeatMs,
    actionMs: flags.get(ACTION_MS) as number,
    pauseMs: flags.get(PAUSE_MS) ?? (tty ? 1000 : 0),
    restart: flags.get(NO_RESTART) !== true,
    json: flags.get(JSON_FLAG) === true,
  };
}

/**
 * `--backend etcd` runs etcd and the `etcd3` client in the nodes: say what is missing and how to get it, in one
 * line and before anything starts, rather than through a failed spawn or three crashed nodes.
 */
async function checkEtcdInstalled(): Promise<void> {
  const { etcdBinary, etcdMissingMessage } = await import('../testing/etcd-cluster.ts');
  if (etcdBinary() === undefined) {
    throw new Error(`demo --backend etcd starts its own etcd server, but ${etcdMissingMessage()}`);
  }
  try {
    // Resolved, not loaded: the nodes load it, the demo does not need it.
    import.meta.resolve('etcd3');
  } catch {
    throw new Error('demo --backend etcd: the nodes need the etcd3 package: npm install etcd3');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The scenario

interface NodeView {
  id: number;
  up: boolean;
  /** Whether its process has reported `started` at least once. */
  started: boolean;
  leading: boolean;
  term: number;
  leaderId: number | null;
  port: number | undefined;
}

/** When the fake API's copy of the IP changed hands, on the host-wide monotonic clock. */
interface IpChange {
  holder: number | null;
  mono: number;
}

class Demo {
  readonly nodes = new Map<number, NodeView>();
  readonly ipChanges: IpChange[] = [];
  /** The droplet an in-flight action is moving the IP to. */
  moving: number | null = null;
  readonly kills: { id: number; at: number }[] = [];
  readonly #options: DemoOptions;
  readonly #view: LiveView;
  readonly #signal: AbortSignal;
  #fake: FakeDigitalOcean | undefined;
  #cluster: ProcessCluster | undefined;
  #etcd: Promise<EtcdCluster> | undefined;
  #closed = false;
  readonly #stderr = new Map<number, string[]>();
  readonly #expectedExits = new Set<number>();
  /** Everything the scenario is waiting for; re-checked on every node event, exit and IP change. */
  readonly #pending = new Set<{ poke(): void; fail(error: unknown): void }>();

  constructor(options: DemoOptions, view: LiveView, signal: AbortSignal) {
    this.#options = options;
    this.#view = view;
    this.#signal = signal;
    signal.addEventListener('abort', () => this.#failAll(signal.reason), { once: true });
    view.attach(this);
  }

  get ids(): number[] {
    return [...this.nodes.keys()];
  }

  get backend(): DemoOptions['backend'] {
    return this.#options.backend;
  }

  get ipHolder(): number | null {
    return this.#fake?.holder(IP) ?? null;
  }

  async run(): Promise<DemoSummary> {
    const o = this.#options;
    const etcdBackend = o.backend === 'etcd';
    const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
    for (const id of ids) {
      this.nodes.set(id, { id, up: false, started: false, leading: false, term: 0, leaderId: null, port: undefined });
    }
    const majority = Math.floor(o.nodes / 2) + 1;
    if (etcdBackend) {
      this.#view.header(
        `leader-ip demo: ${o.nodes} nodes electing through a local etcd, and a fake DigitalOcean API (no account needed)`,
      );
      this.#view.note(
        `etcd lease TTL ${o.leaseMs} ms${o.leaseMs === ETCD_LEASE_MS.default ? ' (the default)' : ''}, ` +
          `keep-alive every ${o.heartbeatMs} ms; the fake API takes ${o.actionMs} ms to move an IP`,
      );
    } else {
      this.#view.header(
        `leader-ip demo: ${o.nodes} nodes on 127.0.0.1 and a fake DigitalOcean API (no account needed)`,
      );
      this.#view.note(
        `lease ${o.leaseMs} ms, heartbeat ${o.heartbeatMs} ms${o.leaseMs === 1000 && o.heartbeatMs === 100 ? ' (the defaults)' : ''}; ` +
          `the fake API takes ${o.actionMs} ms to move an IP`,
      );
    }

    // 1. The fake API and the cluster.
    this.#view.step(
      `1. start ${etcdBackend ? 'etcd, ' : ''}a fake DigitalOcean API and the cluster; wait for a leader and the IP`,
    );
    // Loaded here, not at the top: every 'leader-ip run' loads this module through main.ts.
    const { FakeDigitalOcean } = await import('../testing/fake-digitalocean.ts');
    const { freePorts, ProcessCluster } = await import('../testing/process-cluster.ts');
    let etcd: EtcdCluster | undefined;
    if (etcdBackend) {
      const { startEtcdCluster } = await import('../testing/etcd-cluster.ts');
      // One member: the demo shows the backend, not etcd's own fault tolerance. With no peers to time out, a short
      // raft election timeout costs nothing, and it lets etcd grant TTLs down to 1 s as asked.
      this.#etcd = startEtcdCluster(1, { electionTimeoutMs: 500 });
      etcd = await this.#wait(this.#etcd, 'etcd to start');
      this.#view.log(
        `etcd ${etcd.version} on ${etcd.endpoints[0]}: one member, data in ${etcd.dataDir} (removed at the end)`,
      );
    }
    this.#fake = await FakeDigitalOcean.start({
      token: TOKEN,
      droplets: ids.map((id) => ({ id, region: REGION, name: `node-${id}` })),
      reservedIps: [{ ip: IP, region: REGION }],
      actionDurationMs: o.actionMs,
    });
    this.#watchIp(this.#fake);
    this.#view.log(
      `fake API on ${this.#fake.url}: reserved IP ${IP} (unassigned), droplets ${ids.join(', ')} in ${REGION}`,
    );
    if (etcdBackend) {
      this.#view.log(
        'etcd elects first come: the first node whose transaction creates the leader key leads, and any node may ' +
          "lead (the quorum is etcd's own)",
        'dim',
      );
    } else {
      // Node r leads after crashes only once the r - 1 lower IDs are down, leaving n - r + 1 nodes: too few past this.
      const never = ids.filter((id) => o.nodes - id + 1 < majority);
      this.#view.log(
        `a leader needs ${majority} of ${o.nodes} votes, so after crashes alone node${never.length > 1 ? 's' : ''} ` +
          `${never.join(', ')} never lead${never.length > 1 ? '' : 's'}: ${never.length > 1 ? 'they only vote' : 'it only votes'}`,
        'dim',
      );
    }

    const common = ['--floating-ip', IP, '--api-url', this.#fake.url, '--poll-ms', '50', '--reconcile-ms', '5000'];
    const cluster = new ProcessCluster({
      ids,
      builtInProtocol: !etcdBackend,
      args:
        etcd !== undefined
          ? [
              '--backend',
              'etcd',
              '--etcd-endpoints',
              etcd.endpoints.join(','),
              '--etcd-name',
              'demo',
              '--etcd-lease-ms',
              String(o.leaseMs),
              ...common,
            ]
          : ['--lease-ms', String(o.leaseMs), '--heartbeat-ms', String(o.heartbeatMs), ...common],
      argsFor: (id) => ['--droplet-id', String(id)],
      env: { DIGITALOCEAN_TOKEN: TOKEN, DEBUG: '' },
      onStderr: (id, line) => this.#onStderr(id, line),
    });
    this.#cluster = cluster;
    cluster.on('event', (event) => this.#onEvent(event));
    cluster.on('exit', (id, code, signal) => this.#onExit(id, code, signal));
    const startedAt = monotonicNow();
    // Ports first, then every spawn in one synchronous go: close() then sees (and kills) either all or none.
    if (!etcdBackend) {
      const ports = await this.#wait(freePorts(ids.length), 'free ports');
      for (const [i, id] of ids.entries()) cluster.ports.set(id, ports[i]!);
    }
    await this.#wait(Promise.all(ids.map((id) => cluster.spawn(id))), 'the nodes to start');
    // Built-in protocol: nodes start a few hundred ms apart, so a higher ID may lead for a moment until the lowest
    // is ready and preempts it: step 1 ends when the lowest ID leads and holds the IP. etcd: whoever came first.
    const settled = (): NodeProcessEvent | undefined => {
      const leader = cluster.currentLeader();
      if (leader === null || (!etcdBackend && leader !== ids[0]) || this.ipHolder !== leader) return undefined;
      const gained = lastEvent(cluster.history, (e) => e.id === leader && e.event === 'gainedLeadership');
      const confirmed = cluster.history.some(
        (e) => e.id === leader && e.event === 'assigned' && Number(e.term) >= Number(gained?.term),
      );
      return confirmed ? gained : undefined;
    };
    const first = await this.#until('a leader holding the IP', settled);
    const firstLeader = first.id;
    const firstIpAt = this.#lastIpChange(firstLeader).mono;
    if (etcdBackend) {
      this.#view.log(
        `node ${firstLeader} came first: it holds the leader key (term ${first.term}: the key's etcd revision)`,
        'good',
      );
    }
    // Timed from the leader's own start, not from the spawn: Node's start-up (about a second under tsx) is not
    // the protocol's time. An etcd node's campaign may win before it prints 'started': time it from 'starting'.
    const startEvent = etcdBackend ? 'starting' : 'started';
    const leaderStartedAt =
      lastEvent(cluster.history, (e) => e.id === firstLeader && e.event === startEvent && e.mono <= first.mono)?.mono ??
      startedAt;
    this.#view.snapshot();
    await this.#pause();

    // 2. Crash the leader.
    this.#view.step(`2. crash the leader: SIGKILL node ${firstLeader} (no goodbye, as in a power cut)`);
    this.#expectedExits.add(firstLeader);
    const afterKill = cluster.history.length;
    const killAt = await this.#wait(cluster.kill(firstLeader, 'SIGKILL'), `node ${firstLeader} to exit`);
    this.kills.push({ id: firstLeader, at: killAt });
    const gained = await this.#until('a new leader', () =>
      cluster.history.slice(afterKill).find((e) => e.event === 'gainedLeadership' && e.id !== firstLeader),
    );
    const newLeader = gained.id;
    const electionMs = gained.mono - killAt;
    this.#view.log(
      etcdBackend
        ? `node ${newLeader} elected ${ms(electionMs)} after the kill (etcd lease TTL ${o.leaseMs} ms: etcd deleted ` +
            `node ${firstLeader}'s key when its lease ran out, and node ${newLeader} was first to create it)`
        : `node ${newLeader} elected ${ms(electionMs)} after the kill (lease ${o.leaseMs} ms)`,
      'good',
    );
    await this.#until(`the IP on droplet ${newLeader}`, () => (this.ipHolder === newLeader ? true : undefined));
    const ipMovedMs = this.#lastIpChange(newLeader).mono - killAt;
    this.#view.log(`${IP} reached droplet ${newLeader} ${ms(ipMovedMs)} after the kill`, 'good');
    const ipConfirmedMs = (await this.#confirmed(newLeader, Number(gained.term))).mono - killAt;
    this.#view.snapshot();
    await this.#pause();

    // 3. Restart the killed node: the bully rule gives leadership back to the lower ID; etcd's first come does not.
    let restart: DemoRestart | null = null;
    if (o.restart) {
      const takesBack = !etcdBackend && firstLeader < newLeader;
      this.#view.step(
        `3. restart node ${firstLeader}: ${
          takesBack
            ? 'as the lowest ID it takes leadership back'
            : etcdBackend
              ? `first come, so it rejoins as a follower and node ${newLeader} keeps the IP`
              : 'it rejoins as a follower'
        }`,
      );
      this.#expectedExits.delete(firstLeader);
      const afterRestart = cluster.history.length;
      await this.#wait(cluster.spawn(firstLeader), `node ${firstLeader} to start`);
      const started = lastEvent(cluster.history, (e) => e.id === firstLeader && e.event === 'started');
      if (takesBack) {
        const again = await this.#until(`node ${firstLeader} to lead`, () =>
          cluster.history.slice(afterRestart).find((e) => e.event === 'gainedLeadership' && e.id === firstLeader),
        );
        const stepDown = lastEvent(cluster.history, (e) => e.id === newLeader && e.event === 'lostLeadership');
        await this.#confirmed(firstLeader, Number(again.term));
        const ipBackAt = this.#lastIpChange(firstLeader).mono;
        restart = {
          outcome: 'leadsAgain',
          node: firstLeader,
          term: Number(again.term),
          leaderAgainMs: again.mono - (started?.mono ?? again.mono),
          // The step-down really happened endedMsAgo before it was printed (see leadershipViolations).
          handoffGapMs: stepDown === undefined ? 0 : again.mono - (stepDown.mono - (Number(stepDown.endedMsAgo) || 0)),
          ipBackMs: ipBackAt - again.mono,
        };
        this.#view.log(
          `node ${firstLeader} leads again (term ${restart.term}); the IP followed ${ms(restart.ipBackMs)} later`,
          'good',
        );
      } else {
        // It follows once it reports the current leader; the leader must not have changed meanwhile.
        const follows = await this.#until(`node ${firstLeader} to follow node ${newLeader}`, () => {
          const since = cluster.history.slice(afterRestart);
          if (since.some((e) => e.event === 'lostLeadership' && e.id === newLeader)) {
            throw new Error(`node ${newLeader} lost leadership when node ${firstLeader} came back`);
          }
          return since.find((e) => e.event === 'leaderChange' && e.id === firstLeader && e.leaderId === newLeader);
        });
        const begun =
          lastEvent(cluster.history, (e) => e.id === firstLeader && e.event === startEvent)?.mono ?? follows.mono;
        restart = {
          outcome: 'follows',
          node: firstLeader,
          leader: newLeader,
          term: Number(follows.term),
          followingMs: follows.mono - begun,
        };
        this.#view.log(
          `node ${firstLeader} follows node ${newLeader} (term ${restart.term}), ${ms(restart.followingMs)} after ` +
            `its start; ${IP} stays on droplet ${this.ipHolder}`,
          'good',
        );
      }
      this.#view.snapshot();
    }

    const apiRequests = this.#fake.apiRequests().length;
    const violations = leadershipViolations(cluster.history, this.kills);
    const singleLeader = violations.length === 0;
    return {
      ok: singleLeader,
      backend: o.backend,
      etcdVersion: etcd?.version ?? null,
      nodes: o.nodes,
      leaseMs: o.leaseMs,
      heartbeatMs: o.heartbeatMs,
      actionMs: o.actionMs,
      ip: IP,
      firstLeader: {
        id: firstLeader,
        term: Number(first.term),
        electedAfterStartMs: first.mono - leaderStartedAt,
        ipAssignedAfterStartMs: firstIpAt - leaderStartedAt,
        spawnMs: leaderStartedAt - startedAt,
      },
      failover: {
        killed: firstLeader,
        newLeader,
        term: Number(gained.term),
        electionMs,
        ipMovedMs,
        ipConfirmedMs,
      },
      restart,
      singleLeader,
      violations,
      apiRequests,
    };
  }

  /** Kills every node process, stops etcd and closes the fake API; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.ids) this.#expectedExits.add(id);
    this.#failAll(new Error('the demo was closed'));
    await this.#cluster?.stop();
    // Still starting after a Ctrl-C: wait for it, so that it is stopped too (its data directory removed).
    const etcd = await this.#etcd?.catch(() => undefined);
    await etcd?.stop();
    await this.#fake?.close();
  }

  // -----------------------------------------------------------------------------------------------------------

  #deadline(): number {
    const o = this.#options;
    return 30_000 + 10 * o.leaseMs + 4 * o.actionMs;
  }

  /**
   * Resolves with the first result of `check` that is not undefined; `check` runs now and after every node event,
   * node exit and IP change. Rejects on Ctrl-C, when a node dies on its own, or after the deadline.
   */
  #until<T>(what: string, check: () => T | undefined): Promise<T> {
    const timeoutMs = this.#deadline();
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#pending.delete(entry);
      };
      const entry = {
        poke: (): void => {
          let result: T | undefined;
          try {
            result = check();
          } catch (error) {
            entry.fail(error);
            return;
          }
          if (result === undefined) return;
          finish();
          resolve(result);
        },
        fail: (error: unknown): void => {
          finish();
          reject(error);
        },
      };
      const timer = setTimeout(() => entry.fail(new Error(`waited ${timeoutMs} ms for ${what}`)), timeoutMs);
      if (this.#signal.aborted || this.#closed) {
        entry.fail(this.#signal.reason ?? new Error('the demo was closed'));
        return;
      }
      this.#pending.add(entry);
      entry.poke();
    });
  }

  /** Waits for `promise` the same way, so Ctrl-C or a dying node interrupts it too. */
  async #wait<T>(promise: Promise<T>, what: string): Promise<T> {
    let outcome: { value: T } | { error: unknown } | undefined;
    promise.then(
      (value) => {
        outcome = { value };
        this.#poke();
      },
      (error: unknown) => {
        outcome = { error };
        this.#poke();
      },
    );
    // Wrapped, because a promise of void resolves with undefined, which #until reads as 'not yet'.
    const settled = await this.#until(what, () => {
      if (outcome !== undefined && 'error' in outcome) throw outcome.error;
      return outcome;
    });
    return (settled as { value: T }).value;
  }

  #poke(): void {
    for (const entry of [...this.#pending]) entry.poke();
  }

  #failAll(error: unknown): void {
    for (const entry of [...this.#pending]) entry.fail(error);
  }

  /**
   * Resolves with the `assigned` event of `id` for `term` or a later one, past or future. Later: a loaded machine
   * can make a leader miss its renewals and be re-elected (a new term) before its first assign is confirmed.
   */
  #confirmed(id: number, term: number): Promise<NodeProcessEvent> {
    const history = this.#cluster!.history;
    return this.#until(`node ${id} to confirm the IP`, () =>
      history.find((e) => e.event === 'assigned' && e.id === id && Number(e.term) >= term),
    );
  }

  #pause(): Promise<void> {
    if (this.#options.pauseMs === 0) return Promise.resolve();
    return this.#wait(new Promise((resolve) => setTimeout(resolve, this.#options.pauseMs)), 'a pause');
  }

  #lastIpChange(holder: number): IpChange {
    const change = [...this.ipChanges].reverse().find((c) => c.holder === holder);
    if (change === undefined) throw new Error(`the IP never reached droplet ${holder}`);
    return change;
  }

  /**
   * Follows the fake's actions as they happen: every POST to the IP's actions creates one (synchronously, before
   * any later callback runs), and its `settled` promise marks the moment the API starts reporting the new holder.
   */
  #watchIp(fake: FakeDigitalOcean): void {
    const watched = new Set<unknown>();
    let seen = 0;
    const next = (): void => {
      void fake
        .waitForRequest((r) => r.seq > seen && r.method === 'POST' && r.path.endsWith('/actions'), {
          // A watcher for the whole demo: the next action may come at any time, or never.
          timeoutMs: Number.POSITIVE_INFINITY,
        })
        .then((request) => {
          seen = request.seq;
          setImmediate(() => {
            for (const action of fake.actions) {
              if (watched.has(action)) continue;
              watched.add(action);
              this.moving = action.dropletId;
              this.#view.log(`fake API: assign action started, ${IP} → droplet ${action.dropletId}`, 'dim');
              void action.settled.then(() => {
                if (this.moving === action.dropletId) this.moving = null;
                const holder = fake.holder(IP);
                const last = this.ipChanges.at(-1);
                if (last?.holder !== holder) {
                  this.ipChanges.push({ holder, mono: monotonicNow() });
                  this.#view.log(`fake API: ${IP} is now on droplet ${holder} (action ${action.status})`);
                }
                this.#poke();
              });
            }
          });
          if (!this.#closed) next();
        });
    };
    next();
  }

  #onEvent(e: NodeProcessEvent): void {
    if (this.#closed) return;
    const node = this.nodes.get(e.id);
    if (node === undefined) return;
    switch (e.event) {
      case 'started':
        node.up = true;
        node.started = true;
        node.leading = false;
        node.port = this.#cluster?.ports.get(e.id);
        this.#view.log(
          e.backend === 'etcd'
            ? `node ${e.id} started, campaigning for the etcd key ${e.key}`
            : `node ${e.id} started, listening on ${e.listen}`,
        );
        break;
      case 'gainedLeadership':
        node.leading = true;
        node.term = Number(e.term);
        node.leaderId = e.id;
        this.#view.log(`node ${e.id} gained leadership (term ${e.term})`, 'leader');
        break;
      case 'lostLeadership':
        node.leading = false;
        this.#view.log(`node ${e.id} lost leadership (term ${e.term}, ${e.reason})`);
        break;
      case 'leaderChange':
        node.leaderId = (e.leaderId as number | null) ?? null;
        if (typeof e.term === 'number' && e.term > 0) node.term = e.term;
        break;
      case 'assigned':
        this.#view.log(`node ${e.id}: the API confirms ${IP} is here (${e.durationMs} ms, term ${e.term})`);
        break;
      case 'assignFailed':
        this.#view.log(`node ${e.id}: could not move the IP: ${e.message}`, 'bad');
        break;
      case 'reconciled':
        this.#view.log(`node ${e.id}: the IP had moved away; taking it back`);
        break;
      case 'error':
        // A killed peer shows up as refused connections until it is back: expected, and only noise here.
        break;
      default:
        break;
    }
    this.#view.refresh();
    this.#poke();
  }

  #onExit(id: number, code: number | null, signal: NodeJS.Signals | null): void {
    const node = this.nodes.get(id);
    if (node !== undefined) {
      node.up = false;
      node.leading = false;
      node.leaderId = null;
    }
    if (this.#closed) return;
    if (this.#expectedExits.has(id)) {
      this.#view.log(`node ${id} is gone (${signal ?? `exit ${code}`})`, 'bad');
      return;
    }
    const stderr = (this.#stderr.get(id) ?? []).slice(-5).join('\n  ');
    const error = new Error(`node ${id} exited on its own (${signal ?? `exit code ${code}`})\n  ${stderr}`);
    this.#failAll(error);
  }

  #onStderr(id: number, line: string): void {
    const lines = this.#stderr.get(id) ?? [];
    lines.push(line);
    if (lines.length > 20) lines.shift();
    this.#stderr.set(id, lines);
  }
}

function lastEvent(
  history: readonly NodeProcessEvent[],
  match: (e: NodeProcessEvent) => boolean,
): NodeProcessEvent | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (match(history[i]!)) return history[i];
  return undefined;
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

// ---------------------------------------------------------------------------------------------------------------
// Output: a live view redrawn in place on a terminal, plain appended lines otherwise, nothing but JSON with --json.

type Tone = 'plain' | 'good' | 'bad' | 'leader' | 'dim';

class LiveView {
  readonly t0 = monotonicNow();
  readonly #tty: boolean;
  readonly #json: boolean;
  readonly #color: boolean;
  #demo: Demo | undefined;
  #drawn = 0;
  #frozen = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DemoOptions, tty: boolean) {
    this.#tty = tty;
    this.#json = options.json;
    this.#color = tty && process.env.NO_COLOR === undefined;
    if (this.#tty) {
      process.stdout.write('\x1b[?25l');
      process.once('exit', () => process.stdout.write('\x1b[?25h'));
      // The block shows elapsed time and in-flight moves; tick so it does not look frozen while nothing happens.
      this.#timer = setInterval(() => this.refresh(), 100);
      this.#timer.unref();
    }
  }

  attach(demo: Demo): void {
    this.#demo = demo;
  }

  header(text: string): void {
    this.#line(this.#paint(text, 'bold'));
  }

  step(text: string): void {
    this.#line('');
    this.#line(this.#paint(`── ${text}`, 'bold'));
  }

  log(text: string, tone: Tone = 'plain'): void {
    const stamp = this.#paint(`${((monotonicNow() - this.t0) / 1000).toFixed(3).padStart(7)}s`, 'dim');
    this.#line(`${stamp}  ${this.#paint(text, tone)}`);
  }

  note(text: string): void {
    this.#line(text);
  }

  /** On a terminal the block is always visible; elsewhere it is printed at the end of each step. */
  snapshot(): void {
    if (this.#tty || this.#json) return;
    for (const line of this.#block()) this.#out(line);
  }

  refresh(): void {
    if (!this.#tty || this.#frozen) return;
    this.#clearBlock();
    this.#drawBlock();
  }

  summary(s: DemoSummary): void {
    this.#freeze();
    if (this.#json) {
      // Tenths of a millisecond: finer digits are noise from the clock read, not information.
      const rounded = (_key: string, value: unknown) =>
        typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value;
      process.stdout.write(`${JSON.stringify(s, rounded)}\n`);
      return;
    }
    const f = s.failover;
    const etcd = s.backend === 'etcd';
    const rows: [label: string, value: string, note: string][] = [
      [
        'election after SIGKILL',
        ms(f.electionMs),
        `kill → node ${f.newLeader} leads (term ${f.term}); ${etcd ? 'etcd lease TTL' : 'lease'} ${s.leaseMs} ms`,
      ],
      [
        'IP moved, end to end',
        ms(f.ipMovedMs),
        `kill → the API has it on droplet ${f.newLeader} (its action: ${s.actionMs} ms)`,
      ],
      [`  ...confirmed by node ${f.newLeader}`, ms(f.ipConfirmedMs), 'its assigner polls the action'],
      [
        'first election',
        ms(s.firstLeader.electedAfterStartMs),
        etcd
          ? `after node ${s.firstLeader.id} began to start (it loads the etcd client, then a lease grant and one transaction; process spawn ${ms(s.firstLeader.spawnMs)} more)`
          : `after node ${s.firstLeader.id} started (a new node waits one lease to vote; process spawn ${ms(s.firstLeader.spawnMs)} more)`,
      ],
    ];
    const r = s.restart;
    if (r?.outcome === 'follows') {
      rows.push([
        `node ${r.node} follows node ${r.leader}`,
        ms(r.followingMs),
        `after its restart (term ${r.term}): ${etcd ? 'first come, no preemption' : 'a higher ID does not preempt'}; the IP stays`,
      ]);
    } else if (r?.outcome === 'leadsAgain') {
      rows.push(
        [
          `node ${r.node} leads again`,
          ms(r.leaderAgainMs),
          `after its restart (term ${r.term}): one lease, then the bully rule`,
        ],
        ['  ...time without a leader', ms(r.handoffGapMs), `node ${f.newLeader} steps down, node ${r.node} takes over`],
        [`  ...IP back on droplet ${r.node}`, ms(r.ipBackMs), `after node ${r.node} took over`],
      );
    }
    rows.push(
      ['never two leaders at once', s.singleLeader ? 'yes' : 'NO', 'leadership intervals checked'],
      ...s.violations.map((problem): [string, string, string] => ['', '', problem]),
      ['API requests', String(s.apiRequests), 'in the whole demo'],
    );
    const labelWidth = Math.max(...rows.map(([label]) => label.length));
    const valueWidth = Math.max(...rows.map(([, value]) => value.length));
    this.step('summary');
    for (const [label, value, note] of rows) {
      this.#line(`  ${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}   ${this.#paint(note, 'dim')}`);
    }
    this.#line('');
    this.#line(this.#paint('The election does not wait for the API; only the IP move does. Faster settings:', 'dim'));
    this.#line(
      this.#paint(
        etcd
          ? 'leader-ip demo --backend etcd --etcd-lease-ms 1000. Choosing a backend: docs/operations.md'
          : 'leader-ip demo --lease-ms 300 --heartbeat-ms 30. Tuning: docs/operations.md',
        'dim',
      ),
    );
  }

  /** Leaves the last state of the live block on screen as ordinary lines and stops redrawing it. */
  #freeze(): void {
    if (!this.#tty || this.#frozen) return;
    this.#clearBlock();
    this.#frozen = true;
    for (const line of this.#block()) this.#out(line);
  }

  close(): void {
    clearInterval(this.#timer);
    if (this.#tty) {
      this.#clearBlock();
      process.stdout.write('\x1b[?25h');
    }
  }

  #line(text: string): void {
    if (this.#json) return;
    if (!this.#tty) {
      this.#out(text);
      return;
    }
    this.#clearBlock();
    this.#out(text);
    this.#drawBlock();
  }

  #out(text: string): void {
    process.stdout.write(`${text}\n`);
  }

  #clearBlock(): void {
    if (this.#drawn === 0) return;
    process.stdout.write(`\x1b[${this.#drawn}F\x1b[J`);
    this.#drawn = 0;
  }

  #drawBlock(): void {
    if (this.#frozen) return;
    const lines = this.#block().map((line) => this.#fit(line));
    if (lines.length === 0) return;
    process.stdout.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  #block(): string[] {
    const demo = this.#demo;
    if (demo === undefined || demo.nodes.size === 0) return [];
    const elapsed = ((monotonicNow() - this.t0) / 1000).toFixed(1);
    const lines = [this.#paint(`┌ cluster at ${elapsed} s`, 'dim')];
    for (const node of demo.nodes.values()) {
      // etcd nodes listen nowhere: they only talk to etcd.
      const port =
        demo.backend === 'etcd' ? '' : `${(node.port === undefined ? '' : `127.0.0.1:${node.port}`).padEnd(16)} `;
      let state: string;
      if (!node.up && !node.started) state = this.#paint('… starting', 'dim');
      else if (!node.up) state = this.#paint('✕ down', 'bad');
      else if (node.leading) state = this.#paint(`★ LEADER    term ${node.term}`, 'leader');
      else if (node.leaderId !== null) state = `· follower  leader ${node.leaderId}`;
      else state = '· follower  no leader yet';
      lines.push(`│ node ${node.id}  ${port}${state}`);
    }
    const holder = demo.ipHolder;
    const moving = demo.moving === null ? '' : this.#paint(`  (moving to droplet ${demo.moving}…)`, 'dim');
    const on = holder === null ? 'unassigned' : `droplet ${holder} (node ${holder})`;
    lines.push(`└ reserved IP ${IP} → ${on}${moving}`);
    return lines;
  }

  #fit(text: string): string {
    const columns = process.stdout.columns;
    if (!this.#tty || columns === undefined) return text;
    // Wrapped lines would break the count of lines to redraw; ANSI codes do not take columns.
    let visible = 0;
    let out = '';
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '\x1b') {
        const end = text.indexOf('m', i);
        out += text.slice(i, end + 1);
        i = end;
        continue;
      }
      if (visible >= columns - 1) continue;
      out += text[i];
      visible++;
    }
    return out;
  }

  #paint(text: string, tone: Tone | 'bold'): string {
    if (!this.#color || tone === 'plain') return text;
    const code = { bold: '1', good: '32', bad: '31', leader: '1;32', dim: '2' }[tone];
    return `\x1b[${code}m${text}\x1b[0m`;
  }
}
