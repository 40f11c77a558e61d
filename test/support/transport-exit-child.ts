/**
 * Child process of the "no stray handles" test: meshes three transports, exchanges messages, stops them, then
 * prints the remaining active resources and returns. The process must exit by itself.
 */
import { TcpTransport } from '../../src/transport/tcp-transport.ts';
import { transportOptions } from './transport-harness.ts';

const nodes = [1, 2, 3].map((id) => new TcpTransport(transportOptions(id)));
await Promise.all(nodes.map((n) => n.start()));
for (const a of nodes) for (const b of nodes) if (a !== b) a.addPeer(b.localEndpoint!);
await new Promise<void>((resolve) => {
  const check = () => {
    if (nodes.every((n) => n.connectedPeers.size === 2)) resolve();
  };
  for (const n of nodes) n.on('peerUp', check);
  check();
});
const delivered = new Promise<void>((resolve) => nodes[2]!.once('message', () => resolve()));
nodes[0]!.send(3, new Uint8Array([1, 2, 3]));
await delivered;
// One more dialer pointing at nothing, so a pending redial timer exists at stop time.
nodes[0]!.addPeer({ host: '127.0.0.1', port: 1 });
await Promise.all(nodes.map((n) => n.stop()));
console.log(JSON.stringify(process.getActiveResourcesInfo()));
