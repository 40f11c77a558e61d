/**
 * The transport's link table: at most one logical link per peer node, the connection carrying it, and what to
 * do when another authenticated connection to the same node appears (decided by `link-policy.ts`). Messages sent
 * while a peer swaps the connection under a link are queued and flushed to the replacement.
 * @module
 */
import type { Connection } from './connection.ts';
import type { PeerInfo } from './handshake.ts';
import { type ConnectionFacts, decideLink, type ExistingLink, identityAddress } from './link-policy.ts';

/** One logical link to a peer process. */
export interface Link {
  peerId: number;
  advertised: string;
  address: string;
  incarnation: string;
  maxFrameBytes: number;
  /** The connection carrying the link; undefined while the peer retired it and its replacement is on the way. */
  active: Connection | undefined;
  /** Messages sent while waiting for the replacement, flushed to it. */
  queue: Uint8Array[];
  queuedBytes: number;
  graceTimer: NodeJS.Timeout | undefined;
}

/** What the link table needs from its transport. */
export interface LinkTableHooks {
  up(peerId: number, advertised: string): void;
  down(peerId: number): void;
  log(format: string, ...args: unknown[]): void;
}

/** The decision for a connection that just authenticated, from {@link LinkTable.decide}. */
export type LinkDecisionFor = ReturnType<typeof decideLink>;

export class LinkTable {
  readonly #links = new Map<number, Link>();
  readonly #connected = new Set<number>();

  constructor(
    private readonly localId: number,
    private readonly clusterSize: number,
    /** How long a link retired by the peer waits for its replacement before it counts as down. */
    private readonly graceMs: number,
    /** Most bytes queued for a link waiting for its replacement. */
    private readonly maxQueuedBytes: number,
    private readonly hooks: LinkTableHooks,
  ) {}

  /** Peers with an established link. */
  get connected(): ReadonlySet<number> {
    return this.#connected;
  }

  get size(): number {
    return this.#links.size;
  }

  get(peerId: number): Link | undefined {
    return this.#links.get(peerId);
  }

  has(peerId: number): boolean {
    return this.#links.has(peerId);
  }

  values(): IterableIterator<Link> {
    return this.#links.values();
  }

  /** The link-policy decision for `connection` to `peer` (both at admission and once established). */
  decide(connection: Connection, peer: PeerInfo): { decision: LinkDecisionFor; facts: ConnectionFacts } {
    const facts = factsOf(connection, peer);
    const decision = decideLink(
      this.localId,
      peer.nodeId,
      facts,
      this.#existing(peer.nodeId),
      this.#links.size,
      this.clusterSize,
    );
    return { decision, facts };
  }

  /** Applies the decision for an established connection: add, replace or swap the link, or refuse it. */
  apply(connection: Connection, peer: PeerInfo, decision: LinkDecisionFor, address: string): void {
    const peerId = peer.nodeId;
    const link = this.#links.get(peerId);
    switch (decision.action) {
      case 'add':
        this.#add(connection, peer, address);
        return;
      case 'replace':
        this.hooks.log('node %d restarted (new instance at %s): replacing its link', peerId, address);
        if (link) {
          link.active?.destroy();
          this.down(link);
        }
        this.#add(connection, peer, address);
        return;
      case 'swap':
        if (link) {
          const previous = link.active;
          link.active = connection;
          this.#clearGrace(link);
          previous?.retire(true);
          this.hooks.log('link to node %d moved to connection %d (%s)', peerId, connection.id, connection.direction);
          for (const payload of link.queue) connection.send(payload);
          link.queue = [];
          link.queuedBytes = 0;
        }
        return;
      case 'refuse':
        if (decision.reason === 'superseded') {
          this.hooks.log('connection %d to node %d superseded by the existing link', connection.id, peerId);
          connection.retire(true);
        } else {
          connection.closeForCause(
            decision.reason,
            `refused node ${peerId} (${connection.remote}): ${decision.reason}`,
          );
        }
        return;
    }
  }

  /** Sends on the link to `peerId` (queued while its connection is being replaced). False when impossible. */
  send(peerId: number, payload: Uint8Array): boolean {
    const link = this.#links.get(peerId);
    if (!link) return false;
    if (link.active) return link.active.send(payload);
    if (link.queuedBytes + payload.length > this.maxQueuedBytes) return false;
    link.queue.push(payload.slice());
    link.queuedBytes += payload.length;
    return true;
  }

  /** Whether `connection`'s messages belong to the current link (a replaced incarnation's do not). */
  carries(connection: Connection): number | undefined {
    const peer = connection.peer;
    if (!peer) return undefined;
    // A retired connection's last frames still belong to the link; a replaced incarnation's do not.
    return this.#links.get(peer.nodeId)?.incarnation === peer.incarnation ? peer.nodeId : undefined;
  }

  /**
   * The peer retired the connection carrying the link: it has (or is finishing) a preferred one. Keep the link
   * up for a grace period so the replacement takes over without a `peerDown`/`peerUp` flap.
   */
  retiredByPeer(connection: Connection): void {
    const link = connection.peer ? this.#links.get(connection.peer.nodeId) : undefined;
    connection.retire(false);
    if (!link || link.active !== connection) return;
    link.active = undefined;
    this.hooks.log('link to node %d retired by the peer: awaiting its replacement', link.peerId);
    link.graceTimer = setTimeout(() => {
      link.graceTimer = undefined;
      if (!link.active) this.down(link);
    }, this.graceMs).unref();
  }

  /** `connection` closed: if it carried a link, the link is down. */
  closed(connection: Connection): void {
    const peer = connection.peer;
    if (!peer) return;
    const link = this.#links.get(peer.nodeId);
    if (link && link.active === connection) {
      link.active = undefined;
      this.down(link);
    }
  }

  down(link: Link): void {
    if (this.#links.get(link.peerId) !== link) return;
    this.#clearGrace(link);
    this.#links.delete(link.peerId);
    this.#connected.delete(link.peerId);
    this.hooks.log('link down: node %d', link.peerId);
    this.hooks.down(link.peerId);
  }

  /** Forgets every link without events; returns the peer IDs that were linked (transport stopping). */
  clear(): number[] {
    const down = [...this.#links.keys()];
    for (const link of this.#links.values()) this.#clearGrace(link);
    this.#links.clear();
    this.#connected.clear();
    return down;
  }

  #add(connection: Connection, peer: PeerInfo, address: string): void {
    const link: Link = {
      peerId: peer.nodeId,
      advertised: peer.advertised,
      address,
      incarnation: peer.incarnation,
      maxFrameBytes: peer.maxFrameBytes,
      active: connection,
      queue: [],
      queuedBytes: 0,
      graceTimer: undefined,
    };
    this.#links.set(peer.nodeId, link);
    this.#connected.add(peer.nodeId);
    this.hooks.log(
      'link up: node %d (advertised %s) via connection %d (%s, %s)',
      peer.nodeId,
      peer.advertised,
      connection.id,
      connection.direction,
      peer.mode,
    );
    this.hooks.up(peer.nodeId, peer.advertised);
  }

  #existing(peerId: number): ExistingLink | undefined {
    const link = this.#links.get(peerId);
    if (!link) return undefined;
    const active = link.active;
    const activePeer = active?.peer;
    return {
      incarnation: link.incarnation,
      address: link.address,
      active: active && activePeer ? factsOf(active, activePeer) : undefined,
    };
  }

  #clearGrace(link: Link): void {
    if (link.graceTimer) clearTimeout(link.graceTimer);
    link.graceTimer = undefined;
  }
}

function factsOf(connection: Connection, peer: PeerInfo): ConnectionFacts {
  return {
    direction: connection.direction,
    incarnation: peer.incarnation,
    address: identityAddress(peer.advertised, connection.remoteIp),
    dialSeq: peer.dialSeq,
  };
}
