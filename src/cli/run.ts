import { bindFloatingIp, type FloatingIpBinding } from '../assigners/bind-floating-ip.ts';
import type { FloatingIpAssigner } from '../assigners/floating-ip-assigner.ts';
import { LeaderIpError } from '../errors.ts';
import { ElectionNode, type ElectionNodeOptions } from '../node/election-node.ts';
import { formatEndpoint, parseEndpoint } from '../util/address.ts';
import {
  type FlagValues,
  intFlag,
  listFlag,
  numberFlag,
  parseFlags,
  readSecretFile,
  stringFlag,
  UsageError,
} from './flags.ts';
import { type FloatingIpStatus, type StatusServer, startStatusServer, trackFloatingIp } from './http-status.ts';
import { Reporter } from './reporter.ts';

export const RUN_USAGE = `Usage: leader-ip run --listen HOST:PORT --peers HOST:PORT,... [options]

Runs one cluster member until SIGTERM/SIGINT, printing one line per event. On a signal it hands
leadership over before exiting.

Cluster:
  --id N                 this node's ID (default: the droplet ID from the metadata service)
  --listen HOST:PORT     address to listen on (required)
  --peers LIST           other members, comma-separated HOST:PORT
  --cluster-size N       voting members (default: peers + 1)
  --cluster NAME         cluster name (default: leader-ip)
  --secret-file PATH     shared secret (>= 32 bytes); required beyond loopback unless --insecure
  --insecure             allow an unauthenticated cluster on a non-loopback address
  --state-dir DIR        persist the highest term so terms survive restarts
Timing:
  --heartbeat-ms N       heartbeat interval (default 100)
  --lease-ms N           vote-lease; failover takes about this long (default 1000)
  --peer-timeout-ms N    silence before a peer counts as down (default 4 heartbeats)
  --max-drift N          clock drift bound, e.g. 0.01
Embedding:
  --thread worker|main   run the election on a worker thread (default) or the main thread
  --max-stall-ms N       worker mode: stop leading when the main thread has not run for N ms (default 5000)
Floating IP (DigitalOcean):
  --floating-ip IP       reserved IP to move to the leader
  --token-file PATH      API token file (or set DIGITALOCEAN_TOKEN)
  --token TOKEN          API token (visible in ps: prefer --token-file)
  --droplet-id N         this droplet's ID (default: metadata service)
  --api-url URL          API base URL (default https://api.digitalocean.com)
  --metadata-url URL     metadata service (default http://169.254.169.254)
  --reconcile-ms N       while leading, re-check the IP every N ms (default 30000)
  --poll-ms N            first delay between action polls (default 500)
Output:
  --json                 JSON lines (with a host-wide monotonic 'mono' timestamp in ms)
  --http HOST:PORT       serve GET /status (JSON), /healthz and /leader (200 on the leader only,
                         503 elsewhere); read with 'leader-ip status --url HOST:PORT'. Bind it to
                         loopback or a private interface
  --help`;

const FLAGS = {
  id: { type: 'string' },
  listen: { type: 'string' },
  peers: { type: 'string' },
  'cluster-size': { type: 'string' },
  cluster: { type: 'string' },
  'secret-file': { type: 'string' },
  insecure: { type: 'boolean' },
  'state-dir': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'lease-ms': { type: 'string' },
  'peer-timeout-ms': { type: 'string' },
  'max-drift': { type: 'string' },
  thread: { type: 'string' },
  'max-stall-ms': { type: 'string' },
  'floating-ip': { type: 'string' },
  'token-file': { type: 'string' },
  token: { type: 'string' },
  'droplet-id': { type: 'string' },
  'api-url': { type: 'string' },
  'metadata-url': { type: 'string' },
  'reconcile-ms': { type: 'string' },
  'poll-ms': { type: 'string' },
  json: { type: 'boolean' },
  http: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Runs `leader-ip run`; resolves with the exit code once the node has stopped. */
export async function runCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const listen = stringFlag(flags, 'listen');
  if (listen === undefined) throw new UsageError('--listen is required');
  const json = flags.json === true;
  const floatingIp = stringFlag(flags, 'floating-ip');
  const explicitDropletId = intFlag(flags, 'droplet-id', 1);
  const metadataUrl = stringFlag(flags, 'metadata-url');
  const httpFlag = stringFlag(flags, 'http');
  const httpListen = httpFlag === undefined ? undefined : parseEndpoint(httpFlag, '--http', true);

  const early = new Reporter(json, 'leader-ip');
  const token = floatingIp === undefined ? undefined : readToken(flags, env, early);
  let id = intFlag(flags, 'id', 1);
  let dropletId = explicitDropletId;
  if (id === undefined || (floatingIp !== undefined && dropletId === undefined)) {
    // On a droplet its ID is a natural, unique node ID; and the assigner needs it anyway.
    const { DEFAULT_METADATA_URL, readDropletId } = await import('../assigners/digitalocean/metadata.ts');
    let fromMetadata: number;
    try {
      fromMetadata = await readDropletId({
        metadataUrl: metadataUrl ?? DEFAULT_METADATA_URL,
        timeoutMs: 1000,
        attempts: 3,
      });
    } catch (error) {
      const missing = id === undefined ? '--id' : '--droplet-id';
      throw new UsageError(
        `${missing} not given and the droplet metadata service failed (${(error as Error).message})`,
      );
    }
    id ??= fromMetadata;
    dropletId ??= fromMetadata;
  }
  const reporter = new Reporter(json, `node ${id}`);

  const secretFile = stringFlag(flags, 'secret-file');
  const options: ElectionNodeOptions = {
    id,
    listen,
    peers: listFlag(flags, 'peers'),
    clusterSize: intFlag(flags, 'cluster-size', 1),
    cluster: stringFlag(flags, 'cluster'),
    secret: secretFile === undefined ? undefined : readSecretFile(secretFile, 'secret-file'),
    insecure: flags.insecure === true ? true : undefined,
    stateDir: stringFlag(flags, 'state-dir'),
    heartbeatIntervalMs: intFlag(flags, 'heartbeat-ms', 1),
    leaseMs: intFlag(flags, 'lease-ms', 1),
    peerTimeoutMs: intFlag(flags, 'peer-timeout-ms', 1),
    maxDriftRate: numberFlag(flags, 'max-drift'),
    thread: threadFlag(stringFlag(flags, 'thread')),
    maxStallMs: intFlag(flags, 'max-stall-ms', 1),
  };
  for (const key of Object.keys(options) as (keyof ElectionNodeOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  const node = new ElectionNode(options);
  wireNodeEvents(node, reporter);

  let binding: FloatingIpBinding | undefined;
  let ipStatus: (() => FloatingIpStatus) | undefined;
  if (floatingIp !== undefined && token !== undefined) {
    const assigner = await createDigitalOceanAssigner(flags, floatingIp, token, dropletId, metadataUrl);
    binding = bindFloatingIp(node, assigner, { reconcileIntervalMs: intFlag(flags, 'reconcile-ms', 1) });
    wireBindingEvents(binding, reporter, floatingIp);
    ipStatus = trackFloatingIp(binding, floatingIp);
  }

  await node.start();
  let http: StatusServer | undefined;
  if (httpListen !== undefined) {
    try {
      http = await startStatusServer(httpListen, node, ipStatus);
    } catch (error) {
      await binding?.unbind();
      await node.stop();
      throw new Error(`--http: cannot listen on ${httpFlag} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  }
  const address = node.address === null ? listen : formatEndpoint(node.address);
  reporter.event('started', { id, listen: address, clusterSize: node.status().clusterSize }, `listening on ${address}`);
  if (http !== undefined) reporter.event('http', { url: http.url }, `status on ${http.url}/status`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        reporter.event('forced-exit', { signal }, `${signal} again: exiting at once`);
        process.exit(130);
      }
      stopping = true;
      reporter.event('stopping', { signal }, `${signal}: handing over and stopping`);
      void (async () => {
        await binding?.unbind();
        await node.stop();
        await http?.close();
        reporter.event('stopped', {}, 'stopped');
        process.off('SIGTERM', shutdown);
        process.off('SIGINT', shutdown);
        resolve(0);
      })();
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}

function threadFlag(value: string | undefined): 'worker' | 'main' | undefined {
  if (value === undefined || value === 'worker' || value === 'main') return value;
  throw new UsageError(`--thread: expected 'worker' or 'main', got '${value}'`);
}

function readToken(flags: FlagValues, env: NodeJS.ProcessEnv, reporter: Reporter): string {
  const file = stringFlag(flags, 'token-file');
  if (file !== undefined) return readSecretFile(file, 'token-file');
  const inline = stringFlag(flags, 'token');
  if (inline !== undefined) {
    reporter.event('warning', {}, 'warning: --token is visible to every user in ps; prefer --token-file');
    return inline;
  }
  const fromEnv = env.DIGITALOCEAN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new UsageError('--floating-ip needs a token: --token-file PATH or DIGITALOCEAN_TOKEN');
}

async function createDigitalOceanAssigner(
  flags: FlagValues,
  ip: string,
  token: string,
  dropletId: number | undefined,
  metadataUrl: string | undefined,
): Promise<FloatingIpAssigner> {
  // Loaded only when needed: the DigitalOcean module is the only one that pulls in ky.
  const { DigitalOceanAssigner } = await import('../digitalocean.ts');
  return new DigitalOceanAssigner({
    token,
    ip,
    dropletId,
    baseUrl: stringFlag(flags, 'api-url'),
    metadataUrl,
    pollIntervalMs: intFlag(flags, 'poll-ms', 1),
  });
}

function wireNodeEvents(node: ElectionNode, reporter: Reporter): void {
  node.on('gainedLeadership', ({ term }) =>
    reporter.event('gainedLeadership', { term }, `gained leadership (term ${term})`),
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
  node.on('error', (error) => reporter.event('error', errorFields(error), `warning: ${error.message}`));
}

function wireBindingEvents(binding: FloatingIpBinding, reporter: Reporter, ip: string): void {
  binding.events.on('assigned', ({ term, durationMs, attempts }) =>
    reporter.event(
      'assigned',
      { ip, term, durationMs: Math.round(durationMs), attempts },
      `${ip} moved here in ${Math.round(durationMs)} ms (term ${term}, ${attempts} attempt${attempts === 1 ? '' : 's'})`,
    ),
  );
  binding.events.on('assignFailed', ({ term, error, willRetry }) =>
    reporter.event(
      'assignFailed',
      { ip, term, willRetry, ...errorFields(error) },
      `could not move ${ip} (term ${term}): ${error.message}${willRetry ? '; retrying' : ''}`,
    ),
  );
  binding.events.on('reconciled', ({ term, holder, corrected }) => {
    if (corrected) {
      reporter.event(
        'reconciled',
        { ip, term, holder: holder === null ? null : String(holder), corrected },
        `${ip} was on ${holder ?? 'nobody'}: moved back`,
      );
    }
  });
  binding.events.on('error', (error) => reporter.event('error', errorFields(error), `warning: ${error.message}`));
}

function errorFields(error: Error): Record<string, string> {
  const fields: Record<string, string> = { message: error.message };
  if (error instanceof LeaderIpError) fields.code = error.code;
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === 'string') fields.reason = reason;
  return fields;
}
