import type { LostLeadershipReason } from '../node/events.ts';
import { BROADCAST_DEFAULTS, Broadcast, type BroadcastEvent, type BroadcastStatus } from './broadcast.ts';
import { MAX_TERM } from './codec.ts';
import { type CoreConfig, deriveTiming, type Timing } from './config.ts';
import type { Heartbeat, Message, Release, VoteReply, VoteRequest } from './messages.ts';
import { PeerView } from './peer-view.ts';
import { type PersistedState, Voter, type VoterContext, type VoterSnapshot } from './voter.ts';

/**
 * The election protocol as a pure, deterministic state machine: a bully election with a majority quorum,
 * made safe with vote-leases and fencing terms (docs/protocol.md). No sockets, timers or clock reads:
 * every method takes `now` (this node's monotonic clock, ms) and returns the {@link Effects} to apply.
 * @module
 */

/** Something the adapter turns into a public event. */
export type CoreEvent =
  | { readonly type: 'gained'; readonly term: number }
  | {
      readonly type: 'lost';
      readonly term: number;
      readonly reason: LostLeadershipReason;
      /**
       * Set when the lease had already run out before the call that reports the loss (the process was paused or
       * starved): the time, on this node's clock, at which the leadership really ended. Absent: it ended at `now`.
       */
      readonly lapsedAt?: number;
    }
  | { readonly type: 'leader'; readonly leaderId: number | null; readonly term: number }
  /** Broadcast (append/commit) outcomes and deliveries; see src/core/broadcast.ts. */
  | BroadcastEvent;

export interface Outgoing {
  readonly to: number;
  readonly message: Message;
}

/**
 * What one call asks the adapter to do. `applyEffects` (src/node/apply-effects.ts) does it, in the order documented
 * there and in docs/protocol.md: write `persist` to stable storage (when set) and report the outcome with
 * {@link ElectionCore.persistDone} before anything else, then emit `lost` events, send `messages`, emit the other
 * events, and call `tick` again at `wakeAt` (or earlier, on any input).
 */
export interface Effects {
  readonly persist: PersistedState | null;
  readonly messages: readonly Outgoing[];
  readonly events: readonly CoreEvent[];
  readonly wakeAt: number;
}

/** A node's part in the election: following a leader (or none), asking for votes, or leading. */
export type Role = 'follower' | 'candidate' | 'leader';

/**
 * What readers of `isLeader` and `leaderId` need, published after every call (`applyEffects` step 2), in the
 * node's clock: valid until the next call, with no clock read needed by the reader beyond comparing against it.
 */
export interface LeadershipView {
  /** This node's lease end while it leads (exclusive); -Infinity when it does not. */
  readonly leaseExpiry: number;
  /** Term of the current (or last known) leadership. */
  readonly term: number;
  /** The leader seen at the time of the call (this node, a peer) or null. */
  readonly leaderId: number | null;
  /** Until when `leaderId` stays true without news: the lease end, or a peer's silence bound. */
  readonly leaderUntil: number;
}

/** A plain, JSON-serialisable snapshot of the core (part of `ElectionNode.status()`). */
export interface CoreStatus {
  /** This node's ID. */
  id: number;
  /** Follower, candidate or leader. */
  role: Role;
  /** Whether this node leads (holds an unexpired majority lease) at the moment of the snapshot. */
  isLeader: boolean;
  /** The leader as this node sees it (possibly itself), or null while none is known. */
  leaderId: number | null;
  /** Term of the current leadership (or the last one known), the fencing token. */
  term: number;
  /** Highest term seen anywhere. */
  highestTermSeen: number;
  /** Whether this node may vote: false for one lease after start (it may have forgotten votes it gave). */
  ready: boolean;
  /** Whether this node may campaign now (ready, healthy, not voter-only, sees a majority). */
  canLead: boolean;
  /** Why this node cannot campaign right now, or null when it can (see {@link CannotLeadReason}). */
  cannotLead: CannotLeadReason | null;
  /** The health verdict the core was last given (a health check and `setHealthy`; see `health` for details). */
  healthy: boolean;
  /** This node votes but never campaigns or leads (the `voterOnly` option). */
  voterOnly: boolean;
  /** While nobody leads: why, in words (e.g. every member that could lead is unhealthy); null otherwise. */
  noLeaderReason: string | null;
  /** Remaining leadership lease, ms (0 unless leader). */
  leaseRemainingMs: number;
  /** Whom this node's own vote-lease is granted to, and for how much longer. */
  vote: {
    /** The candidate this node's vote-lease is granted to. */
    holder: number;
    /** The term the vote was granted for. */
    term: number;
    /** Time left on the vote-lease, ms. */
    remainingMs: number;
  } | null;
  /** Every configured peer as this node sees it. */
  peers: PeerStatus[];
  /** The broadcast's counters: entries in flight (leader), the fence term, the last entry delivered. */
  broadcast: BroadcastStatus;
}

/**
 * Why a node cannot campaign: it is a witness (`voter-only`), its health check or `setHealthy` says it is not fit
 * (`unhealthy`), its application stalled (`stalled`), it is in its restart wait (`not-ready`), it lost an election
 * and lets others try (`cooling-down`), or it hears from less than a majority (`no-majority`); `stopped` after stop.
 */
export type CannotLeadReason =
  | 'voter-only'
  | 'unhealthy'
  | 'stalled'
  | 'not-ready'
  | 'cooling-down'
  | 'no-majority'
  | 'stopped';

/** One peer as this node sees it, from its heartbeats. */
export interface PeerStatus {
  /** The peer's ID (learned at the handshake). */
  id: number;
  /** Heard from within the peer timeout. */
  alive: boolean;
  /** The peer may vote (it has been up for a lease), per its last heartbeat. */
  ready: boolean;
  /** The peer may campaign, per its last heartbeat. */
  canLead: boolean;
  /** The peer's health verdict, per its last heartbeat (true until heard otherwise). */
  healthy: boolean;
  /** The peer is a voter-only witness, per its last heartbeat. */
  voterOnly: boolean;
  /** How long ago the peer was last heard from, ms; null if never. */
  lastHeardMsAgo: number | null;
  /** Peer IDs that this peer hears from, per its last heartbeat. */
  sees: number[];
}

interface Candidacy {
  readonly term: number;
  readonly startedAt: number;
  /** Send time of each vote request of this candidacy, by seq (a vote counts from its request's send time). */
  readonly sent: Map<number, number>;
  /** Per voter (this node included): until when its vote may be counted, on this node's clock. */
  readonly votes: Map<number, number>;
}

export class ElectionCore {
  readonly id: number;
  private readonly config: CoreConfig;
  private readonly timing: Timing;
  private readonly voter: Voter;
  private readonly peers: PeerView;
  /** Leader-serialized broadcast (append/confirm/commit); idle, and free, until used. */
  private readonly appends: Broadcast;

  private role: Role = 'follower';
  private started = false;
  private stopping = false;
  private readyAt = Number.POSITIVE_INFINITY;
  private knownTerm: number;
  private seq = 0;
  private candidacy: Candidacy | null = null;
  /** Leader only: the majority-th latest vote expiry. */
  private leaseExpiry = Number.NEGATIVE_INFINITY;
  private cooldownUntil = Number.NEGATIVE_INFINITY;
  /** When this node last became able to campaign (null while it cannot); see {@link campaignAt}. */
  private eligibleSince: number | null = null;
  private nextHeartbeatAt = Number.NEGATIVE_INFINITY;
  /** When this node last broadcast a scheduled heartbeat (see {@link step}). */
  private lastHeartbeatAt = Number.NEGATIVE_INFINITY;
  /** A follower answered a vote request in this call: its heartbeat may ride along (docs/protocol.md §14). */
  private answered = false;
  /** What the last broadcast heartbeat said, to re-broadcast at once when it changes. */
  private advertised = '';
  private leaderHint: { id: number; term: number; at: number } | null = null;
  /** The application's thread stopped running (worker mode, `maxStallMs`): it may not lead. See setStalled. */
  private stalled = false;
  /** The service's health verdict (health check and `setHealthy`): an unhealthy node may not lead. See setHealthy. */
  private healthy = true;
  private reportedLeader: number | null = null;
  private lastLeaderTerm = 0;

  /**
   * Vote replies (this node's own vote included) granted under a `persist` not yet confirmed: they leave, and
   * count, only once {@link persistDone} reports the write succeeded. `before` undoes the grants if it failed.
   */
  private durable: { before: VoterSnapshot; replies: { to: number; reply: VoteReply }[] } | null = null;

  // The effects being collected by the current call.
  private persistOut: PersistedState | null = null;
  private messagesOut: Outgoing[] = [];
  private eventsOut: CoreEvent[] = [];

  constructor(config: CoreConfig, persisted?: PersistedState) {
    this.id = config.id;
    this.config = config;
    this.timing = deriveTiming(config);
    this.voter = new Voter(config.leaseMs, persisted);
    this.peers = new PeerView(config.peerTimeoutMs);
    this.knownTerm = persisted?.highestTerm ?? 0;
    this.lastLeaderTerm = 0;
    this.appends = new Broadcast(config.incarnation, this.timing.majority, config.broadcast ?? BROADCAST_DEFAULTS, {
      send: (to, message) => this.messagesOut.push({ to, message }),
      sendAll: (message) => this.broadcast(message),
      emit: (event) => this.eventsOut.push(event),
    });
  }

  /**
   * Starts the node. It grants no vote, not even to itself, until one full lease has passed: a restarted node
   * has forgotten the votes it granted before it died, and they may still be counted by someone.
   */
  start(now: number): Effects {
    if (!this.started) {
      this.started = true;
      this.readyAt = now + this.config.leaseMs;
      this.nextHeartbeatAt = now;
    }
    return this.finish(now);
  }

  /** Call at (or after) `wakeAt`; timers firing late are fine, everything is checked against `now`. */
  tick(now: number): Effects {
    return this.finish(now);
  }

  /** The transport established a link to `peerId`. */
  peerConnected(peerId: number, now: number): Effects {
    if (this.active() && peerId !== this.id) {
      const peer = this.peers.get(peerId);
      peer.connected = true;
      // Tell the newcomer at once who we are and what we can do, rather than at the next heartbeat.
      this.messagesOut.push({ to: peerId, message: this.heartbeat(now, false) });
      this.appends.peerConnected(peerId, this.leadingTerm(now));
    }
    return this.finish(now);
  }

  /** The transport lost the link to `peerId`. */
  peerDisconnected(peerId: number, now: number): Effects {
    if (this.active() && this.peers.has(peerId)) {
      this.peers.get(peerId).connected = false;
      this.voter.forget(peerId);
      if (this.leaderHint?.id === peerId) this.leaderHint = null;
    }
    return this.finish(now);
  }

  /**
   * Reports whether the `persist` of the Effects just returned reached stable storage. Must follow every Effects
   * whose `persist` is set, before any other input (`applyEffects` does so). On success the vote replies that
   * waited for the write leave, and this node counts its own vote; on failure those grants are undone as if never
   * made, so a vote that is not durable is neither counted nor sent (a candidate asks again at its next round).
   */
  persistDone(ok: boolean, now: number): Effects {
    const durable = this.durable;
    this.durable = null;
    if (durable !== null) {
      if (!ok) this.voter.restore(durable.before);
      else if (this.active()) {
        for (const { to, reply } of durable.replies) {
          if (to === this.id) this.handleReply(this.id, reply, now);
          else this.messagesOut.push({ to, message: reply });
        }
      }
    }
    return this.finish(now);
  }

  /**
   * The application that embeds this node stopped making progress (its event loop has not run for `maxStallMs`),
   * or runs again. A stalled node must not lead: a leader steps down at once (`'stalled'`) and releases its votes,
   * so the next node takes over within a round trip; it keeps voting, and campaigns again once no longer stalled.
   */
  setStalled(stalled: boolean, now: number): Effects {
    this.stalled = stalled;
    return this.finish(now);
  }

  /**
   * The node's health verdict changed (its health check with fall/rise, combined with `setHealthy`). An unhealthy
   * node must not lead: a leader steps down at once (`'unhealthy'`) and releases its votes, so the next node takes
   * over within a round trip; it keeps voting (the quorum is unaffected), advertises that it cannot lead, and
   * campaigns again once healthy. Only who campaigns changes, so safety does not depend on it.
   */
  setHealthy(healthy: boolean, now: number): Effects {
    this.healthy = healthy;
    return this.finish(now);
  }

  /** A message arrived from `from` (the authenticated ID of the link it came on). */
  receive(from: number, message: Message, now: number): Effects {
    if (this.active() && from !== this.id) {
      this.peers.heard(from, now);
      switch (message.type) {
        case 'heartbeat':
          this.onHeartbeat(from, message, now);
          break;
        case 'vote-request':
          this.onVoteRequest(from, message, now);
          break;
        case 'vote-reply':
          this.onVoteReply(from, message, now);
          break;
        case 'release':
          this.onRelease(from, message);
          break;
        case 'append':
          this.appends.onAppend(from, message);
          break;
        case 'append-ack':
          this.appends.onAck(from, message, this.leadingTerm(now));
          break;
        case 'commit':
          this.appends.onCommit(from, message);
          break;
      }
    }
    return this.finish(now);
  }

  /**
   * The application asks to broadcast `data` (leader only). Answered by an `append-accepted` event carrying
   * `requestId` and the entry's `(term, index)`, or `append-refused`; later `committed` or `append-failed`.
   */
  append(requestId: number, data: Uint8Array, now: number): Effects {
    if (this.active()) this.appends.append(requestId, data, this.leadingTerm(now));
    else this.appends.append(requestId, data, null);
    return this.finish(now);
  }

  /** The application stored the delivered entry `(term, index)`: confirm it to the leader. */
  confirmAppend(term: number, index: number, now: number): Effects {
    if (this.active()) this.appends.confirm(term, index);
    return this.finish(now);
  }

  /**
   * Graceful stop: a leader steps down and releases its votes so a peer can take over within a round trip,
   * and every peer is told this node is leaving. The core ignores all input afterwards.
   */
  stop(now: number): Effects {
    if (this.active()) {
      if (this.role === 'leader') this.stepDown(now, 'stopped');
      else if (this.role === 'candidate') this.abandon(now, false);
      this.stopping = true;
      this.broadcast(this.heartbeat(now, true));
      if (this.reportedLeader !== null) {
        this.reportedLeader = null;
        this.eventsOut.push({ type: 'leader', leaderId: null, term: this.lastLeaderTerm });
      }
    }
    const effects = this.finish(now);
    return { ...effects, wakeAt: Number.POSITIVE_INFINITY };
  }

  /** Whether this node is leader at `now`, judged against its lease at that very moment. */
  isLeaderAt(now: number): boolean {
    return this.role === 'leader' && now < this.leaseExpiry;
  }

  /** The leader as seen at `now` (this node, a peer, or null). */
  leaderAt(now: number): number | null {
    if (this.isLeaderAt(now)) return this.id;
    const hint = this.leaderHint;
    if (hint === null || now - hint.at >= this.config.peerTimeoutMs) return null;
    return this.peers.alive(this.peers.get(hint.id), now) ? hint.id : null;
  }

  /** The leadership view at `now`, for readers on another thread (see {@link LeadershipView}). */
  view(now: number): LeadershipView {
    const leaderId = this.leaderAt(now);
    let leaderUntil = Number.NEGATIVE_INFINITY;
    if (leaderId === this.id) leaderUntil = this.leaseExpiry;
    else if (leaderId !== null && this.leaderHint !== null) {
      const heard = this.peers.get(leaderId).lastHeardAt ?? this.leaderHint.at;
      leaderUntil = Math.min(this.leaderHint.at, heard) + this.config.peerTimeoutMs;
    }
    return {
      leaseExpiry: this.role === 'leader' ? this.leaseExpiry : Number.NEGATIVE_INFINITY,
      term: this.lastLeaderTerm,
      leaderId,
      leaderUntil,
    };
  }

  /** The fencing term of the current (or last known) leadership. */
  get term(): number {
    return this.lastLeaderTerm;
  }

  get persisted(): PersistedState {
    return this.voter.persisted;
  }

  status(now: number): CoreStatus {
    const grant = this.voter.grantAt(now);
    return {
      id: this.id,
      role: this.role,
      isLeader: this.isLeaderAt(now),
      leaderId: this.leaderAt(now),
      term: this.lastLeaderTerm,
      highestTermSeen: Math.max(this.knownTerm, this.voter.highestTerm),
      ready: this.isReady(now),
      canLead: this.canLead(now),
      cannotLead: this.cannotLead(now),
      healthy: this.healthy,
      voterOnly: this.config.voterOnly === true,
      noLeaderReason: this.noLeaderReason(now),
      leaseRemainingMs: this.isLeaderAt(now) ? Math.max(0, this.leaseExpiry - now) : 0,
      vote: grant && { holder: grant.holder, term: grant.term, remainingMs: Math.max(0, grant.expiresAt - now) },
      peers: this.peers.all().map((peer) => ({
        id: peer.id,
        alive: this.peers.alive(peer, now),
        ready: peer.heartbeat?.ready ?? false,
        canLead: peer.heartbeat?.canLead ?? false,
        healthy: peer.heartbeat?.healthy ?? true,
        voterOnly: peer.heartbeat?.voterOnly ?? false,
        lastHeardMsAgo: peer.lastHeardAt === null ? null : Math.max(0, now - peer.lastHeardAt),
        sees: [...(peer.heartbeat?.sees ?? [])],
      })),
      broadcast: this.appends.status(),
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Inputs

  private onHeartbeat(from: number, hb: Heartbeat, now: number): void {
    const peer = this.peers.get(from);
    if (peer.incarnation !== null && peer.incarnation !== hb.incarnation) {
      // The peer restarted: whatever it was doing before is void.
      peer.lastRequestAt = null;
      this.voter.forget(from);
      if (this.leaderHint?.id === from) this.leaderHint = null;
    }
    peer.incarnation = hb.incarnation;
    peer.heartbeat = hb;
    if (hb.leaderTerm > 0) this.appends.learnLeaderTerm(hb.leaderTerm);
    peer.leaving = hb.leaving;
    this.learnTerm(Math.max(hb.term, hb.leaderTerm));
    if (hb.leaving) {
      peer.lastRequestAt = null;
      this.voter.forget(from);
    }
    if (hb.leaderTerm > 0) {
      const hint = this.leaderHint;
      if (hint === null || hint.id === from || hb.leaderTerm >= hint.term) {
        this.leaderHint = { id: from, term: hb.leaderTerm, at: now };
      }
    } else if (this.leaderHint?.id === from) {
      this.leaderHint = null;
    }
  }

  private onVoteRequest(from: number, request: VoteRequest, now: number): void {
    this.peers.get(from).lastRequestAt = now;
    this.answered = true;
    this.learnTerm(request.term);
    // Bully rule: a lower ID asking for votes means it can lead; step aside and free our votes for it. Without
    // preemption a leader holding its lease keeps it (the lower node campaigns only when it sees no leader).
    if (from < this.id) {
      if (this.role === 'leader' && (this.preempts() || now >= this.leaseExpiry)) this.stepDown(now, 'preempted');
      else if (this.role === 'candidate') this.abandon(now, false);
    }
    this.handleRequest(from, request, now, true);
  }

  private onVoteReply(from: number, reply: VoteReply, now: number): void {
    this.learnTerm(reply.highestTerm);
    this.handleReply(from, reply, now);
  }

  private onRelease(from: number, release: Release): void {
    this.voter.release(from, release.incarnation, release.seq);
    this.peers.get(from).lastRequestAt = null;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Voter side

  private voterContext(now: number): VoterContext {
    return {
      ready: this.isReady(now),
      stopping: this.stopping,
      lowerCampaigner: (candidate) => {
        // Without preemption the renewal of a live leader is not refused for a lower campaigner: the bully order
        // applies only to elections that happen anyway. (A preference only: the grant rules keep safety.)
        if (!this.preempts() && this.leaderAt(now) === candidate && this.voter.grantAt(now)?.holder === candidate) {
          return null;
        }
        if (this.role !== 'follower' && this.id < candidate) return this.id;
        return this.peers.lowestCampaignerBelow(candidate, now, this.timing.campaignWindowMs);
      },
    };
  }

  /** Decides a request; replies at once when `replyNow`, otherwise only if it is granted. */
  private handleRequest(from: number, request: VoteRequest, now: number, replyNow: boolean): void {
    const decision = this.voter.decide(from, request, now, this.voterContext(now));
    if (decision.granted) {
      const before = this.voter.snapshot();
      if (this.voter.grant(from, request, now)) {
        this.persistOut = this.voter.persisted;
        this.durable ??= { before, replies: [] };
      }
    } else {
      this.voter.remember(from, request, now);
      if (!replyNow) return;
    }
    const grant = this.voter.grantAt(now);
    const reply: VoteReply = {
      type: 'vote-reply',
      term: request.term,
      incarnation: request.incarnation,
      seq: request.seq,
      granted: decision.granted,
      reason: decision.granted ? null : decision.reason,
      highestTerm: this.voter.highestTerm,
      holder: grant?.holder ?? 0,
    };
    // A grant made while a write is pending rests on it: it waits for persistDone() like the grant that wrote.
    if (decision.granted && this.durable !== null) this.durable.replies.push({ to: from, reply });
    else if (from === this.id) this.handleReply(this.id, reply, now);
    else this.messagesOut.push({ to: from, message: reply });
  }

  /** Grants a remembered request the moment the voter is free again (lease ended, release, restart wait over). */
  private grantPending(now: number): void {
    for (const entry of this.voter.freshPending(now, this.timing.campaignWindowMs)) {
      if (entry.from !== this.id && !this.peers.alive(this.peers.get(entry.from), now)) continue;
      this.handleRequest(entry.from, entry.request, now, false);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Candidate and leader side

  private handleReply(from: number, reply: VoteReply, now: number): void {
    const candidacy = this.candidacy;
    if (candidacy === null || reply.incarnation !== this.config.incarnation || reply.term !== candidacy.term) return;
    const sentAt = candidacy.sent.get(reply.seq);
    if (sentAt === undefined) return;
    if (reply.granted) {
      const until = sentAt + this.timing.safeLeaseMs;
      candidacy.votes.set(from, Math.max(candidacy.votes.get(from) ?? Number.NEGATIVE_INFINITY, until));
      this.countVotes(now);
    } else if (reply.reason === 'stale-term' && reply.highestTerm >= candidacy.term && this.role === 'candidate') {
      // Our term is behind a voter's: campaign again above it, at once.
      this.abandon(now, false);
      this.campaign(now);
    }
  }

  private countVotes(now: number): void {
    const candidacy = this.candidacy;
    if (candidacy === null) return;
    const expiries = [...candidacy.votes.values()].filter((until) => until > now).sort((a, b) => b - a);
    const majorityExpiry = expiries[this.timing.majority - 1] ?? Number.NEGATIVE_INFINITY;
    if (this.role === 'leader') {
      // A lapsed lease is not revived by late votes: the node was not leader in the gap, and must say so (step()
      // reports the loss) rather than appear to have led throughout while another node may have led meanwhile.
      if (now < this.leaseExpiry) this.leaseExpiry = majorityExpiry;
    } else if (this.role === 'candidate' && majorityExpiry > now) {
      this.role = 'leader';
      this.leaseExpiry = majorityExpiry;
      this.lastLeaderTerm = candidacy.term;
      this.eventsOut.push({ type: 'gained', term: candidacy.term });
      this.broadcast(this.heartbeat(now, false));
    }
  }

  private campaign(now: number): void {
    const term = Math.max(this.knownTerm, this.voter.highestTerm) + 1;
    // Unreachable in practice (the codec refuses larger terms); a term that cannot be sent must not be used.
    if (term > MAX_TERM) return;
    this.knownTerm = term;
    this.role = 'candidate';
    this.candidacy = { term, startedAt: now, sent: new Map(), votes: new Map() };
    this.requestVotes(now);
  }

  /** Sends one round of vote requests (renewals, for a leader) to every peer and to this node's own voter. */
  private requestVotes(now: number): void {
    const candidacy = this.candidacy;
    if (candidacy === null) return;
    const seq = ++this.seq;
    candidacy.sent.set(seq, now);
    // A request older than a lease can no longer yield a countable vote.
    for (const [oldSeq, sentAt] of candidacy.sent) {
      if (now - sentAt > this.config.leaseMs) candidacy.sent.delete(oldSeq);
    }
    const request: VoteRequest = {
      type: 'vote-request',
      term: candidacy.term,
      incarnation: this.config.incarnation,
      seq,
    };
    this.broadcast(request);
    this.handleRequest(this.id, request, now, true);
  }

  private stepDown(now: number, reason: LostLeadershipReason): void {
    const term = this.candidacy?.term ?? this.lastLeaderTerm;
    const lapsedAt = this.leaseExpiry < now ? this.leaseExpiry : undefined;
    this.abandon(now, false);
    this.appends.leadershipEnded();
    this.eventsOut.push(
      lapsedAt === undefined ? { type: 'lost', term, reason } : { type: 'lost', term, reason, lapsedAt },
    );
  }

  /**
   * Stops counting every vote of the current candidacy, then tells the voters they are free. The order matters:
   * a vote is given back only once it can no longer make this node leader.
   */
  private abandon(now: number, coolDown: boolean): void {
    this.role = 'follower';
    this.candidacy = null;
    this.leaseExpiry = Number.NEGATIVE_INFINITY;
    if (coolDown) this.cooldownUntil = now + this.timing.cooldownMs;
    const release: Release = { type: 'release', incarnation: this.config.incarnation, seq: this.seq };
    this.broadcast(release);
    this.voter.release(this.id, release.incarnation, release.seq);
  }

  // ---------------------------------------------------------------------------------------------------------
  // The step run after every input

  private finish(now: number): Effects {
    if (this.active()) this.step(now);
    const effects: Effects = {
      persist: this.persistOut,
      messages: this.messagesOut,
      events: this.eventsOut,
      wakeAt: this.active() ? this.wakeAt(now) : Number.POSITIVE_INFINITY,
    };
    this.persistOut = null;
    this.messagesOut = [];
    this.eventsOut = [];
    return effects;
  }

  private step(now: number): void {
    if (this.role === 'leader' && now >= this.leaseExpiry) this.stepDown(now, 'lease-expired');
    if (this.role === 'leader' && this.stalled) this.stepDown(now, 'stalled');
    if (this.role === 'leader' && !this.healthy) this.stepDown(now, 'unhealthy');

    this.grantPending(now);

    const shouldCampaign = this.canLead(now) && this.peers.lowestViableBelow(this.id, now) === null;
    if (!shouldCampaign) this.eligibleSince = null;
    else if (this.eligibleSince === null) this.eligibleSince = now;
    if (this.role === 'follower' && shouldCampaign && now >= this.campaignAt(now)) {
      this.campaign(now);
    } else if (this.role === 'candidate') {
      // Without preemption a candidate that learns of a live leader (a race with its election) gives way to it.
      if (!shouldCampaign || (!this.preempts() && this.incumbent(now) !== null)) this.abandon(now, false);
      else if (now - (this.candidacy?.startedAt ?? now) > this.timing.candidacyTimeoutMs) this.abandon(now, true);
    }

    const interval = this.config.heartbeatIntervalMs;
    // A follower answering a renewal sends its heartbeat with the reply, in the same write, when half an interval
    // has passed since its last one, and then holds its own schedule back a little so the next renewal comes
    // first again: one write per peer per interval instead of two (docs/protocol.md §14).
    const answered = this.answered && this.role === 'follower';
    this.answered = false;
    const alongReply = answered && now - this.lastHeartbeatAt >= interval / 2;
    if (now >= this.nextHeartbeatAt || alongReply) {
      // A timer that fired late re-bases the schedule instead of bursting to catch up.
      this.nextHeartbeatAt = Math.max(this.nextHeartbeatAt + interval, now);
      if (this.nextHeartbeatAt <= now) this.nextHeartbeatAt = now + interval;
      this.lastHeartbeatAt = now;
      this.broadcast(this.heartbeat(now, false));
      if (this.role !== 'follower') this.requestVotes(now);
    } else {
      const hb = this.heartbeat(now, false);
      if (this.describe(hb) !== this.advertised) this.broadcast(hb);
    }

    if (answered) this.nextHeartbeatAt = this.lastHeartbeatAt + interval + this.timing.heartbeatSlackMs;

    this.reportLeader(now);
  }

  private reportLeader(now: number): void {
    const leaderId = this.leaderAt(now);
    if (leaderId !== null && leaderId !== this.id && this.leaderHint !== null) {
      this.lastLeaderTerm = this.leaderHint.term;
    }
    if (leaderId === this.reportedLeader) return;
    this.reportedLeader = leaderId;
    this.eventsOut.push({ type: 'leader', leaderId, term: this.lastLeaderTerm });
  }

  /**
   * A node that just became able to campaign waits one heartbeat interval per live lower-ID peer, so that when
   * several turn ready together (a cold start) the lowest goes first and the others see it and defer, instead of
   * all campaigning at once and burning terms. The lowest live node waits nothing, so failover is not slowed.
   */
  private campaignAt(now: number): number {
    if (this.eligibleSince === null) return Number.POSITIVE_INFINITY;
    // Peers known unable to lead (witnesses, unhealthy) do not count: they will not go first.
    const rank = this.peers
      .all()
      .filter((p) => p.id < this.id && this.peers.alive(p, now) && p.heartbeat?.voterOnly !== true)
      .filter((p) => p.heartbeat?.healthy !== false).length;
    const at = this.eligibleSince + rank * this.config.heartbeatIntervalMs;
    // Displacing a live leader moves the IP (seconds of outage on a cloud): never without preemption, and with
    // `preemptDelayMs` only once this node has been able to lead that long, so a flapping node does not bounce it.
    if (this.incumbent(now) === null) return at;
    if (!this.preempts()) return Number.POSITIVE_INFINITY;
    return Math.max(at, this.eligibleSince + (this.config.preemptDelayMs ?? 0));
  }

  /** A live leader other than this node, as seen now: campaigning would displace it. */
  private incumbent(now: number): number | null {
    const leader = this.leaderAt(now);
    return leader !== null && leader !== this.id ? leader : null;
  }

  private preempts(): boolean {
    return this.config.preempt !== false;
  }

  private wakeAt(now: number): number {
    let wake = this.nextHeartbeatAt;
    if (this.role === 'follower' && this.campaignAt(now) > now) wake = Math.min(wake, this.campaignAt(now));
    if (this.role === 'leader') wake = Math.min(wake, this.leaseExpiry);
    if (this.readyAt > now) wake = Math.min(wake, this.readyAt);
    if (this.cooldownUntil > now) wake = Math.min(wake, this.cooldownUntil);
    const grantEnd = this.voter.grantExpiresAt;
    if (grantEnd !== null && grantEnd > now) wake = Math.min(wake, grantEnd);
    return wake;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Helpers

  private active(): boolean {
    return this.started && !this.stopping;
  }

  private isReady(now: number): boolean {
    return this.started && !this.stopping && now >= this.readyAt;
  }

  private canLead(now: number): boolean {
    return this.cannotLead(now) === null;
  }

  private cannotLead(now: number): CannotLeadReason | null {
    if (!this.active()) return 'stopped';
    if (this.config.voterOnly === true) return 'voter-only';
    if (this.stalled) return 'stalled';
    if (!this.healthy) return 'unhealthy';
    if (!this.isReady(now)) return 'not-ready';
    if (now < this.cooldownUntil) return 'cooling-down';
    if (1 + this.peers.aliveIds(now).length < this.timing.majority) return 'no-majority';
    return null;
  }

  /**
   * While nobody leads, why: which members could not lead, by their own word (heartbeats) and this node's. Only
   * the members heard from are named; the rest are down or unreachable from here.
   */
  private noLeaderReason(now: number): string | null {
    if (!this.active() || this.leaderAt(now) !== null || this.role !== 'follower') return null;
    const parts = [`${this.id} ${this.cannotLead(now) ?? 'can lead'}`];
    for (const peer of this.peers.all()) {
      if (!this.peers.alive(peer, now)) parts.push(`${peer.id} unreachable`);
      else if (peer.heartbeat?.voterOnly) parts.push(`${peer.id} voter-only`);
      else if (peer.heartbeat?.healthy === false) parts.push(`${peer.id} unhealthy`);
      else parts.push(`${peer.id} ${peer.heartbeat?.canLead ? 'can lead' : 'cannot lead yet'}`);
    }
    return `no leader: ${parts.join(', ')}`;
  }

  /** This node's leadership term if it leads at `now` (lease checked at this very moment), else null. */
  private leadingTerm(now: number): number | null {
    return this.isLeaderAt(now) ? this.lastLeaderTerm : null;
  }

  private learnTerm(term: number): void {
    if (term > this.knownTerm) this.knownTerm = term;
  }

  private heartbeat(now: number, leaving: boolean): Heartbeat {
    const hb: Heartbeat = {
      type: 'heartbeat',
      incarnation: this.config.incarnation,
      ready: !leaving && this.isReady(now),
      canLead: !leaving && this.canLead(now),
      leaving,
      healthy: this.healthy && !this.stalled,
      voterOnly: this.config.voterOnly === true,
      preempt: this.preempts(),
      term: Math.max(this.knownTerm, this.voter.highestTerm),
      leaderTerm: !leaving && this.isLeaderAt(now) ? this.lastLeaderTerm : 0,
      sees: this.peers.aliveIds(now),
    };
    return hb;
  }

  /** The parts of a heartbeat whose change is worth telling peers about before the next interval. */
  private describe(hb: Heartbeat): string {
    return `${hb.ready}/${hb.canLead}/${hb.leaderTerm}/${hb.healthy}`;
  }

  private broadcast(message: Message): void {
    if (message.type === 'heartbeat') this.advertised = this.describe(message);
    for (const id of this.peers.ids()) this.messagesOut.push({ to: id, message });
  }
}
