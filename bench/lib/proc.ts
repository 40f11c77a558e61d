/**
 * Child processes for benchmarks: spawn, read their JSON-line events, wait for an event with a timeout, signal them,
 * and make sure none outlives the bench.
 *
 * Event protocol (child → parent, one JSON object per stdout line): `{"event": "<name>", "t": <ms>, ...extra}` where
 * `t` is {@link nowMs} taken in the child at the moment the event happened (see `bench/lib/child.ts`). Lines that are
 * not JSON objects with a string `event` are kept only as diagnostic output.
 *
 * Cleanup: every child and temp dir is registered; on normal exit, on SIGINT/SIGTERM/SIGHUP and on an uncaught
 * error the remaining children are killed and the temp dirs removed. Children also get a stdin pipe so that they
 * can exit by themselves if this process dies without running any handler (SIGKILL); see `exitWithParent`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildEvent {
  event: string;
  /** Shared monotonic clock, ms. */
  t: number;
  [key: string]: unknown;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn failure (e.g. ENOENT), if any. */
  error?: Error;
}

export interface SpawnOptions {
  /** Label used in logs and error messages. */
  name: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (only when this process is root), e.g. PostgreSQL refuses to run as root. */
  uid?: number;
  gid?: number;
  /** Copy every output line to our stderr, prefixed with the name. */
  echo?: boolean;
  /**
   * Signal sent by the emergency cleanup. SIGKILL by default; servers that leave state behind when killed
   * (PostgreSQL's shared memory) should use their immediate-shutdown signal instead.
   */
  emergencySignal?: NodeJS.Signals;
  /**
   * Turn a JSON object printed by the child into an event, for programs with their own line format (e.g.
   * `leader-ip run --json`: `{"event": "gainedLeadership", "mono": ...}` → `{event: 'elected', t: mono}`).
   * Return undefined to ignore a line. Default: objects with a string `event` and a numeric `t` are taken as they are.
   */
  mapEvent?: (line: Record<string, unknown>) => ChildEvent | undefined;
  /**
   * Have the kernel send this signal to the child if this process dies without cleaning up (e.g. it is SIGKILLed),
   * via util-linux `setpriv --pdeathsig` when available. For servers, which do not watch their stdin.
   */
  dieWithParent?: NodeJS.Signals;
  /**
   * Start the child in its own process group, and deliver SIGKILL to the whole group: a crash of a daemon that
   * forks workers (keepalived's VRRP process) takes them down with it, as a machine crash would. Other signals
   * still go to the child alone, which tells its workers itself (a graceful stop).
   */
  processGroup?: boolean;
}

const SETPRIV = '/usr/bin/setpriv';

const TAIL_LINES = 40;

const liveChildren = new Set<Child>();
const tempDirs = new Set<string>();
const cleanups = new Set<() => void>();
let handlersInstalled = false;

function cleanupSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill(child.emergencySignal);
    } catch {
      // Already gone.
    }
  }
  liveChildren.clear();
  // After the kills: a network namespace is only gone once no process runs in it.
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // Best effort: the next run removes leftovers before it starts.
    }
  }
  cleanups.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A server may still be writing while it dies; nothing more can be done synchronously.
    }
  }
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  const signals: [NodeJS.Signals, number][] = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [signal, code] of signals) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, killing ${liveChildren.size} child process(es)\n`);
      cleanupSync();
      process.exit(code);
    });
  }
  // 'exit' is not emitted when Node dies of an uncaught error, so these must clean up themselves.
  const fatal = (err: unknown): void => {
    process.stderr.write(`bench: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupSync();
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** A spawned process whose stdout is parsed into {@link ChildEvent}s. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly emergencySignal: NodeJS.Signals;
  readonly #processGroup: boolean;
  /** Every event received so far, in arrival order. */
  readonly events: ChildEvent[] = [];
  /** Resolves once the process has exited and its output is drained. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private readonly tail: string[] = [];
  private readonly eventListeners = new Set<(e: ChildEvent) => void>();
  private readonly exitListeners = new Set<(info: ExitInfo) => void>();

  constructor(command: string, args: readonly string[], opts: SpawnOptions) {
    installHandlers();
    this.name = opts.name;
    this.emergencySignal = opts.emergencySignal ?? 'SIGKILL';
    this.#processGroup = opts.processGroup ?? false;
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const wrap = opts.dieWithParent !== undefined && existsSync(SETPRIV);
    const argv = wrap ? [`--pdeathsig=${opts.dieWithParent}`, '--', command, ...args] : [...args];
    this.proc = spawn(wrap ? SETPRIV : command, argv, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: opts.processGroup ?? false,
      ...(isRoot && opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(isRoot && opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    liveChildren.add(this);
    // A child that stops reading its stdin must not make our writes fail the whole bench.
    this.proc.stdin?.on('error', () => {});

    const onLine = (line: string, stream: 'out' | 'err'): void => {
      if (opts.echo) process.stderr.write(`[${this.name}${stream === 'err' ? '!' : ''}] ${line}\n`);
      if (stream === 'out') {
        const event = parseEvent(line, opts.mapEvent);
        if (event) {
          this.inject(event);
          return;
        }
      }
      this.tail.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    };
    if (this.proc.stdout) readline.createInterface({ input: this.proc.stdout }).on('line', (l) => onLine(l, 'out'));
    if (this.proc.stderr) readline.createInterface({ input: this.proc.stderr }).on('line', (l) => onLine(l, 'err'));

    this.exited = new Promise<ExitInfo>((resolve) => {
      const finish = (info: ExitInfo): void => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        liveChildren.delete(this);
        for (const fn of [...this.exitListeners]) fn(info);
        resolve(info);
      };
      // 'close' rather than 'exit': the last event lines are parsed before anyone learns about the exit.
      this.proc.once('close', (code, signal) => finish({ code, signal }));
      this.proc.once('error', (error) => finish({ code: null, signal: null, error }));
    });
  }

  /** Records an event learnt some other way than the child's stdout (e.g. a log file its scripts append to). */
  inject(event: ChildEvent): void {
    this.events.push(event);
    for (const fn of [...this.eventListeners]) fn(event);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Subscribe to events; returns the unsubscribe function. */
  onEvent(fn: (e: ChildEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  onExit(fn: (info: ExitInfo) => void): () => void {
    if (this.exitInfo) {
      fn(this.exitInfo);
      return () => {};
    }
    this.exitListeners.add(fn);
    return () => this.exitListeners.delete(fn);
  }

  /**
   * The first event (already received or still to come) that matches. Rejects on timeout or when the process exits
   * first; the rejection carries the tail of its output.
   */
  waitForEvent(match: string | ((e: ChildEvent) => boolean), timeoutMs: number): Promise<ChildEvent> {
    const pred = typeof match === 'string' ? (e: ChildEvent) => e.event === match : match;
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    const what = typeof match === 'string' ? `'${match}'` : 'a matching event';
    return new Promise<ChildEvent>((resolve, reject) => {
      // onExit calls back at once for a process already gone: every handle must exist before then.
      let offEvent = (): void => {};
      let offExit = (): void => {};
      const done = (): void => {
        clearTimeout(timer);
        offEvent();
        offExit();
      };
      const timer = setTimeout(() => {
        done();
        reject(new TimeoutError(`${this.name}: no ${what} within ${timeoutMs} ms${this.describeTail()}`));
      }, timeoutMs);
      offEvent = this.onEvent((e) => {
        if (!pred(e)) return;
        done();
        resolve(e);
      });
      offExit = this.onExit((info) => {
        done();
        reject(new Error(`${this.name} exited (${describeExit(info)}) before ${what}${this.describeTail()}`));
      });
    });
  }

  /** Send a signal; false if the process is already gone. */
  kill(signal: NodeJS.Signals): boolean {
    if (!this.alive) return false;
    if (this.#processGroup && signal === 'SIGKILL' && this.proc.pid !== undefined) {
      try {
        process.kill(-this.proc.pid, signal);
        return true;
      } catch {
        // The group is gone already; fall through to the child itself.
      }
    }
    return this.proc.kill(signal);
  }

  /** Send `signal`, wait up to `graceMs` for the exit, then SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitInfo> {
    if (!this.alive) return this.exitInfo!;
    this.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    this.kill('SIGKILL');
    return this.exited;
  }

  /** Last lines of non-event output, for error messages. */
  outputTail(): string {
    return this.tail.join('\n');
  }

  private describeTail(): string {
    return this.tail.length ? `\n--- last output of ${this.name} ---\n${this.outputTail()}` : '';
  }
}

function parseEvent(
  line: string,
  mapEvent: ((line: Record<string, unknown>) => ChildEvent | undefined) | undefined,
): ChildEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  if (mapEvent) return mapEvent(v as Record<string, unknown>);
  const e = v as ChildEvent;
  return typeof e.event === 'string' && typeof e.t === 'number' ? e : undefined;
}

export function describeExit(info: ExitInfo): string {
  if (info.error) return `spawn error: ${info.error.message}`;
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/** Spawn any executable. */
export function spawnProcess(command: string, args: readonly string[], opts: SpawnOptions): Child {
  return new Child(command, args, opts);
}

/** Run a TypeScript script of this repo in a fresh Node process (`node --import tsx <script> ...args`). */
export function spawnNodeScript(script: string, args: readonly string[], opts: SpawnOptions): Child {
  return new Child(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, ...opts });
}

export interface WaitAnyOptions {
  timeoutMs: number;
  /** Used in the error message. */
  label: string;
  /** Children whose exit is expected while waiting (e.g. the one just killed); any other exit rejects at once. */
  allowExit?: readonly Child[];
  /** Also consider events received before the call (default false: only new ones). */
  includePast?: boolean;
}

/** The first matching event from any of `children`. */
export function waitForAny(
  children: readonly Child[],
  match: (e: ChildEvent, child: Child) => boolean,
  opts: WaitAnyOptions,
): Promise<{ child: Child; event: ChildEvent }> {
  if (opts.includePast) {
    for (const child of children) {
      const e = child.events.find((ev) => match(ev, child));
      if (e) return Promise.resolve({ child, event: e });
    }
  }
  const allowed = new Set(opts.allowExit ?? []);
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = [];
    const done = (): void => {
      clearTimeout(timer);
      for (const off of offs) off();
    };
    const timer = setTimeout(() => {
      done();
      reject(new TimeoutError(`${opts.label}: nothing within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    for (const child of children) {
      offs.push(
        child.onEvent((e) => {
          if (!match(e, child)) return;
          done();
          resolve({ child, event: e });
        }),
      );
      if (!allowed.has(child)) {
        offs.push(
          child.onExit((info) => {
            done();
            const tail = child.outputTail();
            reject(
              new Error(
                `${opts.label}: ${child.name} exited (${describeExit(info)})${tail ? `\n--- last output ---\n${tail}` : ''}`,
              ),
            );
          }),
        );
      }
    }
  });
}

/** Resolve after `ms`; only for deliberate randomised delays, never to wait for something to happen. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { freePort, freePorts } from '../../src/testing/process-cluster.ts';

const TEMP_PREFIX = 'leader-ip-bench-';
let staleRemoved = false;

/** Temp dirs of earlier bench processes that were killed before they could clean up (their pid is in the name). */
function removeStaleTempDirs(): void {
  for (const name of readdirSync(os.tmpdir())) {
    const pid = Number(new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // Still running (or the pid was reused): leave it.
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

/** A fresh temp dir, removed on exit whatever happens (or earlier with {@link removeTempDir}). */
export function makeTempDir(prefix: string): string {
  installHandlers();
  if (!staleRemoved) {
    staleRemoved = true;
    removeStaleTempDirs();
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `${TEMP_PREFIX}${process.pid}-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Run `fn` (synchronous) if the bench exits, is interrupted or dies of an uncaught error before the returned
 * function is called: for state outside temp dirs and children, such as network namespaces and firewall rules.
 */
export function registerCleanup(fn: () => void): () => void {
  installHandlers();
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Stop every child still registered (normal end of a bench phase). */
export async function stopAll(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  await Promise.all([...liveChildren].map((c) => c.stop(signal, graceMs)));
}

/** Children still alive, for leak checks. */
export function liveChildCount(): number {
  return liveChildren.size;
}
