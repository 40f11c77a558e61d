/**
 * The fault-injection loop shared by every failover measurement (leader-ip and the baselines).
 *
 * N contender processes speak the event protocol of `bench/lib/child.ts`. Each round: make sure all N are up and
 * `ready` and one of them is leader; wait a random delay in [0, jitterMs) so the fault lands at a random phase of
 * heartbeats, lease renewals and polls (see `jitterMs`); take t0 on the shared clock and signal the leader (SIGKILL = crash,
 * SIGTERM = graceful: the contender releases leadership and exits); the sample is `t(elected) − t0`, where
 * `t(elected)` is stamped by the first *other* contender that reports `elected` after t0. The victim is then started
 * again (as a follower — unless the system under test hands leadership back to it, see below) and awaited `ready`.
 *
 * The current leader is the last contender that reported `elected` and has not since reported `lost` or exited. A
 * system that gives leadership back to a restarted node (bully preemption) must only report `ready` from the restarted
 * node once that handover is over, otherwise the next round may shoot a leader that is just being replaced.
 */
import { nowMs } from './clock.ts';
import { type Child, delay, waitForAny } from './proc.ts';

export interface KillLoopOptions {
  /** For progress lines and errors, e.g. `etcd TTL 1 s crash`. */
  label: string;
  nodes: number;
  /** Number of faults to inject (samples wanted). */
  kills: number;
  signal: 'SIGKILL' | 'SIGTERM';
  /** Start contender `index`; `generation` is 0 for the first start and counts restarts. */
  spawn: (index: number, generation: number) => Child;
  /** For `ready` after a (re)start and for the first leader. */
  startupTimeoutMs: number;
  /** How long a new leader may take after a fault before the round counts as a failure. */
  sampleTimeoutMs: number;
  /**
   * Random delay before each fault, uniform in [0, jitterMs). Make it a whole number of the system's renewal or
   * poll periods: a failover often lasts a whole number of them, and without the delay every fault would land at the
   * same phase (e.g. just after a lease renewal), biasing all samples the same way.
   */
  jitterMs: number;
  /** Inject no further faults once this much time has passed since the start (samples so far are kept). */
  budgetMs: number;
  /** Give up after this many faults without a new leader (default 3). */
  maxFailures?: number;
  /** Time a signalled contender gets to exit before SIGKILL (default 5 s). */
  graceMs?: number;
  /** Progress output (default: stderr). */
  log?: (msg: string) => void;
}

export interface KillLoopResult {
  samplesMs: number[];
  /** Faults after which no new leader appeared within `sampleTimeoutMs`. */
  failures: number;
  /** Why the loop ended before `kills` faults, if it did. */
  aborted?: string;
  elapsedMs: number;
}

export async function runKillLoop(opts: KillLoopOptions): Promise<KillLoopResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const maxFailures = opts.maxFailures ?? 3;
  const graceMs = opts.graceMs ?? 5000;
  const start = nowMs();
  const samplesMs: number[] = [];
  let failures = 0;
  let aborted: string | undefined;
  const generation = new Array<number>(opts.nodes).fill(0);
  const nodes: Child[] = [];
  let leader: Child | undefined;

  const attach = (child: Child): Child => {
    child.onEvent((e) => {
      if (e.event === 'elected') leader = child;
      else if (e.event === 'lost' && leader === child) leader = undefined;
    });
    child.onExit(() => {
      if (leader === child) leader = undefined;
    });
    return child;
  };

  const start1 = (index: number): Child => {
    const child = attach(opts.spawn(index, generation[index]!));
    generation[index]! += 1;
    nodes[index] = child;
    return child;
  };

  const awaitLeader = async (): Promise<Child> => {
    if (leader?.alive) return leader;
    const { child } = await waitForAny(nodes, (e) => e.event === 'elected', {
      timeoutMs: opts.startupTimeoutMs,
      label: `${opts.label}: waiting for a leader`,
    });
    return child;
  };

  /** Restart contenders that died on their own (not by our hand), so every round starts with N of them. */
  const heal = async (): Promise<void> => {
    const dead = nodes.map((c, i) => (c.alive ? -1 : i)).filter((i) => i >= 0);
    for (const i of dead)
      log(`${opts.label}: contender ${i} had exited (${nodes[i]!.outputTail().slice(-300)}); restarting`);
    await Promise.all(dead.map((i) => start1(i).waitForEvent('ready', opts.startupTimeoutMs)));
  };

  try {
    for (let i = 0; i < opts.nodes; i++) start1(i);
    await Promise.all(nodes.map((c) => c.waitForEvent('ready', opts.startupTimeoutMs)));
    await awaitLeader();

    // Bounded twice: by the number of faults and by the time budget (a round can be repeated when leadership moves
    // during the jitter delay, but never past the budget).
    for (let k = 0; k < opts.kills; ) {
      if (nowMs() - start > opts.budgetMs) {
        aborted = `time budget of ${Math.round(opts.budgetMs / 1000)} s used up after ${k} faults`;
        break;
      }
      await heal();
      const victim = await awaitLeader();
      if (opts.jitterMs > 0) await delay(Math.random() * opts.jitterMs);
      if (leader !== victim || !victim.alive) continue;

      const victimIndex = nodes.indexOf(victim);
      const others = nodes.filter((c) => c !== victim);
      let t0 = Number.POSITIVE_INFINITY;
      const next = waitForAny(others, (e) => e.event === 'elected' && e.t >= t0, {
        timeoutMs: opts.sampleTimeoutMs,
        label: `${opts.label}: fault ${k + 1}, waiting for a new leader`,
        allowExit: [victim],
      });
      t0 = nowMs();
      victim.kill(opts.signal);
      k++;
      try {
        const { event } = await next;
        samplesMs.push(event.t - t0);
      } catch (err) {
        failures++;
        log(`${opts.label}: ${err instanceof Error ? err.message : String(err)}`);
        if (failures >= maxFailures) {
          aborted = `${failures} faults without a new leader`;
          break;
        }
      }
      await victim.stop(opts.signal, graceMs);
      await start1(victimIndex).waitForEvent('ready', opts.startupTimeoutMs);
      if (k % 10 === 0 || k === opts.kills) {
        const last = samplesMs.at(-1);
        log(`${opts.label}: ${k}/${opts.kills} faults${last === undefined ? '' : `, last ${last.toFixed(1)} ms`}`);
      }
    }
  } catch (err) {
    aborted = err instanceof Error ? err.message : String(err);
    log(`${opts.label}: aborted: ${aborted}`);
  } finally {
    await Promise.all(nodes.map((c) => c.stop('SIGTERM', graceMs)));
  }
  return { samplesMs, failures, elapsedMs: nowMs() - start, ...(aborted ? { aborted } : {}) };
}
