/**
 * What the process tests' own node scripts (append-node.ts, stall-node.ts) share: they take the arguments
 * ProcessCluster gives the CLI (`run --json --id N --listen ... --peers ... --cluster-size N` plus `--heartbeat-ms`,
 * `--lease-ms`, `--max-stall-ms`, `--thread`), build the ElectionNode an application would, and print JSON lines
 * stamped with the host-wide monotonic clock, as the CLI's `--json` does.
 */
import { parseArgs } from 'node:util';
import { ElectionNode } from '../../src/index.ts';
import { monotonicMs } from '../../src/util/monotonic.ts';

/** Prints one JSON event line on stdout. */
export function print(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, mono: monotonicMs(), ...fields })}\n`);
}

/** The node described by this process's arguments (not started). */
export function nodeFromArgs(): ElectionNode {
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
  return new ElectionNode({
    id: Number(values.id),
    listen: values.listen!,
    peers: values.peers === undefined || values.peers === '' ? [] : values.peers.split(','),
    clusterSize: num(values['cluster-size']),
    heartbeatIntervalMs: num(values['heartbeat-ms']),
    leaseMs: num(values['lease-ms']),
    maxStallMs: num(values['max-stall-ms']),
    thread: values.thread as 'worker' | 'main' | undefined,
  });
}
