/**
 * `leader-ip/testing`: test doubles for code that uses leader-ip — a mock floating-IP assigner, fake provider API
 * servers, the assigner conformance suite, clusters of real `leader-ip run` processes and a real local etcd
 * (`startEtcdCluster`, for the etcd backend). None talks to a cloud; none loads `ky`.
 * @module
 */

export {
  type MockAssignerCall,
  type MockAssignerEvents,
  type MockAssignerOptions,
  type MockFailure,
  MockFloatingIpAssigner,
  SimulatedFloatingIp,
  type SimulatedFloatingIpEvents,
  type SimulatedIpChange,
} from './assigners/mock.ts';
export {
  type AssignerConformanceCase,
  type AssignerConformanceFactory,
  type AssignerConformanceHarness,
  type AssignerConformanceOptions,
  assignerConformanceCases,
  type ConformanceFault,
  type ConformanceIt,
  describeAssignerConformance,
} from './testing/conformance.ts';
export {
  ETCD_INSTALL_HINT,
  type EtcdCluster,
  type EtcdClusterOptions,
  type EtcdMember,
  etcdBinary,
  etcdMissingMessage,
  etcdSkip,
  startEtcdCluster,
} from './testing/etcd-cluster.ts';
export {
  type FakeAction,
  FakeDigitalOcean,
  type FakeDigitalOceanOptions,
  type FakeDroplet,
  type FakeFault,
  type FakeRequestRecord,
  type FakeRequestValidator,
  type FakeReservedIp,
  type FakeResponseValidator,
  type FakeValidatedRequest,
} from './testing/fake-digitalocean.ts';
export {
  type FakeAwsCredentials,
  FakeEc2,
  type FakeEc2Fault,
  type FakeEc2Options,
  type FakeEc2RequestRecord,
  type FakeEc2RequestValidator,
  type FakeEc2ResponseValidator,
  type FakeEc2ValidatedRequest,
  type FakeElasticIp,
  type FakeInstanceMetadata,
  type FakeInstanceRole,
} from './testing/fake-ec2.ts';
export {
  FakeHetzner,
  type FakeHetznerAction,
  type FakeHetznerFloatingIp,
  type FakeHetznerOptions,
} from './testing/fake-hetzner.ts';
export {
  FakeHttpServer,
  FakeProviderServer,
  type FakeReply,
  type FakeValidationOptions,
  TokenBucket,
} from './testing/fake-provider.ts';
export { FakeVultr, type FakeVultrOptions, type FakeVultrReservedIp } from './testing/fake-vultr.ts';
export {
  type Intervals,
  type Kill,
  type LeadershipInterval,
  leadershipIntervals,
  leadershipViolations,
  overlaps,
  termRegressions,
} from './testing/leadership-intervals.ts';
export {
  freePort,
  freePorts,
  monotonicNow,
  type NodeProcessEvent,
  ProcessCluster,
  type ProcessClusterEvents,
  type ProcessClusterOptions,
} from './testing/process-cluster.ts';
export { DEFAULT_WAIT_TIMEOUT_MS, type WaitOptions, WaitTimeoutError } from './util/wait.ts';
