/**
 * Broadcast cost: commit latency (p50/p99) of 100-byte appends and appends per second, 3 nodes on loopback at the
 * default timing, each node's election on its own worker thread (the default), in one process; the followers'
 * applications confirm each entry on receipt. Latency is measured one append at a time (nothing else in flight);
 * throughput with the pipeline full (`broadcast.maxInFlightEntries`, 64).
 *
 * Part of `npm run bench` (the micro rows); alone: `node --import tsx bench/broadcast.ts` (~15 s) prints a Markdown
 * table (`BENCH_APPENDS`, `BENCH_WINDOW_MS` set the sizes).
 */
import { pathToFileURL } from 'node:url';
import { BROADCAST_DEFAULTS, ElectionNode } from '../src/index.ts';
import { delay } from './lib/proc.ts';
import type { MicroRow } from './lib/types.ts';

export interface BroadcastResult {
  appends: number;
  windowMs: number;
  p50Ms: number;
  p99Ms: number;
  perSecond: number;
  /** Appends refused by back-pressure during the throughput window. */
  refused: number;
}

const ENTRY = new Uint8Array(100).fill(7);

/** Runs both measurements on a fresh 3-node cluster and stops it. */
export async function measureBroadcast(appends = 2000, windowMs = 5000): Promise<BroadcastResult> {
  const nodes = [1, 2, 3].map((id) => new ElectionNode({ id, listen: '127.0.0.1:0', clusterSize: 3 }));
  try {
    for (const node of nodes) await node.start();
    for (const node of nodes) {
      for (const other of nodes) if (other !== node) node.addPeer(`127.0.0.1:${other.address!.port}`);
      node.on('append', ({ confirm }) => confirm());
    }
    // The lowest ID may preempt a first leader: measure once one node leads and every node agrees on it.
    const agreed = (): ElectionNode | undefined => {
      const leaders = nodes.filter((n) => n.isLeader);
      return leaders.length === 1 && nodes.every((n) => n.leaderId === leaders[0]!.id) ? leaders[0] : undefined;
    };
    const deadline = performance.now() + 30_000;
    while (agreed() === undefined) {
      if (performance.now() > deadline) throw new Error('broadcast bench: no agreed leader within 30 s');
      await delay(20);
    }
    const settled = agreed()!;

    const latencies: number[] = [];
    for (let i = 0; i < appends; i++) {
      const start = performance.now();
      await settled.append(ENTRY);
      latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

    let committed = 0;
    let refused = 0;
    const end = performance.now() + windowMs;
    const pump = async (): Promise<void> => {
      while (performance.now() < end) {
        try {
          await settled.append(ENTRY);
          committed++;
        } catch {
          refused++;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: BROADCAST_DEFAULTS.maxInFlightEntries }, pump));
    const seconds = (performance.now() - started) / 1000;
    return { appends, windowMs, p50Ms: pct(50), p99Ms: pct(99), perSecond: committed / seconds, refused };
  } finally {
    for (const node of nodes) await node.stop();
  }
}

/** The bench report's rows. */
export function broadcastRows(r: BroadcastResult): MicroRow[] {
  const setting = '3 nodes, loopback, 100 B entries, worker threads';
  return [
    { name: 'broadcast commit latency p50 (one in flight)', value: r.p50Ms, unit: 'ms', note: setting },
    { name: 'broadcast commit latency p99 (one in flight)', value: r.p99Ms, unit: 'ms', note: `${r.appends} appends` },
    {
      name: `broadcast appends committed per second (${BROADCAST_DEFAULTS.maxInFlightEntries} in flight)`,
      value: Math.round(r.perSecond),
      unit: 'appends/s',
      note: `${(r.windowMs / 1000).toFixed(0)} s window, ${r.refused} refused by back-pressure`,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await measureBroadcast(
    Number(process.env.BENCH_APPENDS ?? 2000),
    Number(process.env.BENCH_WINDOW_MS ?? 5000),
  );
  const table = [
    '| 3 nodes, loopback, 100 B entries | value |',
    '| --- | --- |',
    `| commit latency p50 (one in flight, ${r.appends} appends) | ${r.p50Ms.toFixed(2)} ms |`,
    `| commit latency p99 | ${r.p99Ms.toFixed(2)} ms |`,
    `| appends committed per second (${BROADCAST_DEFAULTS.maxInFlightEntries} in flight, ${(r.windowMs / 1000).toFixed(0)} s) | ${Math.round(r.perSecond)} |`,
    `| refused (back-pressure) during that window | ${r.refused} |`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  process.exit(0);
}
