/**
 * Entry point of the worker thread that runs a node's {@link Engine} in `thread: 'worker'` mode. Receives its
 * options, the shared view and the status port in `workerData`; commands arrive as messages from the parent,
 * events leave the same way (engine-protocol.ts). Loaded as `engine-worker.js` from `dist`, or as
 * `engine-worker.ts` under tsx (the worker inherits the parent's `--import tsx`).
 * @module
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.ts';
import { dispatch, type EngineCommands, type Envelope } from './engine-protocol.ts';
import type { ResolvedOptions } from './options.ts';
import { QUERY_FLAG, SharedView } from './shared-view.ts';

/** What the facade passes to the worker. */
export interface EngineWorkerData {
  options: ResolvedOptions;
  buffer: SharedArrayBuffer;
  /** Synchronous status queries: a request `{ id }`, answered `{ id, status }`, then QUERY_FLAG is raised. */
  queryPort: MessagePort;
}

const port = parentPort;
if (port === null) throw new Error('engine-worker.ts must run in a worker thread');
const data = workerData as EngineWorkerData;
const view = new SharedView(data.buffer);
const engine = new Engine(data.options, view, (event) => port.postMessage(event), true);
port.on('message', (command: Envelope<EngineCommands>) => dispatch(engine.commands, command));
data.queryPort.on('message', ({ id }: { id: number }) => {
  data.queryPort.postMessage({ id, status: engine.status() });
  Atomics.store(view.int32, QUERY_FLAG, id);
  Atomics.notify(view.int32, QUERY_FLAG);
});
void engine.start();
