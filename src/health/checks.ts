import { spawn } from 'node:child_process';
import { ConfigError } from '../errors.ts';
import type { HealthCheckFunction } from './health-options.ts';

/**
 * Ready-made health checks for the `health.check` option (and the CLI's `--health-url` / `--health-cmd`): an HTTP
 * GET that must answer 2xx, and a command that must exit 0. Both honour the check's `AbortSignal`, so a check cut
 * off at `timeoutMs` really stops (the request is aborted, the process killed).
 * @module
 */

/**
 * Healthy when a GET of `url` answers 2xx before the check's timeout (redirects are not followed: a 3xx from a
 * health endpoint is a misconfiguration, not health). The body is discarded.
 */
export function httpHealthCheck(url: string): HealthCheckFunction {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('health.url', 'expected an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError('health.url', 'expected an http(s) URL');
  }
  const target = parsed.href;
  return async (signal) => {
    const response = await fetch(target, { signal, redirect: 'manual', headers: { 'user-agent': 'leader-ip health' } });
    // Release the connection at once; only the status matters.
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return true;
    throw new Error(`HTTP ${response.status}`);
  };
}

/** Options of {@link commandHealthCheck}. */
export interface CommandHealthCheckOptions {
  /**
   * Run `command` through `/bin/sh -c` (pipes, `&&`, variables). Default false: the command is split into words
   * ({@link splitCommand}) and run directly, so nothing in it is interpreted by a shell.
   */
  shell?: boolean | undefined;
}

/**
 * Healthy when `command` exits with status 0 before the check's timeout; a timed-out command is killed (SIGKILL).
 * Its output is discarded. `command` is a string (split into words unless `shell`) or an argv array.
 */
export function commandHealthCheck(
  command: string | readonly string[],
  options: CommandHealthCheckOptions = {},
): HealthCheckFunction {
  const shell = options.shell === true;
  let argv: string[];
  if (typeof command === 'string') argv = shell ? ['/bin/sh', '-c', command] : splitCommand(command, 'health.command');
  else argv = [...command];
  if (argv.length === 0 || argv.some((arg) => typeof arg !== 'string') || argv[0] === '') {
    throw new ConfigError('health.command', 'expected a non-empty command');
  }
  const [file, ...args] = argv as [string, ...string[]];
  return (signal) =>
    new Promise<boolean>((resolve, reject) => {
      const child = spawn(file, args, { signal, stdio: 'ignore', killSignal: 'SIGKILL', shell: false });
      child.once('error', reject);
      child.once('exit', (code, killedBy) => {
        if (code === 0) resolve(true);
        else reject(new Error(killedBy === null ? `exit status ${code}` : `killed by ${killedBy}`));
      });
    });
}

/**
 * Splits a command line into words the way a shell would for the simple cases, without running a shell: words are
 * separated by blanks; `'…'` quotes literally, `"…"` quotes with `\"` and `\\` escapes, and `\` escapes the next
 * character outside quotes. Anything else a shell would interpret (`|`, `$VAR`, `*`) is taken literally.
 */
export function splitCommand(text: string, field = 'command'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new ConfigError(field, 'ends with a lone backslash');
      word += text[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw new ConfigError(field, `unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}
