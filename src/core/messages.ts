/**
 * Protocol messages exchanged between nodes. The sender's ID is not part of a message: it is the
 * authenticated peer ID of the link the message arrived on (see the transport handshake).
 * @module
 */

/** Sent to every peer each heartbeat interval: liveness plus what the sender can see and do. */
export interface Heartbeat {
  readonly type: 'heartbeat';
  /** Random per process start; a new value means the peer restarted and forgot its volatile state. */
  readonly incarnation: number;
  /** Past its restart wait: may grant votes and campaign. */
  readonly ready: boolean;
  /** Ready, not cooling down, and hears from a majority (itself included): it could win an election. */
  readonly canLead: boolean;
  /** Sent once by a node that is stopping gracefully. */
  readonly leaving: boolean;
  /** The sender's health verdict (its health check, `setHealthy`, not stalled): an unhealthy node cannot lead. */
  readonly healthy: boolean;
  /** The sender is a voter-only witness: it votes, never leads. */
  readonly voterOnly: boolean;
  /** The sender's `preempt` setting (every member should have the same; a mismatch is logged). */
  readonly preempt: boolean;
  /** Highest term the sender knows of. */
  readonly term: number;
  /** The sender's leadership term while it leads, else 0. */
  readonly leaderTerm: number;
  /** Peer IDs the sender currently hears from (observability; not used for safety). */
  readonly sees: readonly number[];
}

/** Asks for (or renews) the receiver's vote-lease for `term`. */
export interface VoteRequest {
  readonly type: 'vote-request';
  readonly term: number;
  readonly incarnation: number;
  /** Per-incarnation sequence number; the candidate maps it back to the request's send time. */
  readonly seq: number;
}

/** Why a vote was refused. */
export type RefusalReason = 'not-ready' | 'bound' | 'stale-term' | 'prefer-lower' | 'released' | 'stopping';

/** The answer to a {@link VoteRequest}. A refused request may still be granted later by a second reply. */
export interface VoteReply {
  readonly type: 'vote-reply';
  readonly term: number;
  /** The candidate's incarnation and request sequence number, echoed. */
  readonly incarnation: number;
  readonly seq: number;
  readonly granted: boolean;
  readonly reason: RefusalReason | null;
  /** The voter's highest granted term: a hint for a candidate whose term is stale. */
  readonly highestTerm: number;
  /** Whom the voter's current lease is granted to (0: nobody). */
  readonly holder: number;
}

/** Gives back every vote granted for requests up to `seq` of `incarnation`: the sender no longer counts them. */
export interface Release {
  readonly type: 'release';
  readonly incarnation: number;
  readonly seq: number;
}

/**
 * One broadcast entry, leader to followers (docs/protocol.md §12). Entries are ordered by `(term, index)`; the
 * index starts at 1 in every term. `catchUp` marks an entry the leader already committed, sent to a follower that
 * (re)connected or reported a gap: every entry of the term before it is committed too, so the follower may skip
 * to it.
 */
export interface Append {
  readonly type: 'append';
  readonly term: number;
  /**
   * The leader's incarnation: with `(term, leader)` it names one leadership even when a cluster restarted as a
   * whole without `stateDir` reuses a term (a follower refuses another leadership's entries of a term it follows).
   */
  readonly incarnation: number;
  readonly index: number;
  readonly catchUp: boolean;
  readonly data: Uint8Array;
}

/**
 * Follower to leader: every entry of `term` this follower delivered up to `confirmed` is confirmed (stored) by
 * its application (cumulative, so a lost ack is repaired by the next). `missing`, when not 0, is the index of an
 * entry that arrived after a gap: the leader answers with a catch-up.
 */
export interface AppendAck {
  readonly type: 'append-ack';
  readonly term: number;
  /** The leader's incarnation, echoed: an ack counts only for the leadership that sent the entries. */
  readonly incarnation: number;
  readonly confirmed: number;
  readonly missing: number;
}

/** Leader to followers: every entry of `term` up to `index` is confirmed by a majority (the leader included). */
export interface Commit {
  readonly type: 'commit';
  readonly term: number;
  /** The leader's incarnation. */
  readonly incarnation: number;
  readonly index: number;
}

export type Message = Heartbeat | VoteRequest | VoteReply | Release | Append | AppendAck | Commit;
