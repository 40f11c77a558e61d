/**
 * `leader-ip/testing`: test doubles for code that uses leader-ip — a mock floating-IP assigner and a fake
 * DigitalOcean API server. Neither talks to a cloud; neither loads `ky`.
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
  monotonicNow,
  type NodeProcessEvent,
  ProcessCluster,
  type ProcessClusterEvents,
  type ProcessClusterOptions,
} from './testing/process-cluster.ts';
