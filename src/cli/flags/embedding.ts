/** `leader-ip run` embedding flags: which thread runs the election, the stall bound. */
import { ELECTION_DEFAULTS } from '../../node/options.ts';
import { enumFlag, intFlag } from '../flag-table.ts';
import type { RunGroup } from './group.ts';

export const THREAD = enumFlag({
  name: 'thread',
  values: ['worker', 'main'],
  help: 'run the election on a worker thread or the main thread',
  default: ELECTION_DEFAULTS.thread,
  option: 'thread',
});
export const MAX_STALL_MS = intFlag({
  name: 'max-stall-ms',
  min: 1,
  help: 'worker mode: stop leading when the main thread has not run for N ms',
  default: ELECTION_DEFAULTS.maxStallMs,
  option: 'maxStallMs',
});

export const embeddingGroup: RunGroup = {
  title: 'Embedding',
  flags: [THREAD, MAX_STALL_MS],
  nodeOptions: ({ values }) => ({ thread: values.get(THREAD), maxStallMs: values.get(MAX_STALL_MS) }),
};
