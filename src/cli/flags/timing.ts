/** `leader-ip run` timing flags: heartbeat, lease, peer timeout, drift. */
import { ELECTION_DEFAULTS } from '../../node/options.ts';
import { intFlag, numberFlag } from '../flag-table.ts';
import type { RunGroup } from './group.ts';

export const HEARTBEAT_MS = intFlag({
  name: 'heartbeat-ms',
  min: 1,
  help: 'heartbeat interval',
  default: ELECTION_DEFAULTS.heartbeatIntervalMs,
  option: 'heartbeatIntervalMs',
});
export const LEASE_MS = intFlag({
  name: 'lease-ms',
  min: 1,
  help: 'vote-lease; failover takes about this long',
  default: ELECTION_DEFAULTS.leaseMs,
  option: 'leaseMs',
});
export const PEER_TIMEOUT_MS = intFlag({
  name: 'peer-timeout-ms',
  min: 1,
  help: 'silence before a peer counts as down',
  defaultText: '4 heartbeats, at most half a lease',
  option: 'peerTimeoutMs',
});
export const MAX_DRIFT = numberFlag({
  name: 'max-drift',
  min: 0,
  max: 0.2,
  help: 'clock drift bound, e.g. 0.01',
  default: ELECTION_DEFAULTS.maxDriftRate,
  option: 'maxDriftRate',
});

export const timingGroup: RunGroup = {
  title: 'Timing',
  flags: [HEARTBEAT_MS, LEASE_MS, PEER_TIMEOUT_MS, MAX_DRIFT],
  nodeOptions: ({ values }) => ({
    heartbeatIntervalMs: values.get(HEARTBEAT_MS),
    leaseMs: values.get(LEASE_MS),
    peerTimeoutMs: values.get(PEER_TIMEOUT_MS),
    maxDriftRate: values.get(MAX_DRIFT),
  }),
};
