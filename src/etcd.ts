/**
 * `leader-ip/etcd`: leader election through an existing etcd cluster, behind the same `LeadershipSource` contract
 * as the built-in `ElectionNode` (events, fencing term, health gating, `bindFloatingIp`). Needs the optional peer
 * dependency `etcd3` (`npm install etcd3`); nothing else in leader-ip loads it.
 * @module
 */

export { EtcdBackendError, type EtcdOperation } from './backends/etcd/errors.ts';
export { EtcdElection, type EtcdElectionStatus } from './backends/etcd/etcd-election.ts';
export {
  ETCD_ELECTION_DEFAULTS,
  type EtcdAuthOptions,
  type EtcdElectionOptions,
  type EtcdTlsOptions,
} from './backends/etcd/options.ts';
