/**
 * Helpers for the bench's child processes (contenders): report events on the shared clock and never outlive the
 * orchestrator. Protocol: see `bench/lib/proc.ts`.
 *
 * Events the failover loop (`bench/lib/failover.ts`) understands:
 * - `ready`   — joined the election (registered/connected); the loop waits for it before injecting the next fault;
 * - `elected` — became leader (for leader-ip: `gainedLeadership`); its `t` ends a failover sample;
 * - `lost`    — stopped being leader without exiting;
 * - `stopped` — graceful shutdown finished, about to exit;
 * - `error`   — something failed, with `message`.
 */
import { nowMs } from './clock.ts';

/** Print one event line. Synchronous on Linux pipes, so an event emitted right before `process.exit` is not lost. */
export function emit(event: string, extra: Record<string, unknown> = {}): void {
  const t = nowMs();
  process.stdout.write(`${JSON.stringify({ ...extra, event, t })}\n`);
}

/**
 * Exit when the orchestrator goes away (its end of our stdin pipe closes, even if it was SIGKILLed) and in any case
 * after `maxLifetimeMs`, so that no contender can be left running.
 */
export function exitWithParent(maxLifetimeMs = 2 * 60 * 60 * 1000): void {
  const leave = (): void => process.exit(0);
  process.stdin.on('end', leave);
  process.stdin.on('close', leave);
  process.stdin.on('error', leave);
  process.stdin.resume();
  setTimeout(() => {
    emit('error', { message: `max lifetime ${maxLifetimeMs} ms reached` });
    process.exit(2);
  }, maxLifetimeMs).unref();
}

/** Report an error event and exit non-zero. */
export function fail(err: unknown, code = 1): never {
  emit('error', { message: err instanceof Error ? err.message : String(err) });
  process.exit(code);
}
