/**
 * Where a node's {@link Engine} runs, behind one interface: on the caller's thread ({@link startInlineEngine}) or
 * on its own worker thread ({@link startWorkerEngine}). The facade sends commands and receives events the same way
 * in both modes; only the carrier differs.
 * @module
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { Engine } from './engine.ts';
import {
  dispatch,
  type EngineCommands,
  type EngineEvents,
  type EngineStatus,
  type Envelope,
} from './engine-protocol.ts';
import type { EngineWorkerData } from './engine-worker.ts';
import type { ResolvedOptions } from './options.ts';
import { QUERY_FLAG, type SharedView } from './shared-view.ts';

/** The facade's handle on a running engine. */
export interface EngineHost {
  /** Sends one command (queued in order; a worker handles it when its loop is free). */
  send(command: Envelope<EngineCommands>): void;
  /** The engine's status, synchronously; undefined if it could not answer within `timeoutMs`. */
  status(timeoutMs: number): EngineStatus | undefined;
  /** Frees the engine's thread (after `stopped`, or when it failed). Idempotent. */
  close(): Promise<void>;
  /** The worker thread, for tests; undefined on the main thread. */
  readonly worker: Worker | undefined;
}

/** What the host reports to the facade. */
export interface EngineHostCallbacks {
  event(event: Envelope<EngineEvents>): void;
  /** The engine died (threw, or its thread exited) without being closed. */
  failed(error: Error): void;
}

/** Runs the engine on this thread: commands are direct calls, events synchronous callbacks. */
export function startInlineEngine(
  options: ResolvedOptions,
  view: SharedView,
  callbacks: EngineHostCallbacks,
): EngineHost {
  const engine = new Engine(options, view, (event) => callbacks.event(event), false);
  void engine.start();
  return {
    send: (command) => dispatch(engine.commands, command),
    status: () => engine.status(),
    close: async () => {},
    worker: undefined,
  };
}

/**
 * The worker's entry: the compiled `engine-worker.js` beside this file; or, when this file is the TypeScript source
 * (tests, `tsx`), a one-line bootstrap that registers tsx in the worker and imports `engine-worker.ts` (a worker
 * does not apply the `--import tsx` it inherits before loading its entry, so the `.ts` file could not load).
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./engine-worker.js', import.meta.url), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./engine-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => api.register()).then(() => import(${JSON.stringify(entry)}));`;
  return { entry: code, eval: true };
}

/** Flags of this process that must not reach the worker: they describe the main entry (`node -e`, `--input-type`). */
const ENTRY_FLAGS = new Set(['-e', '--eval', '-p', '--print', '--input-type']);

/** The parent's `execArgv` minus the flags about its own entry point (kept: `--import` hooks, memory flags, ...). */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (!ENTRY_FLAGS.has(name)) out.push(arg);
    else if (!arg.includes('=')) i++; // its value is the next argument
  }
  return out;
}

/** Runs the engine on a new worker thread. */
export function startWorkerEngine(
  options: ResolvedOptions,
  view: SharedView,
  callbacks: EngineHostCallbacks,
): EngineHost {
  const { port1, port2 } = new MessageChannel();
  const data: EngineWorkerData = { options, buffer: view.buffer, queryPort: port2 };
  const { entry, eval: isEval } = workerEntry();
  const worker = new Worker(entry, {
    eval: isEval,
    execArgv: workerExecArgv(process.execArgv),
    workerData: data,
    transferList: [port2],
    name: `leader-ip node ${options.id}`,
  });
  port1.unref();
  let closed = false;
  let failed = false;
  const fail = (error: Error) => {
    if (closed || failed) return;
    failed = true;
    callbacks.failed(error);
  };
  worker.on('message', (event: Envelope<EngineEvents>) => callbacks.event(event));
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`the election worker thread exited (code ${code})`)));
  let queryId = 0;
  return {
    worker,
    send: (command) => {
      if (!closed && !failed) worker.postMessage(command);
    },
    status: (timeoutMs) => (closed || failed ? undefined : queryStatus(port1, view, ++queryId, timeoutMs)),
    close: async () => {
      if (closed) return;
      closed = true;
      port1.close();
      await worker.terminate();
    },
  };
}

/**
 * A synchronous round trip to the worker: post the request, block on the shared flag until the worker raised it
 * for this request (or `timeoutMs` passed), then take the reply off the port without the event loop.
 */
function queryStatus(port: MessagePort, view: SharedView, id: number, timeoutMs: number): EngineStatus | undefined {
  port.postMessage({ id });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const flag = Atomics.load(view.int32, QUERY_FLAG);
    if (flag === id) break;
    const left = deadline - performance.now();
    if (left <= 0) break;
    Atomics.wait(view.int32, QUERY_FLAG, flag, left);
  }
  // Replies to earlier queries that timed out may come first: skip them.
  for (;;) {
    const received = receiveMessageOnPort(port) as { message: { id: number; status: EngineStatus } } | undefined;
    if (received === undefined) return undefined;
    if (received.message.id === id) return received.message.status;
  }
}
