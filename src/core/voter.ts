import type { RefusalReason, VoteRequest } from './messages.ts';

/**
 * The voter half of a node: grants its vote-lease to one candidate at a time. This is where safety lives:
 * a voter never holds two unexpired grants, never grants a term below one it granted before, and never grants
 * one term to two candidates. Pure: the caller passes `now` (voter's monotonic clock) and applies the result.
 * @module
 */

/** A vote-lease this voter has granted. */
export interface Grant {
  readonly holder: number;
  readonly term: number;
  readonly incarnation: number;
  /** Highest request sequence number this grant answers: a release only covers grants up to its own seq. */
  readonly seq: number;
  /** Voter-clock time at which the promise ends. */
  readonly expiresAt: number;
}

/** What must survive a restart for terms never to go backwards (the `stateDir` file). */
export interface PersistedState {
  readonly highestTerm: number;
  readonly highestTermHolder: number;
}

/** A request remembered so it can be granted the moment the voter becomes free. */
export interface PendingRequest {
  readonly from: number;
  readonly request: VoteRequest;
  readonly receivedAt: number;
}

/** Facts about the rest of the cluster the voter consults; supplied by the core. */
export interface VoterContext {
  /** True while this node may grant (past its restart wait, not stopping). */
  readonly ready: boolean;
  readonly stopping: boolean;
  /** Lowest ID, other than `candidate`, that is alive and campaigning (this node included), or null. */
  lowerCampaigner(candidate: number): number | null;
}

/** The part of a voter a grant changes: kept to undo a grant whose persistence failed. */
export interface VoterSnapshot {
  readonly grant: Grant | null;
  readonly highest: PersistedState;
}

export type Decision = { granted: true } | { granted: false; reason: RefusalReason };

export class Voter {
  private grantState: Grant | null = null;
  private highest: PersistedState;
  /** Per candidate: releases received, so a late request from before the release is not granted again. */
  private readonly released = new Map<number, { incarnation: number; seq: number }>();
  private readonly pending = new Map<number, PendingRequest>();

  constructor(
    private readonly leaseMs: number,
    persisted: PersistedState | undefined,
  ) {
    this.highest = persisted ?? { highestTerm: 0, highestTermHolder: 0 };
  }

  get highestTerm(): number {
    return this.highest.highestTerm;
  }

  get persisted(): PersistedState {
    return this.highest;
  }

  /** What {@link restore} needs to undo the grants made after this call. */
  snapshot(): VoterSnapshot {
    return { grant: this.grantState, highest: this.highest };
  }

  /** Undoes grants made since `snapshot` (their persistence failed: they must never have been given). */
  restore(snapshot: VoterSnapshot): void {
    this.grantState = snapshot.grant;
    this.highest = snapshot.highest;
  }

  /** The grant in force at `now`, if any. */
  grantAt(now: number): Grant | null {
    return this.grantState !== null && now < this.grantState.expiresAt ? this.grantState : null;
  }

  /** The earliest voter-clock time at which the current grant ends (for the next wake-up). */
  get grantExpiresAt(): number | null {
    return this.grantState?.expiresAt ?? null;
  }

  /** Decides a request without changing state. */
  decide(from: number, request: VoteRequest, now: number, ctx: VoterContext): Decision {
    if (ctx.stopping) return { granted: false, reason: 'stopping' };
    if (!ctx.ready) return { granted: false, reason: 'not-ready' };
    const released = this.released.get(from);
    if (released && released.incarnation === request.incarnation && request.seq <= released.seq) {
      return { granted: false, reason: 'released' };
    }
    const grant = this.grantAt(now);
    if (grant !== null && grant.holder !== from) return { granted: false, reason: 'bound' };
    if (request.term < this.highest.highestTerm) return { granted: false, reason: 'stale-term' };
    if (request.term === this.highest.highestTerm && this.highest.highestTermHolder !== from) {
      return { granted: false, reason: 'stale-term' };
    }
    // Bully preference: while a lower ID is campaigning, neither grant nor renew for a higher one, so the
    // lower node wins as soon as the current lease ends (or is released).
    if (ctx.lowerCampaigner(from) !== null) return { granted: false, reason: 'prefer-lower' };
    return { granted: true };
  }

  /**
   * Records a grant. Returns true when the persisted state changed and must reach stable storage
   * before the reply is sent.
   */
  grant(from: number, request: VoteRequest, now: number): boolean {
    const previous = this.grantState;
    const sameHolder = previous !== null && previous.holder === from && previous.incarnation === request.incarnation;
    this.grantState = {
      holder: from,
      term: request.term,
      incarnation: request.incarnation,
      seq: sameHolder ? Math.max(previous.seq, request.seq) : request.seq,
      expiresAt: now + this.leaseMs,
    };
    this.pending.delete(from);
    if (request.term === this.highest.highestTerm) return false;
    this.highest = { highestTerm: request.term, highestTermHolder: from };
    return true;
  }

  /** Remembers the latest request of `from` so it can be granted when the voter frees up. */
  remember(from: number, request: VoteRequest, now: number): void {
    const previous = this.pending.get(from);
    if (previous && previous.request.incarnation === request.incarnation && previous.request.seq > request.seq) return;
    this.pending.set(from, { from, request, receivedAt: now });
  }

  /** Pending requests younger than `windowMs`, lowest candidate ID first; prunes the rest. */
  freshPending(now: number, windowMs: number): PendingRequest[] {
    const fresh: PendingRequest[] = [];
    for (const [from, entry] of this.pending) {
      if (now - entry.receivedAt > windowMs) this.pending.delete(from);
      else fresh.push(entry);
    }
    return fresh.sort((a, b) => a.from - b.from);
  }

  /** The holder gave back grants for its requests up to `seq`: the voter is free at once. */
  release(from: number, incarnation: number, seq: number): void {
    const previous = this.released.get(from);
    if (!previous || previous.incarnation !== incarnation || previous.seq < seq) {
      this.released.set(from, { incarnation, seq });
    }
    this.pending.delete(from);
    // A release that overtook a newer request must not free a grant the candidate still counts.
    const grant = this.grantState;
    if (grant?.holder === from && grant.incarnation === incarnation && grant.seq <= seq) this.grantState = null;
  }

  /** Drops what is remembered about a peer's requests (it restarted or left). */
  forget(from: number): void {
    this.pending.delete(from);
  }
}
