/**
 * Idle cost of a leader-ip cluster, per node: CPU time, bytes and frames on the wire, RSS, for both thread modes
 * (`worker`, `main`), at the defaults (heartbeat 100 ms, lease 1 s) with 3 and 15 nodes and at heartbeat 25 ms /
 * lease 250 ms with 3 nodes, each beside a bare Node process measured the same way in the same window.
 *
 * Every member is a Node process running the built package (`dist/`); so is the bare process, which only waits on
 * its stdin. Each one reports its own `process.cpuUsage()` (getrusage: µs resolution, all threads) and, for members,
 * `status().transport` when asked on its stdin, so /proc's 10 ms clock ticks do not limit the resolution and a busy
 * machine's load only adds noise, not a bias: the figure that counts is the node's CPU minus the bare process's.
 * Every configuration runs `rounds` times, interleaved; the median round is reported.
 *
 * Part of `npm run bench`; alone: `npm run build && node --import tsx bench/idle.ts [--quick] [--rounds N]
 * [--window MS] [--only TEXT] [--dist path/to/dist/index.js]` (`--dist`: measure another build, e.g. an older
 * commit's, under the same conditions).
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Child, delay, freePorts, REPO_ROOT, spawnProcess } from './lib/proc.ts';
import type { OverheadRow } from './lib/types.ts';

export interface IdleConfig {
  /**
   * `raw` is not leader-ip: a minimal full mesh of plain Node TCP sockets, each process writing one 60-byte message
   * to every peer per heartbeat interval from one timer. It is the floor of any design that sends one frame per
   * peer per interval from Node on this machine, and shows how much of a node's cost is leader-ip's own.
   */
  thread: 'worker' | 'main' | 'raw';
  nodes: number;
  heartbeatMs: number;
  leaseMs: number;
  /** The issue-14 goal for this configuration: CPU % of a core per node, on top of a bare Node process. */
  goalPercent: number;
}

/** The configurations measured, with their goals (issue 14). */
export const IDLE_CONFIGS: readonly IdleConfig[] = (['worker', 'main', 'raw'] as const).flatMap((thread) => [
  { thread, nodes: 3, heartbeatMs: 100, leaseMs: 1000, goalPercent: 0.15 },
  { thread, nodes: 3, heartbeatMs: 25, leaseMs: 250, goalPercent: 0.5 },
  { thread, nodes: 15, heartbeatMs: 100, leaseMs: 1000, goalPercent: 0.6 },
]);

export interface IdleResult extends IdleConfig {
  /** Mean over the members, CPU % of one core (median round). */
  cpuPercent: number;
  /** The bare Node process in the same window. */
  barePercent: number;
  /** The leader alone (it sends the renewals). */
  leaderPercent: number;
  /** Mean over the members, bytes sent per second (frames incl. headers and MACs). */
  bytesPerSec: number;
  /** Mean over the members, frames sent per second. */
  framesPerSec: number;
  rssMiB: number;
  /** Every round's (member mean − bare), to show the spread. */
  rounds: number[];
}

/** A cluster member, or (no argv) the bare process: answers `sample` on stdin with its usage. */
const CHILD = `
const emit = (event, extra) => process.stdout.write(JSON.stringify({ ...extra, event, t: 0 }) + '\\n');
let node;
let leader = null;
if (process.argv[3] === 'raw') {
  const net = await import('node:net');
  const [id, ports, hb] = [Number(process.argv[1]), process.argv[2].split(',').map(Number), Number(process.argv[4])];
  const sockets = [];
  const message = Buffer.alloc(60, id);
  let bytesOut = 0;
  const keep = (socket) => { socket.setNoDelay(true); socket.on('data', () => {}); socket.on('error', () => {}); sockets.push(socket); };
  const server = net.createServer(keep);
  await new Promise((resolve) => server.listen(ports[id - 1], '127.0.0.1', resolve));
  const dial = (port) => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { keep(socket); resolve(); });
    socket.once('error', () => setTimeout(() => dial(port).then(resolve), 50));
  });
  await Promise.all(ports.slice(id).map(dial));
  setInterval(() => { for (const socket of sockets) { socket.write(message); bytesOut += message.length; } }, hb);
  node = { status: () => ({ transport: { bytesOut, framesOut: bytesOut / message.length } }) };
  emit('ready', {});
} else if (process.argv.length > 1) {
  const { ElectionNode } = await import(process.env.LEADER_IP_DIST);
  const [id, ports, thread, hb, lease] = [Number(process.argv[1]), process.argv[2].split(',').map(Number),
    process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
  node = new ElectionNode({
    id, listen: '127.0.0.1:' + ports[id - 1], thread, heartbeatIntervalMs: hb, leaseMs: lease,
    peers: ports.filter((_, i) => i !== id - 1).map((p) => '127.0.0.1:' + p),
  });
  node.on('leaderChange', (leaderId) => { leader = leaderId; });
  await node.start();
  // Settled: a leader is known and every peer is heard (15 nodes take a while to link up on a loaded machine).
  const settle = setInterval(() => {
    const peers = node.status().peers;
    if (leader === null || peers.filter((p) => p.alive).length < ports.length - 1) return;
    clearInterval(settle);
    emit('ready', { leaderId: leader });
  }, 250);
} else {
  emit('ready', {});
}
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let i = buffered.indexOf('\\n'); i >= 0; i = buffered.indexOf('\\n')) {
    const n = Number(buffered.slice(0, i));
    buffered = buffered.slice(i + 1);
    const cpu = process.cpuUsage();
    const at = Number(process.hrtime.bigint()) / 1e6;
    const transport = node?.status().transport;
    emit('sample', { n, at, cpuUs: cpu.user + cpu.system, bytesOut: transport?.bytesOut ?? 0,
      framesOut: transport?.framesOut ?? 0, leader, rss: process.memoryUsage.rss() });
  }
});
process.stdin.on('end', () => process.exit(0));
`;

interface Sample {
  at: number;
  cpuUs: number;
  bytesOut: number;
  framesOut: number;
  leader: number | null;
  rss: number;
}

let sampleNo = 0;
async function sampleAll(children: readonly Child[]): Promise<Sample[]> {
  const n = ++sampleNo;
  const waits = children.map((c) => c.waitForEvent((e) => e.event === 'sample' && e.n === n, 30_000));
  for (const c of children) c.proc.stdin?.write(`${n}\n`);
  return (await Promise.all(waits)) as unknown as Sample[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
}

interface Round {
  member: number;
  bare: number;
  leader: number;
  bytes: number;
  frames: number;
  rss: number;
}

async function measureRound(config: IdleConfig, windowMs: number, dist: string, verbose: boolean): Promise<Round> {
  const ports = await freePorts(config.nodes);
  const env = { ...process.env, LEADER_IP_DIST: dist };
  const spawnChild = (name: string, args: string[]) =>
    spawnProcess(process.execPath, ['--input-type=module', '-e', CHILD, ...args], {
      name,
      env,
      echo: verbose,
      dieWithParent: 'SIGKILL',
    });
  const bare = spawnChild('bare node', []);
  const members = ports.map((_, i) =>
    spawnChild(`idle ${config.thread} ${config.nodes} node ${i + 1}`, [
      String(i + 1),
      ports.join(','),
      config.thread,
      String(config.heartbeatMs),
      String(config.leaseMs),
    ]),
  );
  const all = [bare, ...members];
  try {
    await Promise.all(all.map((c) => c.waitForEvent('ready', 120_000)));
    // Let connection set-up, JIT warm-up and the first elections pass.
    await delay(Math.max(3000, 4 * config.leaseMs));
    const a = await sampleAll(all);
    await delay(windowMs);
    const b = await sampleAll(all);
    const pct = (i: number) => ((b[i]!.cpuUs - a[i]!.cpuUs) / 1000 / (b[i]!.at - a[i]!.at)) * 100;
    const rate = (i: number, key: 'bytesOut' | 'framesOut') =>
      ((b[i]![key] - a[i]![key]) * 1000) / (b[i]!.at - a[i]!.at);
    const idx = members.map((_, i) => i + 1);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const leaderIndex = b[1]!.leader ?? 1;
    return {
      bare: pct(0),
      member: mean(idx.map(pct)),
      leader: pct(leaderIndex),
      bytes: mean(idx.map((i) => rate(i, 'bytesOut'))),
      frames: mean(idx.map((i) => rate(i, 'framesOut'))),
      rss: mean(idx.map((i) => b[i]!.rss)) / 2 ** 20,
    };
  } finally {
    for (const c of all) c.proc.stdin?.end();
    await Promise.all(all.map((c) => c.stop('SIGKILL', 5000)));
  }
}

export interface IdleOptions {
  /** The built package to measure: `dist/index.js` of this checkout unless given (e.g. an older build, to compare). */
  dist?: string;
  windowMs: number;
  rounds: number;
  configs?: readonly IdleConfig[];
  verbose?: boolean;
  log?: (line: string) => void;
}

/** Measures every configuration `rounds` times, interleaved (round 1 of all, then round 2, ...). */
export async function measureIdle(opts: IdleOptions): Promise<IdleResult[]> {
  const dist = pathToFileURL(opts.dist ?? `${REPO_ROOT}/dist/index.js`).href;
  const configs = opts.configs ?? IDLE_CONFIGS;
  const rounds: Round[][] = configs.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (const [i, config] of configs.entries()) {
      const round = await measureRound(config, opts.windowMs, dist, opts.verbose ?? false);
      rounds[i]!.push(round);
      opts.log?.(
        `idle ${describeConfig(config)} round ${r + 1}: ${round.member.toFixed(3)} % per node, bare ${round.bare.toFixed(3)} %, ${Math.round(round.bytes)} B/s`,
      );
    }
  }
  return configs.map((config, i) => {
    const rs = rounds[i]!;
    const net = rs.map((r) => r.member - r.bare);
    const mid = rs[net.indexOf(median(net))]!;
    return {
      ...config,
      cpuPercent: mid.member,
      barePercent: mid.bare,
      leaderPercent: mid.leader,
      bytesPerSec: median(rs.map((r) => r.bytes)),
      framesPerSec: median(rs.map((r) => r.frames)),
      rssMiB: median(rs.map((r) => r.rss)),
      rounds: net,
    };
  });
}

export function describeConfig(c: IdleConfig): string {
  return `${c.thread} thread, ${c.nodes} nodes, hb ${c.heartbeatMs} / lease ${c.leaseMs}`;
}

/** The bench report's rows: one per configuration, CPU on top of the bare process, with the goal. */
export function idleRows(results: readonly IdleResult[]): OverheadRow[] {
  return results.map((r) => {
    const net = r.cpuPercent - r.barePercent;
    if (r.thread === 'raw') {
      return {
        system: 'plain Node TCP mesh (floor)',
        config: `one 60-byte write per peer per ${r.heartbeatMs} ms`,
        nodes: r.nodes,
        cpuPercent: net,
        bytesPerSec: r.bytesPerSec,
        rssMiB: r.rssMiB,
        note: `not leader-ip: the cost of any one-frame-per-peer-per-interval design in Node here; bare ${r.barePercent.toFixed(3)} %`,
      };
    }
    const verdict = idleVerdict(r);
    return {
      system: 'leader-ip',
      config: `${r.thread} thread, hb ${r.heartbeatMs} / lease ${r.leaseMs}`,
      nodes: r.nodes,
      cpuPercent: net,
      bytesPerSec: r.bytesPerSec,
      rssMiB: r.rssMiB,
      note:
        `CPU over a bare Node process (${r.barePercent.toFixed(3)} %) in the same window; goal ≤ ${r.goalPercent} %: ${verdict === 'met' ? 'met' : `${verdict} (by ${(net - r.goalPercent).toFixed(2)} points)`}; ` +
        `leader ${(r.leaderPercent - r.barePercent).toFixed(3)} %; ${r.framesPerSec.toFixed(1)} frames/s; ` +
        `rounds ${r.rounds.map((x) => x.toFixed(3)).join(', ')}`,
    };
  });
}

/** Whether a configuration meets its issue-14 goal, or by what factor it misses it (the floor has no goal of its own). */
export function idleVerdict(r: IdleResult): string {
  if (r.thread === 'raw') return '(floor)';
  const net = r.cpuPercent - r.barePercent;
  if (net <= r.goalPercent) return 'met';
  return `missed ×${(net / r.goalPercent).toFixed(1)}`;
}

/** A plain table for the terminal. */
export function renderIdle(results: readonly IdleResult[]): string {
  const head =
    'thread  nodes  hb/lease   CPU%/node  bare%   net%   goal%  verdict      leader%  bytes/s  frames/s  RSS MiB';
  const lines = results.map((r) =>
    [
      r.thread.padEnd(6),
      String(r.nodes).padStart(5),
      `${r.heartbeatMs}/${r.leaseMs}`.padStart(9),
      r.cpuPercent.toFixed(3).padStart(10),
      r.barePercent.toFixed(3).padStart(6),
      (r.cpuPercent - r.barePercent).toFixed(3).padStart(6),
      r.goalPercent.toFixed(2).padStart(6),
      idleVerdict(r).padEnd(12),
      (r.leaderPercent - r.barePercent).toFixed(3).padStart(8),
      Math.round(r.bytesPerSec).toString().padStart(8),
      r.framesPerSec.toFixed(1).padStart(9),
      r.rssMiB.toFixed(1).padStart(8),
    ].join(' '),
  );
  return [head, ...lines].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      window: { type: 'string' },
      only: { type: 'string' },
      build: { type: 'boolean', default: false },
      dist: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (values.build) execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const only = values.only?.split(',');
  const results = await measureIdle({
    ...(values.dist ? { dist: values.dist } : {}),
    windowMs: Number(values.window ?? (values.quick ? 5000 : 15_000)),
    rounds: Number(values.rounds ?? (values.quick ? 1 : 3)),
    configs: only ? IDLE_CONFIGS.filter((c) => only.some((o) => describeConfig(c).includes(o))) : IDLE_CONFIGS,
    verbose: values.verbose ?? false,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${renderIdle(results)}\n`);
  process.exit(0);
}
