import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root, for running its scripts and examples as child processes. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A child process whose output is read line by line, so a test can await a line instead of sleeping. Output of
 * both streams is kept (`output`) for assertion messages.
 */
export class LineProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters = new Set<(line: string) => void>();

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
    // An `undefined` in `env` removes the variable (e.g. NODE_TEST_CONTEXT, which makes a nested test run skip).
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete merged[key];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        for (const waiter of [...this.#waiters]) waiter(line);
      });
    }
    // 'close', not 'exit': by then both pipes have been read to the end.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Runs `node --import tsx <script> ...args`. */
  static tsx(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): LineProcess {
    return new LineProcess(['--import', 'tsx', script, ...args], env);
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /**
   * Resolves with the first line matching `pattern`, among those printed from line index `from` on (default: all,
   * already printed or future); rejects on exit or timeout. Pass `from: process.lines.length` to wait for a new one.
   */
  waitForLine(pattern: RegExp, { timeoutMs = 15_000, from = 0 } = {}): Promise<RegExpMatchArray> {
    for (const line of this.lines.slice(from)) {
      const match = line.match(pattern);
      if (match) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = (line: string): void => {
        const match = line.match(pattern);
        if (!match) return;
        done();
        resolve(match);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${this.output}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      void this.exited.then(({ code, signal }) => {
        if (!this.#waiters.has(waiter)) return;
        // readline may hand over the last line a turn after the stream ends.
        setImmediate(() => {
          if (!this.#waiters.has(waiter)) return;
          done();
          reject(new Error(`exited (${signal ?? code}) before printing ${pattern}; output:\n${this.output}`));
        });
      });
    });
  }

  /** Sends `signal` and resolves with how the process ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
