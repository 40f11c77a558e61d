/**
 * leader-ip: leader election for small clusters of Node servers (a bully election with a majority quorum, made
 * safe by vote-leases and fencing terms) and the wiring to move a cloud floating IP to the leader.
 *
 * The DigitalOcean assigner is in `leader-ip/digitalocean`; test doubles are in `leader-ip/testing`.
 * @module
 */

export {
  type AssignedInfo,
  type AssignFailedInfo,
  BIND_FLOATING_IP_DEFAULTS,
  type BindFloatingIpOptions,
  bindFloatingIp,
  type FloatingIpBinding,
  type FloatingIpBindingEvents,
  type ReconciledInfo,
} from './assigners/bind-floating-ip.ts';
export {
  type AllAssignedInfo,
  bindFloatingIps,
  type FloatingIpsBinding,
  type FloatingIpsBindingEvents,
} from './assigners/bind-floating-ips.ts';
export {
  type AssignOptions,
  type FloatingIpAssigner,
  type HolderId,
  type HolderOptions,
  StaleTermError,
  sameHolder,
  TermFence,
} from './assigners/floating-ip-assigner.ts';
export { BROADCAST_DEFAULTS, type BroadcastLimits, type BroadcastStatus } from './core/broadcast.ts';
export type { CannotLeadReason, CoreStatus, PeerStatus, Role } from './core/election-core.ts';
export {
  AbortError,
  AppendError,
  type AppendErrorReason,
  AssignerError,
  ConfigError,
  EngineError,
  LeaderIpError,
  StateError,
  TransportError,
  type TransportErrorReason,
} from './errors.ts';
export {
  type CommandHealthCheckOptions,
  commandHealthCheck,
  httpHealthCheck,
  splitCommand,
} from './health/checks.ts';
export {
  type HealthChange,
  HealthMonitor,
  type HealthMonitorEvents,
  type HealthMonitorSettings,
  type HealthScheduler,
  type HealthStatus,
  REAL_HEALTH_SCHEDULER,
} from './health/health-monitor.ts';
export {
  HEALTH_DEFAULTS,
  type HealthCheckFunction,
  type HealthOptions,
  type ResolvedHealthOptions,
  resolveHealthOptions,
} from './health/health-options.ts';
export {
  checkSomeoneCanLead,
  LEADERSHIP_DEFAULTS,
  LEADERSHIP_KEYS,
  type LeadershipOptions,
  type ResolvedLeadershipOptions,
  resolveLeadershipOptions,
} from './leadership/leadership-options.ts';
export type {
  LeadershipEvents,
  LeadershipSource,
  LeadershipStatus,
  SubscribeFn,
} from './leadership/leadership-source.ts';
export {
  type AppendOptions,
  type AppendResult,
  type BroadcastOptions,
  ElectionNode,
  type ElectionNodeOptions,
  type ElectionNodeStatus,
  type Leadership,
  type TransportTuning,
  type WaitForLeadershipOptions,
} from './node/election-node.ts';
export type {
  AppendEntry,
  CommitInfo,
  ElectionNodeEvents,
  GainedLeadershipInfo,
  LeaderChangeInfo,
  LostLeadershipInfo,
  LostLeadershipReason,
} from './node/events.ts';
export { ELECTION_DEFAULTS } from './node/options.ts';
export type { TcpTransportStats, TransportStats } from './transport/types.ts';
export type { Endpoint } from './util/address.ts';
