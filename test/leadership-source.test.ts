import { describe } from 'node:test';
import { ElectionNode } from '../src/index.ts';
import { leadershipContract } from './support/leadership-contract.ts';

// The LeadershipSource contract, run against the built-in TCP backend (the etcd tests run it against etcd).
describe('LeadershipSource contract: ElectionNode', () => {
  for (const thread of ['worker', 'main'] as const) {
    leadershipContract(
      `ElectionNode (thread: ${thread})`,
      async () => {
        const ids = [1, 2, 3];
        const nodes = ids.map(
          (id) =>
            new ElectionNode({
              id,
              listen: '127.0.0.1:0',
              clusterSize: ids.length,
              heartbeatIntervalMs: 20,
              leaseMs: 200,
              thread,
            }),
        );
        return {
          sources: nodes,
          start: async () => {
            await Promise.all(nodes.map((node) => node.start()));
            for (const node of nodes) {
              for (const other of nodes) if (other !== node) node.addPeer(`127.0.0.1:${other.address!.port}`);
            }
          },
          cleanup: async () => {
            await Promise.all(nodes.map((node) => node.stop()));
          },
        };
      },
      10_000,
    );
  }
});
