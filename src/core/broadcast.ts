import type { Append, AppendAck, Commit, Message } from './messages.ts';

/**
 * Leader-serialized broadcast (libab's append/confirm/commit), as a pure state machine the election core drives
 * (docs/protocol.md §12). No sockets, timers or clock reads: the core tells it whether and in which term this node
 * leads at the moment of each input, and collects what it sends and emits.
 *
 * - **Leader.** Stamps each entry with `(term, index)` (index from 1 in every term), sends it to every peer, and
 *   keeps it *in flight* until a majority (the leader included) has confirmed it. Followers confirm cumulatively,
 *   so the entry committed is the majority-th highest confirmed index. At most `maxInFlightEntries` entries and
 *   `maxInFlightBytes` bytes are in flight; beyond that an append is refused (`'backpressure'`), never queued.
 *   When leadership ends, every entry in flight fails: no caller hears "committed" for an entry that was not.
 * - **Follower.** Delivers entries in strictly increasing `(term, index)` order, only from the leader of the
 *   highest leader term it has seen (the fence): a deposed leader's late entries are refused. Within a term it
 *   delivers `index + 1` only after `index`, except for a *catch-up* entry (already committed, so everything before
 *   it is too): a follower that (re)connects, or reports a gap, is sent the latest committed entry and everything
 *   in flight after it.
 * @module
 */

/** Size and pipelining bounds of the broadcast (the `broadcast.*` options of `ElectionNode`). */
export interface BroadcastLimits {
  /** Largest entry, in bytes of data. */
  readonly maxEntryBytes: number;
  /** Entries a leader keeps in flight (sent, not yet confirmed by a majority) at most. */
  readonly maxInFlightEntries: number;
  /** Bytes of data a leader keeps in flight at most. */
  readonly maxInFlightBytes: number;
}

/**
 * The defaults of {@link BroadcastLimits}, the one table the node's options and the core use. 64 entries and
 * 256 KiB in flight keep the data queued on a link ahead of a heartbeat to a few milliseconds on a LAN, and a
 * catch-up (everything in flight, sent at once) well inside a link's 1 MiB write buffer; 60 KiB per entry fits
 * the default 64 KiB frame with room for the header, MAC and message fields.
 */
export const BROADCAST_DEFAULTS = {
  /** Bytes of data per entry. */
  maxEntryBytes: 60 * 1024,
  /** Entries in flight. */
  maxInFlightEntries: 64,
  /** Bytes of data in flight. */
  maxInFlightBytes: 256 * 1024,
} as const satisfies BroadcastLimits;

/**
 * Frame bytes an append needs beyond its data: message fields (type, term, index, flags, length: at most 30)
 * plus the transport's frame header and MAC, rounded up. `maxEntryBytes + APPEND_OVERHEAD_BYTES` must fit a frame.
 */
export const APPEND_OVERHEAD_BYTES = 96;

/**
 * A follower delivers at most this many entries of one term that its application has not yet confirmed (or that
 * no commit notice has covered yet); beyond it, it delivers nothing more until they are, and catches up later.
 * Bounds a follower's memory whatever its application or a leader does.
 */
export const MAX_FOLLOWER_PENDING = 4096;

/** Why `append` was refused before anything was sent. */
export type AppendRefusal = 'notLeader' | 'tooLarge' | 'backpressure';

/** What the broadcast reports; the core passes these on as its own events. */
export type BroadcastEvent =
  /** The leader took the entry: it is in flight as `(term, index)`. */
  | { readonly type: 'append-accepted'; readonly requestId: number; readonly term: number; readonly index: number }
  /** The leader refused the entry; nothing was sent. */
  | {
      readonly type: 'append-refused';
      readonly requestId: number;
      readonly reason: AppendRefusal;
      readonly message: string;
    }
  /** Leadership ended before a majority confirmed this entry: its outcome is unknown, never "committed". */
  | { readonly type: 'append-failed'; readonly term: number; readonly index: number }
  /** A majority (the leader included) confirmed this entry. On a follower: the leader said so. */
  | { readonly type: 'committed'; readonly term: number; readonly index: number }
  /** Follower: an entry to hand to the application, which confirms it once stored. */
  | {
      readonly type: 'delivered';
      readonly term: number;
      readonly index: number;
      readonly data: Uint8Array;
      readonly catchUp: boolean;
      readonly leaderId: number;
    };

/** Where the broadcast's output goes (the core's effect lists). */
export interface BroadcastOut {
  send(to: number, message: Message): void;
  sendAll(message: Message): void;
  emit(event: BroadcastEvent): void;
}

/** A plain snapshot for `status()`. */
export interface BroadcastStatus {
  /** Leader: entries and bytes in flight, and the highest committed index of its term. */
  inFlight: number;
  /** Bytes of the entries in flight (leader), counted against the backpressure bound. */
  inFlightBytes: number;
  /** Index of the last entry of the current term a majority confirmed (leader); 0 before any. */
  committedIndex: number;
  /** The highest leader term seen (entries of lower terms are refused). */
  fenceTerm: number;
  /** The last entry delivered to this node's application, or null. */
  lastDelivered: {
    /** Its leadership term. */
    term: number;
    /** Its position in that term's log. */
    index: number;
  } | null;
  /** Entries refused because their term was below the fence (a deposed leader's late entries). */
  refusedStale: number;
  /** Entries that arrived after a gap (not delivered; a catch-up was asked for). */
  gaps: number;
}

interface LeaderLog {
  readonly term: number;
  /** Last index assigned. */
  next: number;
  /** In flight, by index, in index order. */
  readonly entries: Map<number, Uint8Array>;
  bytes: number;
  /** Per follower: highest index it confirmed cumulatively. */
  readonly match: Map<number, number>;
  committed: number;
  /** The latest committed entry, kept for catch-ups. */
  latest: { index: number; data: Uint8Array } | null;
  /** Per follower: `next` when it was last sent a catch-up (a gap report below it is already answered). */
  readonly resentUpTo: Map<number, number>;
}

interface FollowerLog {
  readonly term: number;
  readonly leader: number;
  /** The leader's incarnation: a term reused by another leadership (no `stateDir`) is refused. */
  readonly incarnation: number;
  /** Last index delivered. */
  last: number;
  /** Cumulative: every delivered entry up to here is confirmed. */
  confirmedUpTo: number;
  /** Delivered, not yet confirmed, ascending. */
  readonly unconfirmed: number[];
  readonly confirmedAhead: Set<number>;
  /** Delivered, not yet covered by a commit notice, ascending. */
  readonly uncommitted: number[];
  committed: number;
}

export class Broadcast {
  private leader: LeaderLog | null = null;
  private follower: FollowerLog | null = null;
  private fence = 0;
  private refusedStale = 0;
  private gaps = 0;
  private lastDelivered: { term: number; index: number } | null = null;
  /**
   * A commit notice for a term this node has no entry of yet: when a link is replaced, a notice may overtake the
   * entry it covers (they travelled on different connections). Applied when that term's first entry arrives.
   */
  private earlyCommit: { term: number; leader: number; incarnation: number; index: number } | null = null;

  constructor(
    /** This node's incarnation, which names its leaderships together with their term. */
    private readonly incarnation: number,
    private readonly majority: number,
    private readonly limits: BroadcastLimits,
    private readonly out: BroadcastOut,
  ) {}

  // ---------------------------------------------------------------------------------------------------------
  // Leader side

  /**
   * The application asks to broadcast `data`. `leadingTerm` is this node's leadership term if it leads at this
   * very moment (lease checked), else null.
   */
  append(requestId: number, data: Uint8Array, leadingTerm: number | null): void {
    const log = leadingTerm === null ? null : this.leaderLog(leadingTerm);
    const refusal = this.refusal(log, data.length);
    if (log === null || refusal !== null) {
      const [reason, message] = refusal ?? ['notLeader', 'this node is not the leader'];
      this.out.emit({ type: 'append-refused', requestId, reason, message });
      return;
    }
    const index = ++log.next;
    log.entries.set(index, data);
    log.bytes += data.length;
    this.out.emit({ type: 'append-accepted', requestId, term: log.term, index });
    this.out.sendAll({
      type: 'append',
      term: log.term,
      incarnation: this.incarnation,
      index,
      catchUp: false,
      data,
    } satisfies Append);
    this.advanceCommit(log);
  }

  /** Why an entry of `size` bytes cannot be taken now, or null. */
  private refusal(log: LeaderLog | null, size: number): [AppendRefusal, string] | null {
    const l = this.limits;
    if (log === null) return ['notLeader', 'this node is not the leader'];
    if (size > l.maxEntryBytes) {
      return ['tooLarge', `entry of ${size} bytes exceeds broadcast.maxEntryBytes (${l.maxEntryBytes})`];
    }
    if (log.entries.size >= l.maxInFlightEntries) {
      return ['backpressure', `${log.entries.size} entries in flight (broadcast.maxInFlightEntries)`];
    }
    if (log.bytes + size > l.maxInFlightBytes) {
      return [
        'backpressure',
        `${log.bytes} bytes in flight, ${size} more would exceed broadcast.maxInFlightBytes (${l.maxInFlightBytes})`,
      ];
    }
    return null;
  }

  /** This node's leadership ended (any reason): every entry in flight fails, in index order. */
  leadershipEnded(): void {
    const log = this.leader;
    if (log === null) return;
    this.leader = null;
    for (const index of log.entries.keys()) this.out.emit({ type: 'append-failed', term: log.term, index });
  }

  /** A follower confirmed entries. Counted only while this node still leads the ack's term. */
  onAck(from: number, ack: AppendAck, leadingTerm: number | null): void {
    const log = this.leader;
    if (log === null || ack.term !== log.term || leadingTerm !== log.term) return;
    if (ack.incarnation !== this.incarnation) return;
    // A follower cannot have confirmed what was never sent: ignore the claim rather than commit on it.
    if (ack.confirmed > log.next || ack.missing > log.next) return;
    if (ack.confirmed > (log.match.get(from) ?? 0)) log.match.set(from, ack.confirmed);
    if (ack.missing > 0 && ack.missing > (log.resentUpTo.get(from) ?? 0)) this.sendCatchUp(log, from);
    this.advanceCommit(log);
  }

  /** A link to `peer` came up: if leading with entries, bring it up to date (latest committed + in flight). */
  peerConnected(peer: number, leadingTerm: number | null): void {
    const log = this.leader;
    if (log === null || log.term !== leadingTerm) return;
    if (log.latest !== null || log.entries.size > 0) this.sendCatchUp(log, peer);
  }

  private leaderLog(term: number): LeaderLog {
    if (this.leader !== null && this.leader.term === term) return this.leader;
    this.leadershipEnded();
    this.follower = null;
    if (term > this.fence) this.fence = term;
    this.leader = {
      term,
      next: 0,
      entries: new Map(),
      bytes: 0,
      match: new Map(),
      committed: 0,
      latest: null,
      resentUpTo: new Map(),
    };
    return this.leader;
  }

  private advanceCommit(log: LeaderLog): void {
    const confirmed = [log.next, ...log.match.values()].sort((a, b) => b - a);
    const index = confirmed[this.majority - 1] ?? 0;
    if (index <= log.committed) return;
    for (let i = log.committed + 1; i <= index; i++) {
      const data = log.entries.get(i);
      if (data === undefined) continue;
      log.entries.delete(i);
      log.bytes -= data.length;
      log.latest = { index: i, data };
      this.out.emit({ type: 'committed', term: log.term, index: i });
    }
    log.committed = index;
    this.out.sendAll({ type: 'commit', term: log.term, incarnation: this.incarnation, index } satisfies Commit);
  }

  private sendCatchUp(log: LeaderLog, peer: number): void {
    log.resentUpTo.set(peer, log.next);
    if (log.latest !== null) {
      const { index, data } = log.latest;
      this.out.send(peer, {
        type: 'append',
        term: log.term,
        incarnation: this.incarnation,
        index,
        catchUp: true,
        data,
      } satisfies Append);
      this.out.send(peer, {
        type: 'commit',
        term: log.term,
        incarnation: this.incarnation,
        index: log.committed,
      } satisfies Commit);
    }
    for (const [index, data] of log.entries) {
      this.out.send(peer, {
        type: 'append',
        term: log.term,
        incarnation: this.incarnation,
        index,
        catchUp: false,
        data,
      } satisfies Append);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Follower side

  /** A peer leads `term` (its heartbeat said so): entries of lower terms are refused from now on. */
  learnLeaderTerm(term: number): void {
    if (term > this.fence) this.fence = term;
  }

  onAppend(from: number, m: Append): void {
    // While this node leads, it takes no one's entries: its own (term, index) numbering must stay unique, and a
    // higher term means its lease is over, which the core sees at its next step (then the leader log is gone).
    if (m.term < this.fence || this.leader !== null) {
      this.refusedStale++;
      return;
    }
    this.fence = m.term;
    let f = this.follower;
    if (f === null || m.term > f.term) {
      // The first entry of a term must be its first, or a catch-up: anything else follows entries we missed.
      if (m.index !== 1 && !m.catchUp) {
        this.reportGap(from, m, 0);
        return;
      }
      this.leadershipEnded();
      f = {
        term: m.term,
        leader: from,
        incarnation: m.incarnation,
        last: 0,
        confirmedUpTo: 0,
        unconfirmed: [],
        confirmedAhead: new Set(),
        uncommitted: [],
        committed: 0,
      };
      const early = this.earlyCommit;
      const sameLeadership = early !== null && early.leader === from && early.incarnation === m.incarnation;
      if (sameLeadership && early.term === m.term) f.committed = early.index;
      this.earlyCommit = null;
      this.follower = f;
    }
    if (f.leader !== from || f.incarnation !== m.incarnation) {
      // Also the same node restarted and reusing the term (no stateDir): its index 1 must not follow our index 12.
      // Terms are unique to one leadership; another sender for this term is not to be believed.
      this.refusedStale++;
      return;
    }
    if (m.index <= f.last) {
      // Already delivered (a catch-up overlapping what we have): say again how far we are.
      if (f.confirmedUpTo > 0) this.ack(f, 0);
      return;
    }
    if (m.index !== f.last + 1 && !m.catchUp) {
      this.reportGap(from, m, f.confirmedUpTo);
      return;
    }
    if (f.unconfirmed.length >= MAX_FOLLOWER_PENDING || f.uncommitted.length >= MAX_FOLLOWER_PENDING) {
      // The application is not keeping up: deliver nothing more; a later entry finds a gap and catches up.
      return;
    }
    f.last = m.index;
    this.lastDelivered = { term: m.term, index: m.index };
    f.unconfirmed.push(m.index);
    this.out.emit({
      type: 'delivered',
      term: m.term,
      index: m.index,
      data: m.data,
      catchUp: m.catchUp,
      leaderId: from,
    });
    if (m.index <= f.committed) this.out.emit({ type: 'committed', term: m.term, index: m.index });
    else f.uncommitted.push(m.index);
  }

  onCommit(from: number, m: Commit): void {
    const f = this.follower;
    if (m.term >= this.fence && (f === null || m.term > f.term) && this.leader === null) {
      if (this.earlyCommit === null || this.earlyCommit.term !== m.term || m.index > this.earlyCommit.index) {
        this.earlyCommit = { term: m.term, leader: from, incarnation: m.incarnation, index: m.index };
      }
      return;
    }
    if (f === null || m.term !== f.term || from !== f.leader || m.incarnation !== f.incarnation) return;
    if (m.index <= f.committed) return;
    f.committed = m.index;
    while (f.uncommitted.length > 0 && (f.uncommitted[0] as number) <= m.index) {
      this.out.emit({ type: 'committed', term: f.term, index: f.uncommitted.shift() as number });
    }
  }

  /** The application stored entry `(term, index)`: confirm it (cumulatively) to its leader. */
  confirm(term: number, index: number): void {
    const f = this.follower;
    if (f === null || f.term !== term || f.unconfirmed.length === 0) return;
    if (index < (f.unconfirmed[0] as number) || index > f.last) return;
    f.confirmedAhead.add(index);
    let advanced = false;
    while (f.unconfirmed.length > 0 && f.confirmedAhead.has(f.unconfirmed[0] as number)) {
      const done = f.unconfirmed.shift() as number;
      f.confirmedAhead.delete(done);
      f.confirmedUpTo = done;
      advanced = true;
    }
    if (advanced) this.ack(f, 0);
  }

  private reportGap(from: number, m: Append, confirmed: number): void {
    this.gaps++;
    this.out.send(from, {
      type: 'append-ack',
      term: m.term,
      incarnation: m.incarnation,
      confirmed,
      missing: m.index,
    } satisfies AppendAck);
  }

  private ack(f: FollowerLog, missing: number): void {
    this.out.send(f.leader, {
      type: 'append-ack',
      term: f.term,
      incarnation: f.incarnation,
      confirmed: f.confirmedUpTo,
      missing,
    } satisfies AppendAck);
  }

  status(): BroadcastStatus {
    return {
      inFlight: this.leader?.entries.size ?? 0,
      inFlightBytes: this.leader?.bytes ?? 0,
      committedIndex: this.leader?.committed ?? 0,
      fenceTerm: this.fence,
      lastDelivered: this.lastDelivered && { ...this.lastDelivered },
      refusedStale: this.refusedStale,
      gaps: this.gaps,
    };
  }
}
