import { ElectionNode, type ElectionNodeOptions } from '../node/election-node.ts';
import { resolveOptions } from '../node/options.ts';
import { formatEndpoint } from '../util/address.ts';
import {
  type AnyFlag,
  flagError,
  HELP_FLAG,
  loadConfigFile,
  parseCommandLine,
  pathFlag,
  renderHelp,
} from './flag-table.ts';
import { ID, LISTEN } from './flags/cluster.ts';
import { ETCD_FLAGS, etcdOptions, usesEtcd } from './flags/etcd.ts';
import { METADATA_URL } from './flags/floating-ip.ts';
import type { Cleanup, RunContext, RunNode } from './flags/group.ts';
import { RUN_GROUPS } from './flags/index.ts';
import { JSON_FLAG } from './flags/output.ts';
import { errorFields, Reporter } from './reporter.ts';

/** `--config FILE`: a JSON object of flag names and values; flags on the command line override it. */
export const CONFIG = pathFlag({
  name: 'config',
  metavar: 'FILE',
  help: 'read flags from a JSON file ({"listen": "10.0.0.2:7400", "lease-ms": 1000, ...});\nflags given on the command line override it',
});

export const RUN_USAGE = `Usage: leader-ip run --listen HOST:PORT --peers HOST:PORT,... [options]

Runs one cluster member until SIGTERM/SIGINT, printing one line per event. On a signal it hands
leadership over before exiting. Every flag is checked before anything is sent or bound.

  --config FILE          ${CONFIG.help.replace('\n', `\n${' '.repeat(25)}`)}
${renderHelp(RUN_GROUPS)}`;

const ALL_FLAGS: readonly AnyFlag[] = RUN_GROUPS.flatMap((group) => group.flags);

/** Runs `leader-ip run`; resolves with the exit code once the node has stopped. */
export async function runCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const values = parseCommandLine(
    args,
    RUN_GROUPS,
    (into, byName) => loadConfigFile(into.get(CONFIG) as string, into, byName),
    CONFIG,
  );
  if (values.get(HELP_FLAG)) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const memo = new Map<string, unknown>();
  let dropletId: Promise<number> | undefined;
  const ctx: RunContext = {
    values,
    env,
    reporter: new Reporter(values.get(JSON_FLAG) === true, 'leader-ip'),
    memo: <T>(key: string, make: () => T): T => {
      if (!memo.has(key)) memo.set(key, make());
      return memo.get(key) as T;
    },
    dropletId: () => {
      dropletId ??= import('../assigners/digitalocean/metadata.ts').then(({ readDropletId }) =>
        readDropletId({ metadataUrl: values.get(METADATA_URL) as string, timeoutMs: 1000, attempts: 3 }),
      );
      return dropletId;
    },
    id: values.get(ID),
    bindings: [],
  };

  // 1. Everything that can be checked without the network, every group, before anything is sent or bound.
  for (const group of RUN_GROUPS) group.validate?.(ctx);
  const options = nodeOptions(ctx);
  const etcd = usesEtcd(values);
  // A library error names an option (`leaseMs`); which flag set it depends on the backend.
  const errorFlags: readonly AnyFlag[] = etcd
    ? [...ETCD_FLAGS, ...ALL_FLAGS]
    : ALL_FLAGS.filter((flag) => !(ETCD_FLAGS as readonly AnyFlag[]).includes(flag));
  // With --backend etcd: the etcd flags plus the leadership ones (health, voter-only); loaded only then.
  const makeEtcd = etcd
    ? await (async () => {
        const { EtcdElection } = await import('../backends/etcd/etcd-election.ts');
        const base = { ...etcdOptions(ctx), voterOnly: options.voterOnly, health: options.health };
        return (id: number) => new EtcdElection({ ...base, id });
      })()
    : undefined;
  try {
    // The ID may still come from the metadata service: any valid ID checks the rest.
    if (makeEtcd !== undefined) makeEtcd(options.id ?? 1);
    else resolveOptions({ ...options, id: options.id ?? 1 });
  } catch (error) {
    throw flagError(error, errorFlags);
  }
  // 2. I/O that the node needs before it exists.
  for (const group of RUN_GROUPS) await group.prepare?.(ctx);
  const id = ctx.id as number;
  ctx.reporter = new Reporter(values.get(JSON_FLAG) === true, `node ${id}`);
  let node: RunNode;
  try {
    node = makeEtcd !== undefined ? makeEtcd(id) : new ElectionNode({ ...options, id } as ElectionNodeOptions);
  } catch (error) {
    throw flagError(error, errorFlags);
  }
  wireNodeEvents(node, ctx.reporter);

  // 3. Wiring, start, servers. A failure part-way undoes what was done.
  const beforeStop: Cleanup[] = [];
  const afterStop: Cleanup[] = [];
  const undo = async (): Promise<void> => {
    for (const cleanup of beforeStop.reverse()) await cleanup();
    await node.stop();
    for (const cleanup of afterStop.reverse()) await cleanup();
  };
  try {
    for (const group of RUN_GROUPS) {
      const cleanup = await group.attach?.(node, ctx);
      if (cleanup !== undefined) beforeStop.push(cleanup);
    }
    // Marks where this process's life begins for readers of the event stream (the leadership-interval checker):
    // leadership events may come before 'started', which is only reported once start() and the servers are done.
    ctx.reporter.event('starting', { id }, 'starting');
    await node.start();
    for (const group of RUN_GROUPS) {
      const cleanup = await group.serve?.(node, ctx);
      if (cleanup !== undefined) afterStop.push(cleanup);
    }
  } catch (error) {
    await undo();
    throw error;
  }
  if (node instanceof ElectionNode) {
    const listen = values.get(LISTEN) as string;
    const address = node.address === null ? listen : formatEndpoint(node.address);
    ctx.reporter.event(
      'started',
      { id, listen: address, clusterSize: node.status().clusterSize },
      `listening on ${address}`,
    );
  } else {
    const key = (node.status() as { key?: string }).key;
    ctx.reporter.event('started', { id, backend: 'etcd', key }, `following the etcd election ${key}`);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        ctx.reporter.event('forced-exit', { signal }, `${signal} again: exiting at once`);
        process.exit(130);
      }
      stopping = true;
      ctx.reporter.event('stopping', { signal }, `${signal}: handing over and stopping`);
      void (async () => {
        await undo();
        ctx.reporter.event('stopped', {}, 'stopped');
        process.off('SIGTERM', shutdown);
        process.off('SIGINT', shutdown);
        resolve(0);
      })();
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}

/** Every group's contribution, with absent values dropped so the library applies its own defaults. */
function nodeOptions(ctx: RunContext): Partial<ElectionNodeOptions> {
  const options: Record<string, unknown> = {};
  for (const group of RUN_GROUPS) {
    for (const [key, value] of Object.entries(group.nodeOptions?.(ctx) ?? {})) {
      if (value === undefined) continue;
      if (key in options) throw new Error(`two flag groups set the node option '${key}'`);
      options[key] = value;
    }
  }
  return options as Partial<ElectionNodeOptions>;
}

function wireNodeEvents(node: RunNode, reporter: Reporter): void {
  node.on('gainedLeadership', ({ term, beganMsAgo }) =>
    reporter.event(
      'gainedLeadership',
      // With `mono`, tells a reader of the log when the leadership really began (a busy main thread reports late).
      { term, beganMsAgo: Math.round(beganMsAgo * 1000) / 1000 },
      `gained leadership (term ${term}${beganMsAgo >= 1 ? `, began ${Math.round(beganMsAgo)} ms earlier` : ''})`,
    ),
  );
  node.on('lostLeadership', ({ term, reason, endedMsAgo }) =>
    reporter.event(
      'lostLeadership',
      // With `mono`, tells a reader of the log when the leadership really ended (a paused process reports late).
      { term, reason, endedMsAgo: Math.round(endedMsAgo * 1000) / 1000 },
      `lost leadership (term ${term}, ${reason}${endedMsAgo >= 1 ? `, ended ${Math.round(endedMsAgo)} ms earlier` : ''})`,
    ),
  );
  node.on('leaderChange', (leaderId, { term }) =>
    reporter.event(
      'leaderChange',
      { leaderId, term },
      leaderId === null ? 'no leader' : `leader is node ${leaderId} (term ${term})`,
    ),
  );
  node.on('error', (error) => reporter.event('error', errorFields(error), `error: ${error.message}`));
  node.on('warning', (warning) => reporter.event('warning', errorFields(warning), `warning: ${warning.message}`));
}
