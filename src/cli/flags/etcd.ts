/**
 * `leader-ip run --backend etcd`: elect through an etcd cluster (`EtcdElection`, `leader-ip/etcd`) instead of the
 * built-in TCP protocol. Everything above the election (floating IP, health, output) stays the same; the built-in
 * protocol's own flags (listen, peers, secret, timing, thread) do not apply and are refused.
 */
import { readFileSync } from 'node:fs';
import { ETCD_ELECTION_DEFAULTS, type EtcdElectionOptions } from '../../backends/etcd/options.ts';
import { enumFlag, intFlag, listFlag, pathFlag, readSecretFile, stringFlag, UsageError } from '../flag-table.ts';
import { clusterGroup, ID } from './cluster.ts';
import { embeddingGroup } from './embedding.ts';
import type { RunContext, RunGroup } from './group.ts';
import { NO_PREEMPT, PREEMPT_DELAY } from './health.ts';
import { timingGroup } from './timing.ts';

export const BACKEND = enumFlag({
  name: 'backend',
  values: ['tcp', 'etcd'] as const,
  default: 'tcp',
  help: "'tcp': the built-in election among --peers; 'etcd': elect through an\netcd cluster (--etcd-endpoints; needs the etcd3 package)",
});
export const ETCD_ENDPOINTS = listFlag({
  name: 'etcd-endpoints',
  metavar: 'URL,...',
  help: 'etcd client URLs (http://host:2379 or https://...), with --backend etcd',
  option: 'endpoints',
});
export const ETCD_NAME = stringFlag({
  name: 'etcd-name',
  metavar: 'NAME',
  default: 'leader-ip',
  help: 'the election: nodes with the same name elect one leader',
  option: 'name',
});
export const ETCD_PREFIX = stringFlag({
  name: 'etcd-prefix',
  metavar: 'PREFIX',
  default: ETCD_ELECTION_DEFAULTS.keyPrefix,
  help: 'prefix of the leader key (the key is PREFIX + NAME)',
  option: 'keyPrefix',
});
export const ETCD_LEASE_MS = intFlag({
  name: 'etcd-lease-ms',
  min: 1000,
  default: ETCD_ELECTION_DEFAULTS.leaseMs,
  help: 'etcd lease TTL in ms (whole seconds); crash failover takes about this long',
  option: 'leaseMs',
});
export const ETCD_CACERT = pathFlag({
  name: 'etcd-cacert',
  help: 'CA bundle of the etcd servers (PEM), as etcdctl --cacert',
  option: 'tls.ca',
});
export const ETCD_CERT = pathFlag({
  name: 'etcd-cert',
  help: 'client certificate (PEM), with --etcd-key',
  option: 'tls.cert',
});
export const ETCD_KEY = pathFlag({
  name: 'etcd-key',
  help: 'client private key (PEM), with --etcd-cert',
  option: 'tls.key',
});
export const ETCD_USER = stringFlag({
  name: 'etcd-user',
  metavar: 'NAME',
  help: 'etcd user, with --etcd-password-file',
  option: 'auth.username',
});
export const ETCD_PASSWORD_FILE = pathFlag({
  name: 'etcd-password-file',
  help: "file holding the etcd user's password",
  option: 'auth.password',
});

/** The etcd backend's flags (their `option` paths are `EtcdElectionOptions`', some named like ElectionNode's). */
export const ETCD_FLAGS = [
  ETCD_ENDPOINTS,
  ETCD_NAME,
  ETCD_PREFIX,
  ETCD_LEASE_MS,
  ETCD_CACERT,
  ETCD_CERT,
  ETCD_KEY,
  ETCD_USER,
  ETCD_PASSWORD_FILE,
];
/**
 * The built-in protocol's flags: meaningless with etcd, so refused rather than silently ignored. A function: the
 * cluster group imports this module (for BACKEND), so its value is not there yet while this module loads.
 */
const tcpOnly = () => [
  ...clusterGroup.flags.filter((flag) => flag !== ID),
  ...timingGroup.flags,
  ...embeddingGroup.flags,
  NO_PREEMPT,
  PREEMPT_DELAY,
];

/** Whether this run elects through etcd. */
export function usesEtcd(values: RunContext['values']): boolean {
  return values.get(BACKEND) === 'etcd';
}

function readPem(path: string | undefined, flag: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The etcd-specific options of `EtcdElection` (leadership options such as `health` and `voterOnly` come from
 * their own group). Reads the credential files: call after validation, before the election is created.
 */
export function etcdOptions({ values }: RunContext): Omit<EtcdElectionOptions, 'id'> {
  const ca = readPem(values.get(ETCD_CACERT), ETCD_CACERT.name);
  const cert = readPem(values.get(ETCD_CERT), ETCD_CERT.name);
  const key = readPem(values.get(ETCD_KEY), ETCD_KEY.name);
  const user = values.get(ETCD_USER);
  const passwordFile = values.get(ETCD_PASSWORD_FILE);
  return {
    endpoints: values.get(ETCD_ENDPOINTS) ?? [],
    name: values.get(ETCD_NAME) as string,
    keyPrefix: values.get(ETCD_PREFIX),
    leaseMs: values.get(ETCD_LEASE_MS),
    tls: ca === undefined && cert === undefined && key === undefined ? undefined : { ca, cert, key },
    auth:
      user === undefined || passwordFile === undefined
        ? undefined
        : { username: user, password: readSecretFile(passwordFile, ETCD_PASSWORD_FILE.name) },
  };
}

export const etcdGroup: RunGroup = {
  title: 'etcd backend',
  flags: [BACKEND, ...ETCD_FLAGS],
  validate({ values }) {
    if (!usesEtcd(values)) {
      const stray = ETCD_FLAGS.find((flag) => values.has(flag));
      if (stray !== undefined) throw new UsageError(`--${stray.name} needs --backend etcd`);
      return;
    }
    if (!values.has(ETCD_ENDPOINTS)) throw new UsageError('--backend etcd needs --etcd-endpoints URL[,URL...]');
    const refused = tcpOnly().find((flag) => values.has(flag));
    if (refused !== undefined) throw new UsageError(`--${refused.name} does not apply to --backend etcd`);
    if (values.has(ETCD_CERT) !== values.has(ETCD_KEY)) {
      throw new UsageError(
        `--${values.has(ETCD_CERT) ? ETCD_KEY.name : ETCD_CERT.name} is needed with --${values.has(ETCD_CERT) ? ETCD_CERT.name : ETCD_KEY.name}`,
      );
    }
    if (values.has(ETCD_USER) !== values.has(ETCD_PASSWORD_FILE)) {
      throw new UsageError('--etcd-user and --etcd-password-file go together');
    }
  },
};
