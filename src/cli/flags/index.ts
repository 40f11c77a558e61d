/** The flag groups of `leader-ip run`, in help order (which is also the order their hooks run in). */
import { clusterGroup } from './cluster.ts';
import { embeddingGroup } from './embedding.ts';
import { etcdGroup } from './etcd.ts';
import { floatingIpGroup } from './floating-ip.ts';
import type { RunGroup } from './group.ts';
import { healthGroup } from './health.ts';
import { outputGroup } from './output.ts';
import { timingGroup } from './timing.ts';

export const RUN_GROUPS: readonly RunGroup[] = [
  clusterGroup,
  etcdGroup,
  timingGroup,
  embeddingGroup,
  healthGroup,
  floatingIpGroup,
  outputGroup,
];
