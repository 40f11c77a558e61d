/**
 * Baseline: keepalived (VRRP), the tool users would otherwise pick to move an address between machines.
 *
 * Three network namespaces (`lipb-1..3`) hang off a bridge in a fourth (`lipb-br`; bench/lib/netns.ts); their
 * addresses (10.213.0.0/24) and the virtual address exist only inside them. Each runs Debian's keepalived with `unicast_peer` (no multicast),
 * priorities 150 / 100 / 50, default preemption, and a notify program that appends the monotonic time and the new
 * state to a log, which the bench reads as events (`MASTER` = elected). Two settings: advert 1 s (VRRPv2, the
 * default) and VRRPv3 with 0.1 s adverts. The partition bench (bench/partition.ts) starts its nodes with
 * {@link startKeepalived}, its notify program then also asking a fake cloud API to move a floating IP on MASTER.
 *
 * - crash: SIGKILL to keepalived's process group (the parent and its VRRP process, as a machine crash would);
 * - graceful: SIGTERM to keepalived (it sends a priority-0 advert, so a backup takes over at once);
 * - idle: CPU of each node's processes (a cpuacct cgroup per node, ns resolution; /proc clock ticks otherwise) and
 *   bytes sent on its interface (Ethernet frames, headers included).
 *
 * Needs root, `ip netns`, keepalived and perl (for the notify program's monotonic clock); otherwise it is skipped
 * with the line that enables it. Traps met: keepalived's config test refuses scripts without
 * `enable_script_security` (and scripts under a world-writable directory, so they live under /run); a SIGKILLed
 * keepalived can leave a child whose PID is in its pid file, so every start gets fresh pid files and a crash kills
 * the whole process group; `advert_int` below 1 s needs VRRPv3.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nowMs } from '../lib/clock.ts';
import { runKillLoop } from '../lib/failover.ts';
import { NetnsBridge, netnsMissing, run, tryRun } from '../lib/netns.ts';
import type { BenchOptions } from '../lib/options.ts';
import { type Child, delay, registerCleanup, spawnProcess } from '../lib/proc.ts';
import type { BenchSection, FailoverResult, OverheadRow } from '../lib/types.ts';

export const KEEPALIVED_INSTALL_HINT = 'apt-get install -y keepalived iproute2 perl   # and run the bench as root';

const PRIORITIES = [150, 100, 50];
const CPUACCT = '/sys/fs/cgroup/cpuacct';

/** The baseline's namespaces (the partition bench uses its own, so the two can run side by side). */
const NET = new NetnsBridge({ prefix: 'lipb', subnet: '10.213.0', nodes: PRIORITIES.length });

/** One keepalived setting: the advert interval and the VRRP version it needs. */
export interface KeepalivedSetting {
  name: string;
  advertS: number;
  vrrpVersion: 2 | 3;
}

/** advert 1 s (VRRPv2, keepalived's default) and 0.1 s (below 1 s needs VRRPv3). */
export const KEEPALIVED_SETTINGS: KeepalivedSetting[] = [
  { name: 'advert 1 s (VRRPv2, default)', advertS: 1, vrrpVersion: 2 },
  { name: 'advert 0.1 s (VRRPv3)', advertS: 0.1, vrrpVersion: 3 },
];

/** Why keepalived cannot run here, or undefined when it can. */
export function keepalivedMissing(): string | undefined {
  const why = netnsMissing();
  if (why) return why;
  if (!existsSync('/usr/sbin/keepalived')) return 'keepalived is not installed';
  if (!tryRun('perl', ['-MTime::HiRes=clock_gettime,CLOCK_MONOTONIC', '-e', '1'])) return 'perl is missing';
  return undefined;
}

/** The virtual address: the bridge's subnet, .100. */
function vip(net: NetnsBridge): string {
  return `${net.subnet}.100`;
}

function config(net: NetnsBridge, id: number, setting: KeepalivedSetting, script: string): string {
  const peers = PRIORITIES.map((_, i) => i + 1)
    .filter((p) => p !== id)
    .map((p) => `    ${net.address(p)}`)
    .join('\n');
  return `global_defs {
  router_id ${net.prefix}${id}
  enable_script_security
  script_user root
  vrrp_version ${setting.vrrpVersion}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${PRIORITIES[id - 1]}
  advert_int ${setting.advertS}
  unicast_src_ip ${net.address(id)}
  unicast_peer {
${peers}
  }
  virtual_ipaddress {
    ${vip(net)}/24
  }
  notify ${script}
}
`;
}

/**
 * What a cloud notify script does on MASTER: ask the provider's API to move the floating IP here. Pointed at a fake
 * DigitalOcean API (the partition bench), so that the calls are counted and who holds the IP can be read back.
 */
export interface NotifyAssign {
  /** API base URL, reachable from inside the namespaces. */
  apiUrl: string;
  /** Bearer token of the fake (not a secret). */
  token: string;
  ip: string;
  /** Droplet ID of node `id`. */
  dropletId: (id: number) => number;
}

/**
 * The notify program: appends `<monotonic ms> <state>` to the node's log (keepalived passes the state as $3); with
 * `assign`, then asks the API to move the IP here on MASTER, as a cloud notify script would (one call, no retry or
 * confirmation: what such scripts usually do).
 */
function notifyScript(log: string, assign: { url: string; token: string; body: string } | undefined): string {
  const call = assign
    ? `if ($ARGV[2] eq 'MASTER') {
  require HTTP::Tiny;
  HTTP::Tiny->new(timeout => 5)->post('${assign.url}', {
    headers => { 'Authorization' => 'Bearer ${assign.token}', 'Content-Type' => 'application/json' },
    content => '${assign.body}',
  });
}
`
    : '';
  return `#!/usr/bin/perl
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
my $t = clock_gettime(CLOCK_MONOTONIC) * 1000;
open(my $f, '>>', '${log}') or exit 1;
printf $f "%.3f %s\\n", $t, $ARGV[2];
close $f;
${call}`;
}

/** Starts so far in this run, for unique file names. */
let starts = 0;

/** A running keepalived node. */
export interface KeepalivedNode {
  /** keepalived's process; besides the failover loop's events it gets `{event: 'state', state}` per notify call. */
  child: Child;
  logPath: string;
  cgroup: string | undefined;
}

/** Follows a node's notify log and turns its lines into the failover loop's events. */
function follow(child: Child, logPath: string, index: number): void {
  let offset = 0;
  let wasMaster = false;
  const timer = setInterval(() => {
    let text: string;
    try {
      text = readFileSync(logPath, 'utf8');
    } catch {
      return;
    }
    if (text.length <= offset) return;
    const end = text.lastIndexOf('\n') + 1;
    for (const line of text.slice(offset, end).split('\n')) {
      const [t, state] = line.split(' ');
      if (!state) continue;
      const at = Number(t);
      child.inject({ event: 'state', t: at, state });
      if (state === 'MASTER') {
        wasMaster = true;
        child.inject({ event: 'elected', t: at });
        // The highest priority takes the address back when it restarts (preemption): only then is it settled.
        if (index === 0) child.inject({ event: 'ready', t: at });
      } else {
        if (wasMaster) child.inject({ event: 'lost', t: at });
        wasMaster = false;
        if (state === 'BACKUP' && index !== 0) child.inject({ event: 'ready', t: at });
      }
    }
    offset = end;
  }, 5);
  child.onExit(() => clearInterval(timer));
}

/** Where and how to start one keepalived node. */
export interface KeepalivedStart {
  net: NetnsBridge;
  /** Directory for configs, notify programs and logs: not world-writable (keepalived's script security). */
  dir: string;
  setting: KeepalivedSetting;
  /** 0-based: node `index + 1`, priority PRIORITIES[index]. */
  index: number;
  generation: number;
  verbose: boolean;
  assign?: NotifyAssign;
}

/** Start keepalived in node `index + 1`'s namespace, in its own cpuacct cgroup when there is one. */
export function startKeepalived(start: KeepalivedStart): KeepalivedNode {
  const { net, dir, setting, index, generation } = start;
  const id = index + 1;
  // Fresh files for every start: a log left by an earlier start would replay its old states as new events.
  const base = path.join(dir, `node${id}-${generation}-${++starts}`);
  const logPath = `${base}.log`;
  const script = `${base}-notify.pl`;
  const assign = start.assign && {
    url: `${start.assign.apiUrl}/v2/reserved_ips/${start.assign.ip}/actions`,
    token: start.assign.token,
    body: JSON.stringify({ type: 'assign', droplet_id: start.assign.dropletId(id) }),
  };
  writeFileSync(script, notifyScript(logPath, assign));
  chmodSync(script, 0o755);
  writeFileSync(`${base}.conf`, config(net, id, setting, script));
  let cgroup: string | undefined = path.join(CPUACCT, `${net.prefix}-${process.pid}-${starts}`);
  try {
    mkdirSync(cgroup);
  } catch {
    cgroup = undefined;
  }
  const keepalived = [
    ...net.exec(id),
    'keepalived',
    '--dont-fork',
    '--log-console',
    '--vrrp',
    '-f',
    `${base}.conf`,
    '-p',
    `${base}.pid`,
    '-r',
    `${base}-vrrp.pid`,
  ];
  // The shell joins the node's cgroup (inherited by keepalived and its VRRP process), then becomes keepalived.
  const join = cgroup ? `echo $$ > ${cgroup}/cgroup.procs 2>/dev/null; ` : '';
  const child = spawnProcess('sh', ['-c', `${join}exec "$@"`, 'sh', ...keepalived], {
    name: `keepalived ${id}.${generation}`,
    echo: start.verbose,
    processGroup: true,
  });
  follow(child, logPath, index);
  return { child, logPath, cgroup };
}

/**
 * A fresh directory for keepalived's files under /run: keepalived refuses notify programs in or under a
 * world-writable directory such as /tmp. The caller removes it; an interrupted bench does on exit.
 */
export function keepalivedWorkDir(name: string): string {
  mkdirSync('/run/leader-ip-bench', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(`/run/leader-ip-bench/${name}-`);
  chmodSync(dir, 0o755);
  // Also when the bench is interrupted: the caller's own removal does not run then.
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** CPU time of a node so far, ms: its cgroup's usage, or /proc ticks of its processes. */
function cpuMs(node: KeepalivedNode): number {
  if (node.cgroup) {
    try {
      return Number(readFileSync(path.join(node.cgroup, 'cpuacct.usage'), 'utf8')) / 1e6;
    } catch {
      // fall through
    }
  }
  const pid = node.child.pid;
  if (pid === undefined) return 0;
  let total = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
    } catch {
      // gone
    }
  }
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of a node's processes (keepalived and its VRRP process), MiB. */
function rssMiB(node: KeepalivedNode): number {
  const pid = node.child.pid;
  if (pid === undefined) return 0;
  let kb = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

async function idle(dir: string, setting: KeepalivedSetting, opts: BenchOptions): Promise<OverheadRow[]> {
  const nodes = PRIORITIES.map((_, index) =>
    startKeepalived({ net: NET, dir, setting, index, generation: 1000, verbose: opts.verbose }),
  );
  try {
    await nodes[0]!.child.waitForEvent('elected', 30_000);
    await delay(Math.max(3000, 5000 * setting.advertS));
    const windowMs = opts.quick ? 10_000 : 30_000;
    const cpu0 = nodes.map(cpuMs);
    const tx0 = nodes.map((_, i) => NET.txBytes(i + 1));
    const t0 = nowMs();
    await delay(windowMs);
    const seconds = (nowMs() - t0) / 1000;
    const cpu = nodes.map((n, i) => (cpuMs(n) - cpu0[i]!) / 10 / seconds);
    const tx = nodes.map((_, i) => (NET.txBytes(i + 1) - tx0[i]!) / seconds);
    const resolution = nodes.every((n) => n.cgroup) ? 'cpuacct cgroup' : '/proc clock ticks (10 ms resolution)';
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [
      {
        system: 'keepalived',
        config: setting.name,
        nodes: 3,
        cpuPercent: mean(cpu),
        bytesPerSec: mean(tx),
        rssMiB: mean(nodes.map(rssMiB)),
        note:
          `master ${cpu[0]!.toFixed(4)} %, backups ${cpu[1]!.toFixed(4)} / ${cpu[2]!.toFixed(4)} %; CPU from ${resolution} ` +
          `over ${seconds.toFixed(0)} s; bytes: Ethernet frames sent on the node's interface (master ${Math.round(tx[0]!)} B/s); RSS: keepalived and its VRRP process`,
      },
    ];
  } finally {
    await Promise.all(nodes.map((n) => n.child.stop('SIGTERM', 5000)));
    for (const n of nodes) if (n.cgroup) tryRemoveCgroup(n.cgroup);
  }
}

function tryRemoveCgroup(cgroup: string): void {
  try {
    rmSync(cgroup, { recursive: false });
  } catch {
    try {
      // cgroupfs directories are removed with rmdir, which rmSync on a non-empty-looking dir may refuse.
      execFileSync('rmdir', [cgroup], { stdio: 'ignore' });
    } catch {
      // still busy: left for the machine's cleanup
    }
  }
}

export async function runKeepalivedBaseline(opts: BenchOptions): Promise<BenchSection> {
  const why = keepalivedMissing();
  if (why) {
    const msg = `keepalived baseline skipped: ${why} (to enable: ${KEEPALIVED_INSTALL_HINT})`;
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }
  const version = run('keepalived', ['--version']).split('\n')[0] || 'keepalived';
  const dir = keepalivedWorkDir('keepalived');
  const failover: FailoverResult[] = [];
  const overhead: OverheadRow[] = [];
  const nodes: KeepalivedNode[] = [];
  NET.create();
  try {
    for (const setting of KEEPALIVED_SETTINGS) {
      // keepalived's failovers take seconds at the default advert: fewer faults keep the bench's run time sane.
      const kills = Math.min(opts.kills, setting.advertS >= 1 ? 12 : 30);
      for (const scenario of ['crash', 'graceful'] as const) {
        const label = `keepalived ${setting.name} ${scenario}`;
        process.stderr.write(`${label}: ${kills} faults\n`);
        const result = await runKillLoop({
          label,
          nodes: 3,
          kills,
          signal: scenario === 'crash' ? 'SIGKILL' : 'SIGTERM',
          spawn: (index, generation) => {
            const node = startKeepalived({ net: NET, dir, setting, index, generation, verbose: opts.verbose });
            nodes.push(node);
            return node.child;
          },
          startupTimeoutMs: 30_000,
          sampleTimeoutMs: 20_000 * setting.advertS + 5000,
          jitterMs: 1000 * setting.advertS,
          budgetMs: opts.budgetMs,
          log: (m) => process.stderr.write(`${m}\n`),
        });
        failover.push({
          system: 'keepalived',
          config: setting.name,
          scenario,
          nodes: 3,
          samplesMs: result.samplesMs,
          ...(result.failures > 0 ? { failures: result.failures } : {}),
          ...(result.aborted ? { note: result.aborted } : {}),
        });
        for (const n of nodes.splice(0)) if (n.cgroup) tryRemoveCgroup(n.cgroup);
      }
      process.stderr.write(`keepalived ${setting.name}: idle\n`);
      overhead.push(...(await idle(dir, setting, opts)));
    }
  } finally {
    NET.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    failover,
    overhead,
    settings: {
      keepalived: `${version.trim()}; 3 network namespaces on a bridge (${NET.subnet}.0/24, only inside them), unicast_peer, priorities ${PRIORITIES.join('/')}, preemption on; crash = SIGKILL of its process group, graceful = SIGTERM; elected = the notify program's MASTER line (perl, CLOCK_MONOTONIC)`,
    },
  };
}
