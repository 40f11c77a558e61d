/**
 * Broadcast cost: commit latency (p50/p99) of 100-byte appends and appends per second, 3 nodes on loopback at the
 * default timing, each node's election on its own worker thread (the default), in one process; the followers'
 * applications confirm each entry on receipt. Latency is measured one append at a time (nothing else in flight);
 * throughput with the pipeline full (`broadcast.maxInFlightEntries`, 64). Run: `node --import tsx bench/broadcast.ts`
 * (~15 s). Prints a Markdown table.
 */
import { BROADCAST_DEFAULTS, ElectionNode } from '../src/index.ts';

const SEQUENTIAL = Number(process.env.BENCH_APPENDS ?? 2000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 5000);
const ENTRY = new Uint8Array(100).fill(7);

const nodes = [1, 2, 3].map((id) => new ElectionNode({ id, listen: '127.0.0.1:0', clusterSize: 3 }));
for (const node of nodes) await node.start();
for (const node of nodes) {
  for (const other of nodes) if (other !== node) node.addPeer(`127.0.0.1:${other.address!.port}`);
  node.on('append', ({ confirm }) => confirm());
}
const leader = await new Promise<ElectionNode>((resolve) => {
  for (const node of nodes) node.once('gainedLeadership', () => resolve(node));
});
// Let the followers see the leader before measuring.
await new Promise((resolve) => setTimeout(resolve, 500));

const latencies: number[] = [];
for (let i = 0; i < SEQUENTIAL; i++) {
  const start = performance.now();
  await leader.append(ENTRY);
  latencies.push(performance.now() - start);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

let committed = 0;
let refused = 0;
const end = performance.now() + WINDOW_MS;
async function pump(): Promise<void> {
  while (performance.now() < end) {
    try {
      await leader.append(ENTRY);
      committed++;
    } catch {
      refused++;
    }
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: BROADCAST_DEFAULTS.maxInFlightEntries }, pump));
const seconds = (performance.now() - started) / 1000;
for (const node of nodes) await node.stop();

const table = [
  '| 3 nodes, loopback, 100 B entries | value |',
  '| --- | --- |',
  `| commit latency p50 (one in flight, ${SEQUENTIAL} appends) | ${pct(50).toFixed(2)} ms |`,
  `| commit latency p99 | ${pct(99).toFixed(2)} ms |`,
  `| appends committed per second (${BROADCAST_DEFAULTS.maxInFlightEntries} in flight, ${(WINDOW_MS / 1000).toFixed(0)} s) | ${Math.round(committed / seconds)} |`,
  `| refused (back-pressure) during that window | ${refused} |`,
].join('\n');
process.stdout.write(`${table}\n`);
process.exit(0);
