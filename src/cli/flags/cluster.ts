/** `leader-ip run` cluster flags: identity, membership, authentication, persistence. */
import { ELECTION_DEFAULTS } from '../../node/options.ts';
import { checkListenSecurity } from '../../transport/tcp-transport.ts';
import { parseEndpoint } from '../../util/address.ts';
import {
  checkEndpoint,
  endpointFlag,
  intFlag,
  listFlag,
  pathFlag,
  readSecretFile,
  stringFlag,
  switchFlag,
  UsageError,
} from '../flag-table.ts';
import { BACKEND } from './etcd.ts';
import type { RunGroup } from './group.ts';

export const ID = intFlag({
  name: 'id',
  min: 1,
  help: "this node's ID",
  defaultText: 'the droplet ID from the metadata service',
  option: 'id',
});
export const LISTEN = endpointFlag({
  name: 'listen',
  allowZeroPort: true,
  help: 'address to listen on (required)',
  option: 'listen',
});
export const PEERS = listFlag({
  name: 'peers',
  help: 'other members, comma-separated HOST:PORT',
  option: 'peers',
  item: (value, flag) => checkEndpoint(value, flag),
});
export const CLUSTER_SIZE = intFlag({
  name: 'cluster-size',
  min: 1,
  help: 'voting members',
  defaultText: 'peers + 1',
  option: 'clusterSize',
});
export const CLUSTER = stringFlag({
  name: 'cluster',
  metavar: 'NAME',
  help: 'cluster name',
  default: ELECTION_DEFAULTS.cluster,
  option: 'cluster',
});
export const SECRET_FILE = pathFlag({
  name: 'secret-file',
  help: 'shared secret (>= 32 bytes); required beyond loopback unless --insecure',
  option: 'secret',
});
export const ENCRYPT = switchFlag({
  name: 'encrypt',
  help: 'encrypt every frame (AES-256-GCM); needs --secret-file',
  option: 'encrypt',
});
export const INSECURE = switchFlag({
  name: 'insecure',
  help: 'allow an unauthenticated cluster on a non-loopback address',
  option: 'insecure',
});
export const STATE_DIR = pathFlag({
  name: 'state-dir',
  metavar: 'DIR',
  help: 'persist the highest term so terms survive restarts',
  option: 'stateDir',
});

export const clusterGroup: RunGroup = {
  title: 'Cluster',
  flags: [ID, LISTEN, PEERS, CLUSTER_SIZE, CLUSTER, SECRET_FILE, ENCRYPT, INSECURE, STATE_DIR],
  validate({ values }) {
    const listen = values.get(LISTEN);
    // With --backend etcd the node listens nowhere (the etcd group refuses this group's flags).
    if (values.get(BACKEND) === 'etcd') return;
    if (listen === undefined) throw new UsageError('--listen is required');
    if (values.get(ENCRYPT) === true && !values.has(SECRET_FILE)) {
      throw new UsageError('--encrypt needs --secret-file (the key is derived from the shared secret)');
    }
    try {
      checkListenSecurity(
        parseEndpoint(listen, 'listen', true),
        values.has(SECRET_FILE),
        values.get(INSECURE) === true,
      );
    } catch {
      throw new UsageError(
        `--listen ${listen} is reachable beyond loopback: give --secret-file PATH (or --insecure to accept an unauthenticated cluster)`,
      );
    }
  },
  nodeOptions({ values, id }) {
    const secretFile = values.get(SECRET_FILE);
    return {
      ...(id === undefined ? {} : { id }),
      listen: values.get(LISTEN) as string,
      peers: values.get(PEERS),
      clusterSize: values.get(CLUSTER_SIZE),
      cluster: values.get(CLUSTER),
      secret: secretFile === undefined ? undefined : readSecretFile(secretFile, SECRET_FILE.name),
      encrypt: values.get(ENCRYPT),
      insecure: values.get(INSECURE),
      stateDir: values.get(STATE_DIR),
    };
  },
  async prepare(ctx) {
    if (ctx.id !== undefined) return;
    try {
      // On a droplet its ID is a natural, unique node ID.
      ctx.id = await ctx.dropletId();
    } catch (error) {
      throw new UsageError(`--id not given and the droplet metadata service failed (${(error as Error).message})`);
    }
  },
};
