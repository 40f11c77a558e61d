/**
 * A process that uses an ElectionNode and then just returns from its main module, for the "never hangs on exit"
 * tests. `argv[2]` picks what happens before that: `stop` (start, lead, stop), `crash` (start, lead, the worker
 * dies), `start-stop` (stop() while start() is in progress). The parent checks that the process exits by itself.
 */
import { ElectionNode } from '../../src/index.ts';
import { engineWorkerOf } from '../../src/node/election-node.ts';

const mode = process.argv[2];
const thread = (process.argv[3] ?? 'worker') as 'worker' | 'main';
const node = new ElectionNode({ id: 1, listen: '127.0.0.1:0', heartbeatIntervalMs: 20, leaseMs: 200, thread });
node.on('error', () => {});
if (mode === 'start-stop') {
  const started = node.start();
  await node.stop();
  await started.catch(() => {});
} else {
  const gained = new Promise((resolve) => node.once('gainedLeadership', resolve));
  await node.start();
  await gained;
  if (mode === 'crash') {
    const lost = new Promise((resolve) => node.once('lostLeadership', resolve));
    engineWorkerOf(node)?.postMessage({ type: 'crash', message: 'injected failure' });
    await lost;
  } else {
    await node.stop();
  }
}
process.stdout.write(`done ${mode}\n`);
