import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'eventemitter3';
import { monotonicMs as monotonicNow } from '../util/monotonic.ts';
import { type WaitOptions, waitUntil } from '../util/wait.ts';

/**
 * A cluster of real `leader-ip run` OS processes on 127.0.0.1, for failover tests, chaos runs, benchmarks and
 * the demo: start them, kill them with any signal (SIGKILL for a crash), restart them, and await what they
 * report. Every process prints JSON lines stamped with the host-wide monotonic clock (`mono`, ms), so times
 * measured across processes are exact.
 * @module
 */

/** One line a node process printed, plus which node printed it. */
export interface NodeProcessEvent {
  /** The node (process) that printed it. */
  readonly id: number;
  /** `started`, `gainedLeadership`, `lostLeadership`, `leaderChange`, `assigned`, `warning`, ... */
  readonly event: string;
  /** Host-wide monotonic time in ms (comparable across processes on this machine). */
  readonly mono: number;
  readonly [field: string]: unknown;
}

/** Options of {@link ProcessCluster}. */
export interface ProcessClusterOptions {
  /** Node IDs, one process each. */
  ids: readonly number[];
  /** Extra `leader-ip run` flags for every node (timing, floating IP, ...). */
  args?: readonly string[] | undefined;
  /** Extra flags for one node (e.g. its `--droplet-id`). */
  argsFor?: ((id: number) => readonly string[]) | undefined;
  /**
   * The addresses node `id` dials, given every node's listen port. Default: every other node's
   * `127.0.0.1:port`. A chaos test points them at proxies instead.
   */
  peersFor?: ((id: number, ports: ReadonlyMap<number, number>) => readonly string[]) | undefined;
  /**
   * Whether to give each process the built-in protocol's flags: `--listen` on its port, `--peers` and
   * `--cluster-size` (default true). False for a backend that needs none of them (`--backend etcd`, whose flags go
   * in `args`, and which refuses these): then no ports are allocated and `ports` stays empty.
   */
  builtInProtocol?: boolean | undefined;
  /** Environment for the processes (merged over this process's). */
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * A module to run instead of the `leader-ip` CLI (a test fixture embedding `ElectionNode`); it gets the same
   * arguments (`run --json --id N ...`) and must print the same JSON lines. A `.ts` path runs under tsx.
   */
  script?: string | undefined;
  /** Called with every line a process writes to stderr (default: ignored). */
  onStderr?: ((id: number, line: string) => void) | undefined;
}

/** Events of {@link ProcessCluster}. */
export interface ProcessClusterEvents {
  /** A node printed an event (also kept in `history`). */
  event: (event: NodeProcessEvent) => void;
  /** A node's process exited (killed, crashed or stopped). */
  exit: (id: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Milliseconds on the host-wide monotonic clock, as printed in `mono` by the node processes. */
export { monotonicMs as monotonicNow } from '../util/monotonic.ts';

/** A TCP port that was free on 127.0.0.1 a moment ago (bound and released at once). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct TCP ports that were free on 127.0.0.1 a moment ago. All are held until the last is found, so
 * they differ from each other (one bind-and-release at a time may get the port it just released back).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) throw new Error('could not get a free port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** How to start the CLI: from the TypeScript sources (through tsx) or from the built `dist`. */
function cliCommand(): { execArgv: string[]; script: string } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { execArgv: ['--import', 'tsx'], script: fileURLToPath(new URL('../cli/main.ts', here)) };
  }
  return { execArgv: [], script: fileURLToPath(new URL('../cli/main.js', here)) };
}

/**
 * A cluster of real OS processes on 127.0.0.1, one `leader-ip run --json` (or your own `script`) per ID, for
 * failover tests that kill, pause and restart processes. Every JSON line a process prints becomes an `event`
 * (kept in `history`), timed on the host-wide monotonic clock. See docs/getting-started.md.
 */
export class ProcessCluster extends EventEmitter<ProcessClusterEvents> {
  /** Every event every process reported, in arrival order. */
  readonly history: NodeProcessEvent[] = [];
  /**
   * Each node's listen port (chosen free at start; kept across restarts so peers find it again). Empty when
   * `builtInProtocol` is false.
   */
  readonly ports = new Map<number, number>();
  readonly #children = new Map<number, ChildProcess>();
  readonly #options: ProcessClusterOptions;

  constructor(options: ProcessClusterOptions) {
    super();
    this.#options = options;
  }

  get #builtInProtocol(): boolean {
    return this.#options.builtInProtocol !== false;
  }

  /** Allocates ports (for the built-in protocol) and starts every node; resolves once each has reported `started`. */
  async start(): Promise<void> {
    if (this.#builtInProtocol) {
      const ports = await freePorts(this.#options.ids.length);
      for (const [i, id] of this.#options.ids.entries()) this.ports.set(id, ports[i]!);
    }
    await Promise.all(this.#options.ids.map((id) => this.spawn(id)));
  }

  /** The IDs whose process is running. */
  get running(): number[] {
    return [...this.#children.keys()];
  }

  /** The process of node `id`, if running. */
  child(id: number): ChildProcess | undefined {
    return this.#children.get(id);
  }

  /** Starts (or restarts) node `id` (on its port, for the built-in protocol); resolves when it reports `started`. */
  async spawn(id: number): Promise<void> {
    if (this.#children.has(id)) throw new Error(`node ${id} is already running`);
    if (!this.#options.ids.includes(id)) throw new Error(`node ${id} is not part of this cluster`);
    let protocolArgs: string[] = [];
    if (this.#builtInProtocol) {
      const port = this.ports.get(id);
      if (port === undefined) throw new Error(`node ${id} has no port yet (start() allocates them)`);
      const peers =
        this.#options.peersFor?.(id, this.ports) ??
        [...this.ports].filter(([other]) => other !== id).map(([, p]) => `127.0.0.1:${p}`);
      protocolArgs = [
        '--listen',
        `127.0.0.1:${port}`,
        '--peers',
        peers.join(','),
        '--cluster-size',
        String(this.#options.ids.length),
      ];
    }
    const custom = this.#options.script;
    const { execArgv, script } =
      custom === undefined
        ? cliCommand()
        : { execArgv: custom.endsWith('.ts') ? ['--import', 'tsx'] : [], script: custom };
    const args = [
      ...execArgv,
      script,
      'run',
      '--json',
      '--id',
      String(id),
      ...protocolArgs,
      ...(this.#options.args ?? []),
      ...(this.#options.argsFor?.(id) ?? []),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...this.#options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#children.set(id, child);
    const started = this.waitFor((e) => e.id === id && e.event === 'started', 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onLine(id, line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.#options.onStderr?.(id, line));
    child.once('exit', (code, signal) => {
      if (this.#children.get(id) === child) this.#children.delete(id);
      this.emit('exit', id, code, signal);
    });
    const exitedEarly = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`node ${id} exited (${signal ?? code}) before starting`)));
    });
    await Promise.race([started, exitedEarly]);
  }

  /** Sends `signal` to node `id` and resolves when the process has exited. Returns the monotonic send time. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const child = this.#children.get(id);
    if (child === undefined) throw new Error(`node ${id} is not running`);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const at = monotonicNow();
    child.kill(signal);
    await exited;
    return at;
  }

  /** Sends a signal without waiting (SIGSTOP/SIGCONT for pauses). */
  signal(id: number, signal: NodeJS.Signals): void {
    this.#children.get(id)?.kill(signal);
  }

  /**
   * Resolves with the first event, from now on, that satisfies `predicate` (past events are not considered).
   * Rejects with a `WaitTimeoutError` (listing the last events) after `timeoutMs` (a number, or
   * `{ timeoutMs, signal }`; default 10 s), or with an `AbortError` when `signal` aborts.
   */
  waitFor(
    predicate: (event: NodeProcessEvent) => boolean,
    options: number | WaitOptions = {},
  ): Promise<NodeProcessEvent> {
    return waitUntil<NodeProcessEvent>(
      (done) => {
        const listener = (event: NodeProcessEvent): void => {
          if (predicate(event)) done(event);
        };
        this.on('event', listener);
        return () => this.off('event', listener);
      },
      // The last events say what happened instead, which is what a failure report needs.
      () =>
        `a matching node event; the last events:\n  ${this.history
          .slice(-12)
          .map((e) => JSON.stringify(e))
          .join('\n  ')}`,
      typeof options === 'number' ? { timeoutMs: options } : options,
    );
  }

  /** The node that most recently reported gaining leadership without losing it since, if it is running. */
  currentLeader(): number | null {
    const leading = new Set<number>();
    for (const e of this.history) {
      if (e.event === 'gainedLeadership') leading.add(e.id);
      if (e.event === 'lostLeadership' || e.event === 'stopped') leading.delete(e.id);
    }
    const running = [...leading].filter((id) => this.#children.has(id));
    return running.length === 1 ? (running[0] ?? null) : null;
  }

  /** SIGKILLs every process still running and waits for them. */
  async stop(): Promise<void> {
    await Promise.all(this.running.map((id) => this.kill(id, 'SIGKILL')));
  }

  #onLine(id: number, line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const event = { ...(parsed as Record<string, unknown>), id } as NodeProcessEvent;
    this.history.push(event);
    this.emit('event', event);
  }
}
