/**
 * Which connection carries the one logical link to a peer. Pure decisions, shared by both ends: each side
 * evaluates the same rules on the same handshake facts, so both keep the same connection without talking.
 *
 * - No link to the peer yet: accept, unless this node already links `clusterSize - 1` distinct peers.
 * - A link to another *incarnation* of the peer ID (another process):
 *   - same identity address (the advertised address; the socket's IP instead of an unspecified host):
 *     the peer restarted and the old link is stale: replace it (`peerDown` then `peerUp`);
 *   - otherwise a second live node claims the ID: refuse `duplicate-id`. Once the old link dies (closed, or
 *     silent for `idleTimeoutMs`), the newcomer is accepted.
 * - A link to the same incarnation (the same process): a connection race or a reconnect. Keep one:
 *   - connections in opposite directions: the one dialed by the lower node ID wins (simultaneous dial);
 *   - same direction: the higher `dialSeq` wins (the dialer's newer attempt: its old one is dead to it).
 *   The loser is retired quietly (`superseded`, no events); the link's events do not fire again.
 * @module
 */
import { isIP } from 'node:net';
import { formatEndpoint } from '../util/address.ts';

/** Who dialed a connection, seen from this node. */
export type Direction = 'inbound' | 'outbound';

/** The facts a decision uses about one connection to a peer. */
export interface ConnectionFacts {
  direction: Direction;
  incarnation: string;
  /** Identity address of the peer: see {@link identityAddress}. */
  address: string;
  dialSeq: number;
}

/** What to do with a newly authenticated connection to a peer. */
export type LinkDecision =
  | { action: 'add' }
  | { action: 'replace' }
  | { action: 'swap' }
  | { action: 'refuse'; reason: 'cluster-full' | 'duplicate-id' | 'superseded' };

/** The current link to the peer, if any; `active` is undefined while a retired link waits for its replacement. */
export interface ExistingLink {
  incarnation: string;
  address: string;
  active: ConnectionFacts | undefined;
}

/** Decides the fate of `candidate`, a connection to `peerId` that just authenticated. */
export function decideLink(
  localId: number,
  peerId: number,
  candidate: ConnectionFacts,
  existing: ExistingLink | undefined,
  linkedPeers: number,
  clusterSize: number,
): LinkDecision {
  if (!existing)
    return linkedPeers >= clusterSize - 1 ? { action: 'refuse', reason: 'cluster-full' } : { action: 'add' };
  if (existing.incarnation !== candidate.incarnation) {
    return existing.address === candidate.address
      ? { action: 'replace' }
      : { action: 'refuse', reason: 'duplicate-id' };
  }
  if (!existing.active || prefer(localId, peerId, candidate, existing.active)) return { action: 'swap' };
  return { action: 'refuse', reason: 'superseded' };
}

/** Whether connection `a` should carry the link rather than `b` (both to the same incarnation of `peerId`). */
export function prefer(localId: number, peerId: number, a: ConnectionFacts, b: ConnectionFacts): boolean {
  if (a.direction !== b.direction) return dialerOf(localId, peerId, a) < dialerOf(localId, peerId, b);
  return a.dialSeq > b.dialSeq;
}

function dialerOf(localId: number, peerId: number, connection: ConnectionFacts): number {
  return connection.direction === 'outbound' ? localId : peerId;
}

/**
 * The address that identifies a peer process: its advertised `host:port`, except that an unspecified host
 * (`0.0.0.0`, `::`) is replaced by the IP the connection actually comes from/goes to.
 */
export function identityAddress(advertised: string, remoteIp: string): string {
  const colon = advertised.lastIndexOf(':');
  if (colon <= 0) return advertised;
  const host = advertised.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(advertised.slice(colon + 1));
  if ((host === '0.0.0.0' || host === '::') && isIP(remoteIp) !== 0 && Number.isInteger(port)) {
    return formatEndpoint({ host: remoteIp, port });
  }
  return advertised;
}
