/**
 * A real process embedding an ElectionNode that broadcasts, for the process tests of `append`. It takes the
 * arguments ProcessCluster gives the CLI (`run --json --id N --listen ... --peers ... --cluster-size N` plus
 * `--heartbeat-ms`, `--lease-ms`, `--thread`) and prints JSON lines: the leadership events, and
 * - while leading: keeps `LEADER_IP_IN_FLIGHT` appends in flight (default 8), printing `append` (its `seq`) when it
 *   calls `append()`, then `committed` (`seq`, term, index) or `appendFailed` (`seq`, reason);
 * - on the other nodes: `stored` (term, index, data, catchUp) when it has stored an entry, just before confirming.
 */
import { AppendError } from '../../src/index.ts';
import { nodeFromArgs, print } from './embedded-node.ts';

const node = nodeFromArgs();
const inFlight = Number(process.env.LEADER_IP_IN_FLIGHT ?? 8);
let seq = 0;
let leading = false;

/** One append loop: appends, waits for the outcome, appends again, while this node leads. */
async function appendLoop(): Promise<void> {
  while (leading) {
    const mySeq = ++seq;
    print('append', { seq: mySeq });
    try {
      const { term, index } = await node.append(`${node.id}-${mySeq}`);
      print('committed', { seq: mySeq, term, index });
    } catch (error) {
      print('appendFailed', { seq: mySeq, reason: error instanceof AppendError ? error.reason : String(error) });
      if (error instanceof AppendError && error.reason === 'backpressure') await new Promise((r) => setTimeout(r, 5));
      // A rejected append settles as a microtask: looping on it would starve the event loop, so the
      // lostLeadership that ends the loop would never be delivered. This loop ends here; the next
      // gainedLeadership starts new ones.
      else if (error instanceof AppendError && (error.reason === 'notLeader' || error.reason === 'leadershipLost'))
        return;
      else await new Promise((r) => setImmediate(r));
    }
  }
}

node.on('gainedLeadership', ({ term }) => {
  print('gainedLeadership', { term });
  leading = true;
  for (let i = 0; i < inFlight; i++) void appendLoop();
});
node.on('lostLeadership', ({ term, reason, endedMsAgo }) => {
  leading = false;
  print('lostLeadership', { term, reason, endedMsAgo });
});
node.on('leaderChange', (leaderId, { term }) => print('leaderChange', { leaderId, term }));
node.on('error', (error) => print('error', { message: error.message }));
node.on('append', ({ term, index, data, catchUp, confirm }) => {
  print('stored', { term, index, data: new TextDecoder().decode(data), catchUp });
  confirm();
});
process.on('SIGTERM', () => {
  leading = false;
  void node.stop().then(() => {
    print('stopped');
    process.exit(0);
  });
});

await node.start();
print('started', { id: node.id });
