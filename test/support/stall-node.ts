/**
 * A real process embedding an ElectionNode the way an application does, for the stall tests: it takes the
 * arguments ProcessCluster gives the CLI (`run --json --id N --listen ... --peers ... --cluster-size N` plus
 * `--heartbeat-ms`, `--lease-ms`, `--max-stall-ms`, `--thread`), prints the CLI's JSON lines, and on SIGUSR2
 * blocks its main thread for `LEADER_IP_STALL_MS` ms (a long synchronous computation), printing `stall-start`
 * and, the instant the main thread runs again and before any queued event is delivered, `stall-end` with what
 * the node says then.
 */
import { monotonicMs } from '../../src/util/monotonic.ts';
import { nodeFromArgs, print } from './embedded-node.ts';

const node = nodeFromArgs();
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
