import { EventEmitter } from 'eventemitter3';
import type { LeadershipSource, LeadershipStatus } from '../../src/leadership/leadership-source.ts';
import type { ElectionNodeEvents, LostLeadershipReason } from '../../src/node/events.ts';

/** A leadership source the test drives: it wins and loses when told. */
export class ScriptedLeadership extends EventEmitter<ElectionNodeEvents> implements LeadershipSource {
  readonly id = 1;
  isLeader = false;
  term = 0;
  /** The current leadership's controller (a test may abort it to mimic a signal that ends early). */
  leadership: AbortController | undefined;
  get leaderId(): number | null {
    return this.isLeader ? this.id : null;
  }
  status(): LeadershipStatus {
    return { id: this.id, state: 'running', isLeader: this.isLeader, leaderId: this.leaderId, term: this.term };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  win(term = this.term + 1): void {
    this.term = term;
    this.isLeader = true;
    this.leadership = new AbortController();
    this.emit('gainedLeadership', { term, signal: this.leadership.signal, beganMsAgo: 0 });
  }
  lose(reason: LostLeadershipReason = 'preempted'): void {
    this.isLeader = false;
    this.leadership?.abort();
    this.emit('lostLeadership', { term: this.term, reason, endedMsAgo: 0 });
  }
}
