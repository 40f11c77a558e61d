import fc from 'fast-check';
import type { Message } from '../../src/core/messages.ts';

/**
 * fast-check arbitrary of every protocol message, with the value domains left to the caller: the codec tests want
 * the full encodable range, the hostile-input tests want values biased towards the edges and towards IDs that
 * exist in their cluster.
 */
export function messageArbitrary(domains: {
  uint: fc.Arbitrary<number>;
  term: fc.Arbitrary<number>;
  peerId: fc.Arbitrary<number>;
  maxSees: number;
}): fc.Arbitrary<Message> {
  const { uint, term, peerId, maxSees } = domains;
  // Decoded messages are plain objects; records must be too, or deep equality fails on the prototype.
  const plain = { noNullPrototype: true } as const;
  return fc.oneof(
    fc.record(
      {
        type: fc.constant('heartbeat' as const),
        incarnation: uint,
        ready: fc.boolean(),
        canLead: fc.boolean(),
        leaving: fc.boolean(),
        healthy: fc.boolean(),
        voterOnly: fc.boolean(),
        preempt: fc.boolean(),
        term,
        leaderTerm: term,
        sees: fc.array(peerId, { maxLength: maxSees }),
      },
      plain,
    ),
    fc.record({ type: fc.constant('vote-request' as const), term, incarnation: uint, seq: uint }, plain),
    fc.record(
      {
        type: fc.constant('vote-reply' as const),
        term,
        incarnation: uint,
        seq: uint,
        granted: fc.boolean(),
        reason: fc.constantFrom(null, 'not-ready', 'bound', 'stale-term', 'prefer-lower', 'released', 'stopping'),
        highestTerm: term,
        holder: peerId,
      },
      plain,
    ),
    fc.record({ type: fc.constant('release' as const), incarnation: uint, seq: uint }, plain),
    fc.record(
      {
        type: fc.constant('append' as const),
        term,
        incarnation: uint,
        index: uint.map((n) => Math.max(1, n)),
        catchUp: fc.boolean(),
        data: fc.uint8Array({ maxLength: 64 }),
      },
      plain,
    ),
    fc.record(
      { type: fc.constant('append-ack' as const), term, incarnation: uint, confirmed: uint, missing: uint },
      plain,
    ),
    fc.record(
      { type: fc.constant('commit' as const), term, incarnation: uint, index: uint.map((n) => Math.max(1, n)) },
      plain,
    ),
  );
}
