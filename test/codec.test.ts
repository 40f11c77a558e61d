import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError, decodeMessage, encodeMessage, MAX_APPEND_DATA_BYTES, MAX_TERM } from '../src/core/codec.ts';
import { messageArbitrary } from './support/message-arbitrary.ts';

const uint = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const message = messageArbitrary({ uint, term: fc.nat({ max: MAX_TERM }), peerId: uint, maxSees: 20 });

describe('message codec', () => {
  it('round-trips every message', () => {
    fc.assert(
      fc.property(message, (m) => assert.deepEqual(decodeMessage(encodeMessage(m)), m)),
      { numRuns: 2000 },
    );
  });

  it('rejects random bytes with CodecError only, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (error) {
          assert.ok(error instanceof CodecError, String(error));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects every truncation and any trailing byte of a valid message', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const bytes = encodeMessage(m);
        const short = bytes.subarray(0, cut % bytes.length);
        assert.throws(() => decodeMessage(short), CodecError);
        assert.throws(() => decodeMessage(Uint8Array.of(...bytes, 0)), CodecError);
      }),
    );
  });

  it('refuses terms above MAX_TERM both ways, so a peer cannot push the next campaign past a safe integer', () => {
    const request = { type: 'vote-request', term: MAX_TERM, incarnation: 1, seq: 1 } as const;
    assert.deepEqual(decodeMessage(encodeMessage(request)), request);
    assert.throws(() => encodeMessage({ ...request, term: MAX_TERM + 1 }), CodecError);
    // The same bytes a peer would send: type 2, then varint(2^53 - 1), incarnation 1, seq 1.
    const huge = Uint8Array.of(2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 1);
    assert.throws(() => decodeMessage(huge), /term out of range/);
  });

  it('decodes appends into a copy of their data (the frame buffer is reused), at any size up to the bound', () => {
    const data = new Uint8Array(70_000).map((_, i) => i & 0xff);
    const frame = encodeMessage({ type: 'append', term: 9, incarnation: 77, index: 3, catchUp: true, data });
    const decoded = decodeMessage(frame);
    assert.deepEqual(decoded, { type: 'append', term: 9, incarnation: 77, index: 3, catchUp: true, data });
    frame.fill(0);
    assert.equal((decoded as { data: Uint8Array }).data[1], 1, 'the decoded data must not alias the frame');
  });

  it('refuses hostile broadcast messages: index 0, unknown flags, a length past the end or above the bound', () => {
    // type 5: term 1, incarnation 4, index 0, flags 0, length 0
    assert.throws(() => decodeMessage(Uint8Array.of(5, 1, 4, 0, 0, 0)), /index 0/);
    assert.throws(() => decodeMessage(Uint8Array.of(5, 1, 4, 1, 2, 0)), /unknown append flags/);
    assert.throws(() => decodeMessage(Uint8Array.of(5, 1, 4, 1, 0, 3, 7, 7)), /truncated/);
    assert.throws(() => decodeMessage(Uint8Array.of(5, 1, 4, 1, 0, 1, 7, 7)), /trailing/);
    // length 2^28: above MAX_APPEND_DATA_BYTES, refused before any copy is attempted
    assert.throws(() => decodeMessage(Uint8Array.of(5, 1, 4, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x01)), /too large/);
    assert.throws(() => decodeMessage(Uint8Array.of(7, 1, 4, 0)), /index 0/);
    assert.throws(() => decodeMessage(Uint8Array.of(6, 1, 4, 1)), /truncated/);
    assert.throws(() => encodeMessage({ type: 'commit', term: 1, incarnation: 4, index: 0 }), CodecError);
    assert.ok(MAX_APPEND_DATA_BYTES >= 16 * 1024 * 1024);
  });

  it('keeps heartbeats small', () => {
    const bytes = encodeMessage({
      type: 'heartbeat',
      incarnation: 0xffffffff,
      ready: true,
      canLead: true,
      leaving: false,
      healthy: true,
      voterOnly: false,
      preempt: true,
      term: 1234,
      leaderTerm: 1234,
      sees: [2, 3, 4, 5],
    });
    assert.ok(bytes.length <= 20, `${bytes.length} bytes`);
  });
});
