import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, FrameKind } from '../src/transport/frame.ts';
import { Handshake } from '../src/transport/handshake.ts';
import type { TcpTransport } from '../src/transport/tcp-transport.ts';
import {
  endpointOf,
  Fleet,
  handshakeConfig,
  nextEvent,
  rawPeer,
  SECRET,
  waitFor,
} from './support/transport-harness.ts';

/**
 * Random byte streams against a live TcpTransport over real sockets: before the handshake (anyone who can
 * connect) and after it (an authenticated peer sending garbage). The frame decoder and the handshake are fuzzed
 * in memory elsewhere (transport-frame, transport-handshake); this checks the socket layer around them: every
 * connection ends within its time bound, is counted exactly once, leaks nothing, never yields a link or a message,
 * and a real peer's link is unaffected. Seeded (FUZZ_SEED); a failure prints fast-check's seed and counterexample.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_604);
const HANDSHAKE_MS = 150;

const chunked = (bytes: Uint8Array, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(Buffer.from(bytes.subarray(last, p)));
    last = p;
  }
  out.push(Buffer.from(bytes.subarray(last)));
  return out.filter((c) => c.length > 0);
};

/** A genuine opening HELLO (so the stream gets past the first frame), from a random node ID. */
const hello = fc
  .integer({ min: 2, max: 2 ** 40 })
  .map((id) => Buffer.concat(new Handshake(handshakeConfig('initiator', id, { clusterSize: 5 })).start().send));
const frames = fc.array(
  fc
    .record({
      kind: fc.oneof(fc.constantFrom(...Object.values(FrameKind)), fc.integer({ min: 0, max: 255 })),
      // At least a tag's worth of body, often, so a sealed kind reaches the MAC check.
      body: fc.oneof(fc.uint8Array({ maxLength: 15 }), fc.uint8Array({ minLength: 16, maxLength: 120 })),
    })
    .map(({ kind, body }) =>
      // encodeFrame takes any byte for a kind: unknown kinds are part of the fuzz.
      encodeFrame(kind as FrameKind, body),
    ),
  { maxLength: 4 },
);
/** What an unauthenticated client sends: raw noise, well-formed frames of any kind, or a real HELLO then noise. */
const preHandshakeStream = fc
  .record({
    prefix: fc.oneof(fc.constant(Buffer.alloc(0)), hello),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      frames.map((f) => Buffer.concat(f)),
    ),
    flip: fc.option(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) })),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  })
  .map(({ prefix, body, flip, cuts }) => {
    const bytes = Buffer.concat([prefix, body]);
    if (flip && bytes.length > 0) bytes[flip.at % bytes.length]! ^= flip.xor;
    return chunked(bytes, cuts);
  });

/** Whether a stream could carry a REJECT frame, which the transport takes as the peer's own refusal. */
function mayCarryReject(chunks: Buffer[]): boolean {
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const { frames: decoded } = decoder.push(Buffer.concat(chunks));
  return decoded.some((f) => f.kind === FrameKind.Reject);
}

/** Opens a raw connection, writes the chunks, and resolves when the transport has closed it. */
function sendStream(transport: TcpTransport, chunks: Buffer[]): Promise<void> {
  const { host, port } = endpointOf(transport);
  const socket = connect({ host, port });
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.on('connect', () => {
    for (const chunk of chunks) socket.write(chunk);
  });
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function sum(counters: Partial<Record<string, number>>): number {
  let total = 0;
  for (const value of Object.values(counters)) total += value ?? 0;
  return total;
}

describe('TcpTransport fed random byte streams over real sockets', () => {
  const fleet = new Fleet();
  let a: TcpTransport;
  let b: TcpTransport;
  const ups: number[] = [];
  const messages: number[] = [];

  before(async () => {
    // Default keepalive and idle timeout: the real link must not flap while fast-check hogs the event loop.
    a = await fleet.start(1, { handshakeTimeoutMs: HANDSHAKE_MS, maxConnectionsPerAddress: 64 });
    b = await fleet.start(2);
    a.on('peerUp', (id) => ups.push(id));
    a.on('message', (from) => {
      if (from !== 2) messages.push(from);
    });
    const linked = nextEvent(a, 'peerUp');
    b.addPeer(endpointOf(a));
    await linked;
  });
  after(() => fleet.stopAll());

  test('before the handshake: every connection is closed in time, refused and counted once, and leaks nothing', async (t) => {
    const baseline = a.openConnections;
    await fc.assert(
      fc.asyncProperty(fc.array(preHandshakeStream, { minLength: 1, maxLength: 8 }), async (streams) => {
        const before = a.stats();
        const started = performance.now();
        await Promise.all(streams.map((chunks) => sendStream(a, chunks)));
        // A stream that never completes a frame waits out the handshake timeout, then the linger bound.
        assert.ok(performance.now() - started < HANDSHAKE_MS + 1500, 'a connection outlived its bounds');
        const after = a.stats();
        assert.equal(after.connectionsAccepted - before.connectionsAccepted, streams.length);
        const refused = sum(after.rejected) - sum(before.rejected);
        // Each refusal is counted once; only a forged REJECT {superseded} (a peer saying it will use another
        // connection) closes quietly.
        const quietAtMost = streams.filter(mayCarryReject).length;
        assert.ok(refused <= streams.length && refused >= streams.length - quietAtMost, `${refused} refusals`);
        assert.ok(after.badFrames - before.badFrames <= refused);
        assert.equal(sum(after.closed), sum(before.closed), 'no link existed to close');
        await waitFor(() => a.openConnections === baseline, 5000, 'every fuzz socket closed');
      }),
      { seed: SEED, numRuns: 18 },
    );
    t.diagnostic(`refusals by reason: ${JSON.stringify(a.stats().rejected)}`);
    assert.deepEqual(ups, [2], 'no stream may become a link');
    assert.deepEqual(messages, []);
    assert.equal(a.connectedPeers.has(2), true);
    const got = nextEvent(a, 'message', { filter: (from) => from === 2 });
    b.send(1, Buffer.from('still linked'));
    await got;
  });

  test('after the handshake: garbage from an authenticated peer closes its link, counted once, no message', async (t) => {
    // A short idle timeout, so a stream ending inside a frame is closed quickly too.
    const c = await fleet.start(3, { keepaliveMs: 40, idleTimeoutMs: 150 });
    const delivered: number[] = [];
    c.on('message', (from) => delivered.push(from));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            // Well-formed frames, so the stream gets past the length and kind checks to the MAC.
            frames.map((f) => Buffer.concat(f)),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (bodies, cuts) => {
          const before = c.stats();
          const peers = await Promise.all(
            bodies.map((_, i) => rawPeer(c, 4 + i, { secret: SECRET, advertised: `127.0.0.1:${9000 + i}` })),
          );
          peers.forEach((peer, i) => {
            for (const chunk of chunked(bodies[i]!, cuts)) peer.socket.write(chunk);
          });
          // Garbage fails the frame checks or the MAC; a partial frame starves the link into the idle timeout.
          await Promise.all(peers.map((peer) => peer.closed));
          await waitFor(() => peers.every((_, i) => !c.connectedPeers.has(4 + i)), 5000, 'fuzz links down');
          const after = c.stats();
          assert.equal(sum(after.closed) - sum(before.closed), bodies.length, 'each link closed for cause once');
          assert.equal(sum(after.rejected), sum(before.rejected));
          assert.equal(c.openConnections, 0);
        },
      ),
      { seed: SEED, numRuns: 12 },
    );
    t.diagnostic(`links closed by reason: ${JSON.stringify(c.stats().closed)}`);
    assert.deepEqual(delivered, [], 'garbage never reaches the application');
  });
});
