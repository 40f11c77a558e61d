import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Channel } from '../src/transport/channel.ts';
import { encodeFrame, FrameKind } from '../src/transport/frame.ts';
import { Handshake, type HandshakeOutcome } from '../src/transport/handshake.ts';
import { decodeHello, decodeReason, encodeHello, encodeReason } from '../src/transport/messages.ts';
import { decodeAll, handshakeConfig, OTHER_SECRET, runHandshake, SECRET } from './support/transport-harness.ts';

function established(outcome: HandshakeOutcome): { channel: Channel; nodeId: number } {
  assert.equal(outcome.status, 'established', JSON.stringify(outcome));
  if (outcome.status !== 'established') throw new Error('unreachable');
  return { channel: outcome.channel, nodeId: outcome.peer.nodeId };
}

function failed(outcome: HandshakeOutcome): { reason: string; byPeer: boolean } {
  assert.equal(outcome.status, 'failed');
  if (outcome.status !== 'failed') throw new Error('unreachable');
  return { reason: outcome.reason, byPeer: outcome.byPeer };
}

/** Opens a sealed frame on `channel` from raw bytes. */
function open(channel: Channel, bytes: Buffer) {
  const { frames } = decodeAll(bytes);
  assert.equal(frames.length, 1);
  return channel.open(frames[0]!);
}

describe('handshake', () => {
  test('succeeds with a secret: both sides learn each other and get MAC channels', () => {
    const { initiator, responder } = runHandshake(handshakeConfig('initiator', 1), handshakeConfig('responder', 2));
    assert.equal(established(initiator).nodeId, 2);
    assert.equal(established(responder).nodeId, 1);
    assert.equal(established(initiator).channel.mode, 'mac');
    if (initiator.status === 'established') {
      assert.equal(initiator.peer.authenticated, true);
      assert.equal(initiator.peer.advertised, '127.0.0.1:7002');
    }
  });

  test('succeeds without a secret, with plain channels', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1, { secret: undefined }),
      handshakeConfig('responder', 2, { secret: undefined }),
    );
    assert.equal(established(initiator).channel.mode, 'plain');
    assert.equal(established(responder).channel.mode, 'plain');
  });

  test('uses AEAD when either side asks for encryption, and messages round-trip', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1),
      handshakeConfig('responder', 2, { encrypt: true }),
    );
    const a = established(initiator).channel;
    const b = established(responder).channel;
    assert.equal(a.mode, 'aead');
    const sealed = a.seal(FrameKind.Data, Buffer.from('top secret payload'));
    assert.equal(sealed.includes(Buffer.from('top secret payload')), false, 'payload is not in clear');
    const opened = open(b, sealed);
    assert.ok(opened.ok);
    assert.equal(Buffer.from(opened.body).toString(), 'top secret payload');
  });

  test('wrong secret: the responder refuses auth-failed and the initiator learns auth-failed', () => {
    const { initiator, responder, transcript } = runHandshake(
      handshakeConfig('initiator', 1, { secret: OTHER_SECRET }),
      handshakeConfig('responder', 2),
    );
    assert.deepEqual(failed(responder), { reason: 'auth-failed', byPeer: false });
    assert.deepEqual(failed(initiator), { reason: 'auth-failed', byPeer: true });
    // The responder never sent its proof to the unauthenticated initiator.
    const fromResponder = transcript.filter((t) => t.from === 'responder').flatMap((t) => decodeAll(t.bytes).frames);
    assert.deepEqual(
      fromResponder.map((f) => f.kind),
      [FrameKind.Hello, FrameKind.Reject],
    );
  });

  test('secret on one side only: both sides fail auth-failed', () => {
    for (const [i, r] of [
      [SECRET, undefined],
      [undefined, SECRET],
    ] as const) {
      const { initiator, responder } = runHandshake(
        handshakeConfig('initiator', 1, { secret: i }),
        handshakeConfig('responder', 2, { secret: r }),
      );
      assert.equal(failed(initiator).reason, 'auth-failed');
      assert.equal(failed(responder).reason, 'auth-failed');
    }
  });

  test('wrong cluster: both sides fail wrong-cluster (told after authentication)', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1, { cluster: 'blue' }),
      handshakeConfig('responder', 2, { cluster: 'green' }),
    );
    assert.deepEqual(failed(responder), { reason: 'wrong-cluster', byPeer: false });
    assert.deepEqual(failed(initiator), { reason: 'wrong-cluster', byPeer: true });
  });

  test('wrong cluster and wrong secret: the peer learns only auth-failed', () => {
    const { initiator } = runHandshake(
      handshakeConfig('initiator', 1, { cluster: 'blue', secret: OTHER_SECRET }),
      handshakeConfig('responder', 2, { cluster: 'green' }),
    );
    assert.equal(failed(initiator).reason, 'auth-failed');
  });

  test('clusterSize mismatch: both sides fail cluster-size-mismatch', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1, { clusterSize: 3 }),
      handshakeConfig('responder', 2, { clusterSize: 5 }),
    );
    assert.equal(failed(responder).reason, 'cluster-size-mismatch');
    assert.deepEqual(failed(initiator), { reason: 'cluster-size-mismatch', byPeer: true });
  });

  test('own ID: another node with the same ID, and a node talking to itself', () => {
    const other = runHandshake(handshakeConfig('initiator', 1), handshakeConfig('responder', 1));
    assert.equal(failed(other.responder).reason, 'own-id');
    assert.deepEqual(failed(other.initiator), { reason: 'own-id', byPeer: true });

    const incarnation = Buffer.alloc(16, 9);
    const self = runHandshake(
      handshakeConfig('initiator', 1, { incarnation }),
      handshakeConfig('responder', 1, { incarnation }),
    );
    assert.equal(failed(self.responder).reason, 'own-id');
    if (self.responder.status === 'failed') assert.match(self.responder.message, /itself/);
  });

  test('bad version in the HELLO: bad-version on both sides', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1),
      handshakeConfig('responder', 2),
      (t) => {
        if (t.index !== 0) return t.bytes;
        const frame = decodeAll(t.bytes).frames[0]!;
        const hello = decodeHello(frame.body)!;
        return encodeFrame(FrameKind.Hello, encodeHello({ ...hello, version: 9 }));
      },
    );
    assert.equal(failed(responder).reason, 'bad-version');
    assert.equal(failed(initiator).reason, 'bad-version');
  });

  test('admission refusal is sent to the (authenticated) peer', () => {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1),
      handshakeConfig('responder', 2, { admit: () => 'duplicate-id' }),
    );
    assert.deepEqual(failed(responder), { reason: 'duplicate-id', byPeer: false });
    assert.deepEqual(failed(initiator), { reason: 'duplicate-id', byPeer: true });
  });

  test('a REJECT reason code this version does not know reads as refused', () => {
    const handshake = new Handshake(handshakeConfig('initiator', 1));
    handshake.start();
    const step = handshake.receive({ kind: FrameKind.Reject, body: Buffer.of(250) });
    assert.equal(failed(step.outcome).reason, 'refused');
    assert.equal(decodeReason(encodeReason('cluster-full')), 'cluster-full');
  });
});

describe('session MAC', () => {
  function pair(encrypt = false) {
    const { initiator, responder } = runHandshake(
      handshakeConfig('initiator', 1, { encrypt }),
      handshakeConfig('responder', 2),
    );
    return { a: established(initiator).channel, b: established(responder).channel };
  }

  for (const encrypt of [false, true]) {
    const mode = encrypt ? 'aead' : 'mac';

    test(`${mode}: frames open in order; a frame replayed on the same connection is rejected as a replay`, () => {
      const { a, b } = pair(encrypt);
      const first = a.seal(FrameKind.Data, Buffer.from('one'));
      const second = a.seal(FrameKind.Data, Buffer.from('two'));
      assert.ok(open(b, first).ok);
      assert.ok(open(b, second).ok);
      const replay = open(b, first);
      assert.equal(replay.ok, false);
      if (!replay.ok) assert.equal(replay.reason, 'replay');
    });

    test(`${mode}: a frame captured on one connection does not open on another`, () => {
      const one = pair(encrypt);
      const two = pair(encrypt);
      const captured = one.a.seal(FrameKind.Data, Buffer.from('hello'));
      const result = open(two.b, captured);
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.reason, 'auth-failed');
    });

    test(`${mode}: a frame reflected back to its sender, reordered, or altered does not open`, () => {
      const { a, b } = pair(encrypt);
      const f1 = a.seal(FrameKind.Data, Buffer.from('x'));
      const f2 = a.seal(FrameKind.Data, Buffer.from('y'));
      assert.equal(open(a, f1).ok, false, 'reflection');
      assert.equal(open(b, f2).ok, false, 'reordered');
      const { a: a2, b: b2 } = pair(encrypt);
      const altered = a2.seal(FrameKind.Data, Buffer.from('payload'));
      altered[8]! ^= 1;
      assert.equal(open(b2, altered).ok, false, 'altered body');
      const rekinded = a2.seal(FrameKind.Data, Buffer.from('payload'));
      rekinded[5] = FrameKind.Ping;
      assert.equal(open(b2, rekinded).ok, false, 'altered kind');
    });
  }
});

describe('handshake properties', () => {
  test('mutated or truncated handshake frames never throw and never authenticate the receiver', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 4 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        fc.nat(),
        (target, position, xor, truncate, cut) => {
          let tamperedTo: 'initiator' | 'responder' | undefined;
          const { initiator, responder } = runHandshake(
            handshakeConfig('initiator', 1),
            handshakeConfig('responder', 2),
            (t) => {
              if (t.index !== target) return t.bytes;
              tamperedTo = t.from === 'initiator' ? 'responder' : 'initiator';
              if (truncate) return t.bytes.subarray(0, cut % t.bytes.length);
              const bytes = Buffer.from(t.bytes);
              bytes[position % bytes.length]! ^= xor;
              return bytes;
            },
          );
          if (!tamperedTo) return; // fewer frames than `target`
          const receiver = tamperedTo === 'initiator' ? initiator : responder;
          assert.notEqual(receiver.status, 'established');
          // The responder is the last to establish: any tampering keeps it out.
          assert.notEqual(responder.status, 'established');
        },
      ),
      { numRuns: 400 },
    );
  });

  test('arbitrary frames fed to a fresh handshake never throw and never establish', () => {
    const kinds = Object.values(FrameKind);
    fc.assert(
      fc.property(
        fc.constantFrom('initiator' as const, 'responder' as const),
        fc.array(fc.record({ kind: fc.constantFrom(...kinds), body: fc.uint8Array({ maxLength: 400 }) }), {
          maxLength: 6,
        }),
        (role, frames) => {
          const handshake = new Handshake(handshakeConfig(role, 1));
          handshake.start();
          for (const frame of frames) {
            const step = handshake.receive(frame);
            assert.notEqual(step.outcome.status, 'established');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
