import type { EventEmitter } from 'eventemitter3';
import { ElectionNode, type ElectionNodeOptions } from '../../src/index.ts';
import { formatEndpoint } from '../../src/util/address.ts';

/**
 * In-process clusters of real ElectionNodes on 127.0.0.1. Nodes listen on port 0 and learn each other's
 * addresses through addPeer() after start, so no port is guessed and none can collide.
 */

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(
  // biome-ignore lint/suspicious/noExplicitAny: accepts any typed eventemitter3 emitter
  emitter: EventEmitter<any>,
  event: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    };
    emitter.once(event, listener);
  });
}

export interface TestCluster {
  nodes: Map<number, ElectionNode>;
  /** Every gained leadership, with the IDs that also claimed leadership at that instant (must be empty). */
  gains: { id: number; term: number; overlapping: number[] }[];
  node(id: number): ElectionNode;
  /** Resolves when `id` (or anyone, if omitted) gains leadership. */
  leaderGained(id: number | undefined, timeoutMs: number): Promise<number>;
  /** Starts (or restarts) node `id` on its previous port, connected to every other member. */
  restart(id: number): Promise<ElectionNode>;
  stopAll(): Promise<void>;
}

export async function startCluster(
  ids: number[],
  common: Partial<ElectionNodeOptions> = {},
  /** Per-node options on top of `common` (voterOnly, health, ...), applied at every (re)start. */
  perNode: (id: number) => Partial<ElectionNodeOptions> = () => ({}),
): Promise<TestCluster> {
  const nodes = new Map<number, ElectionNode>();
  const ports = new Map<number, number>();
  const gains: TestCluster['gains'] = [];
  const make = (id: number, port: number) => {
    const node = new ElectionNode({
      id,
      listen: `127.0.0.1:${port}`,
      clusterSize: ids.length,
      ...common,
      ...perNode(id),
    });
    node.on('gainedLeadership', ({ term }) => {
      // Safety is about what isLeader says at one instant. With the election on worker threads, this (shared) main
      // thread may deliver a gain late, after the leadership already ended and a successor's gain was delivered:
      // then this node does not claim to lead any more, and there is nothing to overlap.
      const overlapping = node.isLeader
        ? [...nodes.values()].filter((other) => other !== node && other.isLeader).map((o) => o.id)
        : [];
      gains.push({ id, term, overlapping });
    });
    return node;
  };
  for (const id of ids) {
    const node = make(id, 0);
    await node.start();
    nodes.set(id, node);
    ports.set(id, node.address!.port);
  }
  for (const [id, node] of nodes) {
    for (const [other, port] of ports) if (other !== id) node.addPeer(`127.0.0.1:${port}`);
  }
  const cluster: TestCluster = {
    nodes,
    gains,
    node: (id) => {
      const node = nodes.get(id);
      if (!node) throw new Error(`no node ${id}`);
      return node;
    },
    leaderGained: async (id, timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const leader = [...nodes.values()].find((node) => node.isLeader && (id === undefined || node.id === id));
        if (leader) return leader.id;
        const remaining = deadline - performance.now();
        if (remaining <= 0) throw new Error(`no leader ${id ?? ''} within ${timeoutMs} ms`);
        const waits = [...nodes.values()]
          .filter((node) => id === undefined || node.id === id)
          .map((node) => nextEvent(node, 'gainedLeadership', remaining).catch(() => undefined));
        await Promise.race(waits);
      }
    },
    restart: async (id) => {
      const node = make(id, ports.get(id)!);
      await node.start();
      nodes.set(id, node);
      for (const [other, port] of ports) if (other !== id) node.addPeer(`127.0.0.1:${port}`);
      return node;
    },
    stopAll: async () => {
      await Promise.all([...nodes.values()].map((node) => node.stop()));
    },
  };
  return cluster;
}

export function addressOf(node: ElectionNode): string {
  return formatEndpoint(node.address!);
}
