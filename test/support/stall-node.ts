/**
 * A real process embedding an ElectionNode the way an application does, for the stall tests: it takes the
 * arguments ProcessCluster gives the CLI (`run --json --id N --listen ... --peers ... --cluster-size N` plus
 * `--heartbeat-ms`, `--lease-ms`, `--max-stall-ms`, `--thread`), prints the CLI's JSON lines, and on SIGUSR2
 * blocks its main thread for `LEADER_IP_STALL_MS` ms (a long synchronous computation), printing `stall-start`
 * and, the instant the main thread runs again and before any queued event is delivered, `stall-end` with what
 * the node says then.
 */
import { parseArgs } from 'node:util';
import { ElectionNode } from '../../src/index.ts';
import { monotonicMs } from '../../src/util/monotonic.ts';

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    json: { type: 'boolean' },
    id: { type: 'string' },
    listen: { type: 'string' },
    peers: { type: 'string' },
    'cluster-size': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    'lease-ms': { type: 'string' },
    'max-stall-ms': { type: 'string' },
    thread: { type: 'string' },
  },
});
const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const print = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, mono: monotonicMs(), ...fields })}\n`);

const node = new ElectionNode({
  id: Number(values.id),
  listen: values.listen!,
  peers: values.peers === undefined || values.peers === '' ? [] : values.peers.split(','),
  clusterSize: num(values['cluster-size']),
  heartbeatIntervalMs: num(values['heartbeat-ms']),
  leaseMs: num(values['lease-ms']),
  maxStallMs: num(values['max-stall-ms']),
  thread: values.thread as 'worker' | 'main' | undefined,
});
node.on('gainedLeadership', ({ term }) => print('gainedLeadership', { term }));
node.on('lostLeadership', ({ term, reason, endedMsAgo }) => print('lostLeadership', { term, reason, endedMsAgo }));
node.on('leaderChange', (leaderId, { term }) => print('leaderChange', { leaderId, term }));
node.on('error', (error) => print('error', { message: error.message }));

process.on('SIGUSR2', () => {
  const ms = Number(process.env.LEADER_IP_STALL_MS ?? 1500);
  const before = { isLeader: node.isLeader, term: node.term };
  const start = monotonicMs();
  print('stall-start', before);
  while (monotonicMs() - start < ms) {
    // Busy: the main thread does not return to its event loop.
  }
  print('stall-end', { isLeader: node.isLeader, term: node.term, stalledMs: monotonicMs() - start });
});
process.on('SIGTERM', () => {
  void node.stop().then(() => {
    print('stopped');
    process.exit(0);
  });
});

await node.start();
print('started', { id: node.id });
