import type { NodeProcessEvent } from './process-cluster.ts';

/**
 * Leadership intervals of real `leader-ip run --json` processes, rebuilt from what they printed on the host-wide
 * monotonic clock, and the safety checks on them. Used by the demo, the process failover and chaos tests, and
 * available to your own failover tests through `leader-ip/testing`.
 *
 * An interval starts at a `gainedLeadership` line minus its `beganMsAgo` (the event may be delivered late), and
 * ends at the matching `lostLeadership` line minus its `endedMsAgo` (a paused or starved process notices a lapsed
 * lease late, and says how late), or at the moment the test SIGKILLed the process. The protocol's claim is that
 * these intervals never overlap and that their terms grow in time order.
 * @module
 */

/** One node's leadership, from its `gainedLeadership` to its end, on the host-wide monotonic clock (ms). */
export interface LeadershipInterval {
  /** The node that led. */
  id: number;
  /** The leadership's term. */
  term: number;
  /**
   * When it began: the `gainedLeadership` event's `mono` minus its `beganMsAgo` (without that field, `mono` is an
   * upper bound: the event is delivered after the gain), or the leadership's end when its loss says it ended before
   * that.
   */
  from: number;
  /** +Infinity while still leading. */
  to: number;
  /** How it ended: a `lostLeadership` event, a kill of the process (at the kill), or not yet. */
  end: 'lost' | 'killed' | 'open';
  /** The `lostLeadership` reason, when it ended that way. */
  reason?: string | undefined;
}

/** When the test sent SIGKILL to a node's process (monotonic ms, read before sending). */
export interface Kill {
  /** The killed node. */
  id: number;
  /** When the signal was sent (what `ProcessCluster.kill` returns). */
  at: number;
}

/** What {@link leadershipIntervals} makes of an event history. */
export interface Intervals {
  /** Every leadership, in order of start. */
  intervals: LeadershipInterval[];
  /** Event sequences that make no sense (a second gain without a loss, a loss without a gain, ...). */
  problems: string[];
}

/**
 * Rebuilds every leadership interval, sorted by start. Each process's lines are taken in the order it printed
 * them (the history keeps that order per process); a `started` line begins a new process of that node, so an
 * interval still open then was ended by the last kill of that node before it.
 */
export function leadershipIntervals(history: readonly NodeProcessEvent[], kills: readonly Kill[]): Intervals {
  const intervals: LeadershipInterval[] = [];
  const problems: string[] = [];
  const open = new Map<number, LeadershipInterval>();
  const killsOf = (id: number) => kills.filter((k) => k.id === id).sort((a, b) => a.at - b.at);
  const closeByKill = (interval: LeadershipInterval, before: number): void => {
    const kill = killsOf(interval.id)
      .filter((k) => k.at >= interval.from && k.at <= before)
      .at(-1);
    if (kill === undefined) {
      if (before !== Number.POSITIVE_INFINITY) {
        problems.push(`node ${interval.id} restarted while leading (term ${interval.term}) without being killed`);
      }
      return;
    }
    interval.to = kill.at;
    interval.end = 'killed';
    open.delete(interval.id);
  };
  const announced = new Set<number>();
  for (const e of history) {
    const current = open.get(e.id);
    switch (e.event) {
      // A new process of this node: a 'starting' line (before its start(), so before any leadership event of it),
      // or, from a stream without those, its 'started' line.
      case 'starting':
        if (current) closeByKill(current, e.mono);
        open.delete(e.id);
        announced.add(e.id);
        break;
      case 'started':
        if (announced.delete(e.id)) break;
        if (current) closeByKill(current, e.mono);
        open.delete(e.id);
        break;
      case 'gainedLeadership': {
        if (current)
          problems.push(`node ${e.id} gained term ${e.term} at ${e.mono} while leading term ${current.term}`);
        // A busy main thread delivers a gain late, and says by how much (`beganMsAgo`, absent in older streams).
        const beganMsAgo = typeof e.beganMsAgo === 'number' ? e.beganMsAgo : 0;
        const interval: LeadershipInterval = {
          id: e.id,
          term: Number(e.term),
          from: e.mono - beganMsAgo,
          to: Number.POSITIVE_INFINITY,
          end: 'open',
        };
        intervals.push(interval);
        open.set(e.id, interval);
        break;
      }
      case 'lostLeadership': {
        if (!current) {
          problems.push(`node ${e.id} lost term ${e.term} at ${e.mono} without leading`);
          break;
        }
        if (Number(e.term) !== current.term) {
          problems.push(`node ${e.id} lost term ${e.term} at ${e.mono} while leading term ${current.term}`);
        }
        const endedMsAgo = typeof e.endedMsAgo === 'number' ? e.endedMsAgo : 0;
        const endedAt = e.mono - endedMsAgo;
        // A starved main thread can print a gain after the leadership has already ended (the loss then says when):
        // its start is not known, only that it came no later than that end, which is what orders it among terms.
        if (endedAt < current.from) current.from = endedAt;
        current.to = endedAt;
        current.end = 'lost';
        current.reason = String(e.reason);
        open.delete(e.id);
        break;
      }
    }
  }
  for (const interval of [...open.values()]) closeByKill(interval, Number.POSITIVE_INFINITY);
  intervals.sort((a, b) => a.from - b.from);
  return { intervals, problems };
}

function describe(i: LeadershipInterval): string {
  const to = i.to === Number.POSITIVE_INFINITY ? 'now' : i.to.toFixed(3);
  return `node ${i.id} term ${i.term} [${i.from.toFixed(3)}, ${to}] (${i.end}${i.reason ? ` ${i.reason}` : ''})`;
}

/** Pairs of intervals that overlap in time (any two, not only neighbours). */
export function overlaps(intervals: readonly LeadershipInterval[]): string[] {
  const found: string[] = [];
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      if (b.from >= a.to) continue;
      found.push(`${describe(a)} overlaps ${describe(b)} by ${(Math.min(a.to, b.to) - b.from).toFixed(3)} ms`);
    }
  }
  return found;
}

/** Leaderships, in the order they began, whose term is not above every earlier one. */
export function termRegressions(intervals: readonly LeadershipInterval[]): string[] {
  const found: string[] = [];
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  let highest: LeadershipInterval | undefined;
  for (const interval of sorted) {
    if (highest && interval.term <= highest.term) {
      found.push(`${describe(interval)} began after ${describe(highest)} with a term not above it`);
    }
    if (!highest || interval.term > highest.term) highest = interval;
  }
  return found;
}

/** Every safety problem of a run's leaderships: malformed sequences, overlaps, terms not growing. */
export function leadershipViolations(history: readonly NodeProcessEvent[], kills: readonly Kill[]): string[] {
  const { intervals, problems } = leadershipIntervals(history, kills);
  return [...problems, ...overlaps(intervals), ...termRegressions(intervals)];
}
