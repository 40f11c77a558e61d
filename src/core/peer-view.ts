import type { Heartbeat } from './messages.ts';

/**
 * What this node knows about each peer: when it last heard from it and what its last heartbeat said.
 * Liveness here only steers who campaigns; safety never depends on it.
 * @module
 */

export interface PeerState {
  readonly id: number;
  /** Link reported up by the transport (true until it reports otherwise: the simulator may never say). */
  connected: boolean;
  lastHeardAt: number | null;
  incarnation: number | null;
  heartbeat: Heartbeat | null;
  /** The peer said it is stopping; cleared by a heartbeat that does not say so (a restart). */
  leaving: boolean;
  /** When the peer last asked for a vote: it is campaigning (or leading) while this is recent. */
  lastRequestAt: number | null;
}

export class PeerView {
  private readonly peers = new Map<number, PeerState>();

  constructor(private readonly peerTimeoutMs: number) {}

  get(id: number): PeerState {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = {
        id,
        connected: true,
        lastHeardAt: null,
        incarnation: null,
        heartbeat: null,
        leaving: false,
        lastRequestAt: null,
      };
      this.peers.set(id, peer);
    }
    return peer;
  }

  has(id: number): boolean {
    return this.peers.has(id);
  }

  ids(): number[] {
    return [...this.peers.keys()].sort((a, b) => a - b);
  }

  all(): PeerState[] {
    return this.ids().map((id) => this.get(id));
  }

  heard(id: number, now: number): PeerState {
    const peer = this.get(id);
    peer.connected = true;
    peer.lastHeardAt = now;
    return peer;
  }

  alive(peer: PeerState, now: number): boolean {
    return peer.connected && !peer.leaving && peer.lastHeardAt !== null && now - peer.lastHeardAt < this.peerTimeoutMs;
  }

  aliveIds(now: number): number[] {
    return this.all()
      .filter((peer) => this.alive(peer, now))
      .map((peer) => peer.id);
  }

  /** Lowest alive peer below `id` whose last heartbeat says it could win an election. */
  lowestViableBelow(id: number, now: number): number | null {
    for (const peer of this.all()) {
      if (peer.id >= id) break;
      if (this.alive(peer, now) && peer.heartbeat?.canLead === true) return peer.id;
    }
    return null;
  }

  /** Lowest alive peer below `id` that asked for a vote within `windowMs`. */
  lowestCampaignerBelow(id: number, now: number, windowMs: number): number | null {
    for (const peer of this.all()) {
      if (peer.id >= id) break;
      if (this.alive(peer, now) && peer.lastRequestAt !== null && now - peer.lastRequestAt <= windowMs) return peer.id;
    }
    return null;
  }
}
