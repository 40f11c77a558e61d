import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import { TransportError } from '../src/errors.ts';
import { encodeFrame, FrameKind } from '../src/transport/frame.ts';
import { decodeReason, encodeReason } from '../src/transport/messages.ts';
import { checkListenSecurity, TcpTransport } from '../src/transport/tcp-transport.ts';
import {
  decodeAll,
  endpointOf,
  Fleet,
  nextEvent,
  OTHER_SECRET,
  rawClient,
  rawPeer,
  received,
  SECRET,
  transportOptions,
  waitFor,
} from './support/transport-harness.ts';

let fleet = new Fleet();
afterEach(async () => {
  await fleet.stopAll();
  fleet = new Fleet();
});

/** Counts peerUp / peerDown events per peer. */
function eventLog(transport: TcpTransport): { up: number[]; down: number[] } {
  const log = { up: [] as number[], down: [] as number[] };
  transport.on('peerUp', (id) => log.up.push(id));
  transport.on('peerDown', (id) => log.down.push(id));
  return log;
}

/** Resolves when `transport` has links to all of `peers`. */
async function linked(transport: TcpTransport, ...peers: number[]): Promise<void> {
  while (!peers.every((p) => transport.connectedPeers.has(p))) {
    await nextEvent(transport, 'peerUp');
  }
}

/** Sends `text` from `a` to `b` (node `bId`) and resolves when `b` delivers it. */
async function roundTrip(a: TcpTransport, b: TcpTransport, aId: number, bId: number, text: string): Promise<void> {
  const got = nextEvent(b, 'message', {
    filter: (from, payload) => from === aId && Buffer.from(payload).toString() === text,
  });
  assert.equal(a.send(bId, Buffer.from(text)), true);
  await got;
}

/** Reason code of the REJECT a raw client received. */
function rejectReason(bytes: Buffer): string | undefined {
  const frame = decodeAll(bytes).frames.find((f) => f.kind === FrameKind.Reject);
  return frame ? decodeReason(frame.body) : undefined;
}

describe('TcpTransport links', () => {
  test('three transports form a mesh and exchange messages in order', async () => {
    const [a, b, c] = await Promise.all([fleet.start(1), fleet.start(2), fleet.start(3)]);
    const nodes = [a!, b!, c!];
    const logs = nodes.map(eventLog);
    for (const x of nodes) for (const y of nodes) if (x !== y) x.addPeer(endpointOf(y));
    await Promise.all([linked(a!, 2, 3), linked(b!, 1, 3), linked(c!, 1, 2)]);

    const inbox: string[] = [];
    const done = new Promise<void>((resolve) =>
      c!.on('message', (from, payload) => {
        if (from !== 1) return;
        inbox.push(Buffer.from(payload).toString());
        if (inbox.length === 100) resolve();
      }),
    );
    for (let i = 0; i < 100; i++) assert.equal(a!.send(3, Buffer.from(`m${i}`)), true);
    await done;
    assert.deepEqual(
      inbox,
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    await roundTrip(b!, a!, 2, 1, 'hi from 2');
    await roundTrip(c!, b!, 3, 2, 'hi from 3');

    for (const log of logs) assert.equal(log.down.length, 0);
    assert.deepEqual(logs[0]!.up.sort(), [2, 3]);
    assert.equal(fleet.errors.length, 0, fleet.errors.map((e) => e.message).join('; '));
    const stats = a!.stats();
    assert.ok(stats.messagesOut >= 100 && stats.framesOut > stats.messagesOut && stats.bytesOut > 0);
    assert.equal(c!.stats().messagesIn >= 100, true);
  });

  test('peers added before start() are dialed once it listens', async () => {
    const b = await fleet.start(2);
    const a = new TcpTransport(transportOptions(1));
    fleet.transports.push(a);
    a.addPeer(endpointOf(b));
    a.addPeer(endpointOf(b)); // idempotent
    await a.start();
    await linked(a, 2);
    assert.equal(a.stats().connectionsDialed, 1);
  });

  test('simultaneous dial leaves exactly one link on each side, the one dialed by the lower ID', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([fleet.start(1), fleet.start(2)]);
      const logA = eventLog(a!);
      const logB = eventLog(b!);
      a!.addPeer(endpointOf(b!));
      b!.addPeer(endpointOf(a!));
      await Promise.all([linked(a!, 2), linked(b!, 1)]);
      await waitFor(() => a!.openConnections === 1 && b!.openConnections === 1, 5000, 'losing connection to close');
      await roundTrip(a!, b!, 1, 2, `ping ${round}`);
      await roundTrip(b!, a!, 2, 1, `pong ${round}`);
      assert.deepEqual(logA, { up: [2], down: [] });
      assert.deepEqual(logB, { up: [1], down: [] });
      const [linkA] = a!.links();
      const [linkB] = b!.links();
      assert.equal(linkA!.direction, 'outbound');
      assert.equal(linkB!.direction, 'inbound');
      assert.equal(linkA!.local, linkB!.remote);
      await fleet.stopAll();
      fleet = new Fleet();
    }
  });

  test('a restarted peer (same ID, same port) gives peerDown then peerUp', async () => {
    const a = await fleet.start(1);
    let b = await fleet.start(2);
    const log = eventLog(a);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    const port = endpointOf(b).port;

    const down = nextEvent(a, 'peerDown');
    await b.stop();
    await down;
    b = await fleet.start(2, { listen: { host: '127.0.0.1', port } });
    await linked(a, 2);
    await roundTrip(a, b, 1, 2, 'after restart');
    assert.deepEqual(log, { up: [2, 2], down: [2] });
  });

  test('a peer restarted while its old link still looks alive replaces the stale link', async () => {
    const a = await fleet.start(1);
    const b = await fleet.start(2);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    // A second process with ID 2 advertising the same address: the transport takes it as the restart.
    const log = eventLog(a);
    const peer = await rawPeer(a, 2, { advertised: `127.0.0.1:${endpointOf(b).port}` });
    await waitFor(() => log.up.length === 1, 5000, 'replacement peerUp');
    assert.deepEqual(log, { up: [2], down: [2] });
    peer.socket.destroy();
  });

  test('a link retired by the peer survives, without events, until its replacement takes over', async () => {
    const a = await fleet.start(1);
    const log = eventLog(a);
    const incarnation = randomBytes(16);
    const first = await rawPeer(a, 2, { incarnation, dialSeq: 1 });
    await linked(a, 2);
    first.socket.write(first.channel.seal(FrameKind.Retire, encodeReason('superseded')));
    await first.closed; // a half-closes its side in answer
    assert.equal(a.connectedPeers.has(2), true, 'still up during the grace period');
    assert.equal(a.send(2, Buffer.from('queued while in grace')), true);
    const second = await rawPeer(a, 2, { incarnation, dialSeq: 2 });
    await waitFor(() => second.received.some((f) => f.kind === FrameKind.Data), 5000, 'queued message flushed');
    assert.equal(
      Buffer.from(second.received.find((f) => f.kind === FrameKind.Data)!.body).toString(),
      'queued while in grace',
    );
    assert.deepEqual(log, { up: [2], down: [] });
    assert.equal(a.links()[0]?.remote, `127.0.0.1:${second.socket.localPort}`);
    second.socket.destroy();
    await nextEvent(a, 'peerDown');
  });

  test('a link retired by the peer goes down when no replacement comes within the grace period', async () => {
    const a = await fleet.start(1, { handshakeTimeoutMs: 100 });
    const peer = await rawPeer(a, 2);
    await linked(a, 2);
    const started = performance.now();
    peer.socket.write(peer.channel.seal(FrameKind.Retire, encodeReason('superseded')));
    await nextEvent(a, 'peerDown');
    assert.ok(performance.now() - started >= 80);
  });

  test('an older connection from the same process does not displace the link (lower dialSeq loses)', async () => {
    const a = await fleet.start(1);
    const log = eventLog(a);
    const incarnation = randomBytes(16);
    const newer = await rawPeer(a, 2, { incarnation, dialSeq: 5 });
    await linked(a, 2);
    await assert.rejects(rawPeer(a, 2, { incarnation, dialSeq: 4 }), /superseded/);
    assert.equal(a.links()[0]?.remote, `127.0.0.1:${newer.socket.localPort}`);
    assert.deepEqual(log, { up: [2], down: [] });
    assert.equal(fleet.errors.length, 0, 'superseded is not an error');
    newer.socket.destroy();
  });

  test('send returns false without a link, and refuses a payload over the frame limit', async () => {
    const a = await fleet.start(1, { maxFrameBytes: 2048 });
    const b = await fleet.start(2);
    assert.equal(a.send(2, Buffer.from('nobody')), false);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    assert.equal(a.maxPayloadBytes, 2048 - 6 - 16);
    assert.equal(a.send(2, Buffer.alloc(a.maxPayloadBytes)), true);
    const error = nextEvent(a, 'error');
    assert.equal(a.send(2, Buffer.alloc(a.maxPayloadBytes + 1)), false);
    assert.equal((await error)[0].reason, 'frame-too-large');
    // b declared 64 KiB, but a's smaller limit binds b's sends too.
    assert.equal(b.send(1, Buffer.alloc(2048)), false);
  });

  test('encrypt: links come up and messages arrive', async () => {
    const a = await fleet.start(1, { encrypt: true });
    const b = await fleet.start(2);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    await linked(b, 1);
    await roundTrip(a, b, 1, 2, 'sealed');
    await roundTrip(b, a, 2, 1, 'sealed back');
  });
});

describe('TcpTransport hostile input', () => {
  test('garbage bytes close that connection, are counted, and real peers are unaffected', async () => {
    const a = await fleet.start(1);
    const b = await fleet.start(2);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    const errors: TransportError[] = [];
    b.on('error', (e) => errors.push(e));

    const socket = await rawClient(b);
    const bytes = received(socket);
    socket.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    await bytes;
    assert.equal(b.stats().badFrames, 1);
    assert.equal(errors[0]?.reason, 'frame-too-large');

    const socket2 = await rawClient(b);
    const bytes2 = received(socket2);
    socket2.write(Buffer.from([0, 0, 0, 4, 1, 99, 0, 0])); // unknown kind
    assert.equal(rejectReason(await bytes2), 'bad-frame');
    assert.equal(b.stats().badFrames, 2);
    assert.equal(b.stats().rejected['bad-frame'], 1);

    await roundTrip(a, b, 1, 2, 'still fine');
    assert.equal(b.connectedPeers.has(1), true);
  });

  test('an oversized frame is refused from its header', async () => {
    const a = await fleet.start(1);
    const socket = await rawClient(a);
    const bytes = received(socket);
    const header = Buffer.alloc(6);
    header.writeUInt32BE(10 * 1024 * 1024);
    header[4] = 1;
    header[5] = FrameKind.Hello;
    socket.write(header);
    assert.equal(rejectReason(await bytes), 'frame-too-large');
    assert.equal(a.stats().rejected['frame-too-large'], 1);
    assert.equal(a.stats().badFrames, 1);
  });

  test('after the handshake: oversized, forged and replayed frames close the link and are counted', async () => {
    const a = await fleet.start(1, { maxFrameBytes: 4096 });

    const p1 = await rawPeer(a, 2);
    await waitFor(() => a.connectedPeers.has(2), 5000, 'link 2');
    const header = Buffer.alloc(6);
    header.writeUInt32BE(5000);
    header[4] = 1;
    header[5] = FrameKind.Data;
    p1.socket.write(header);
    await p1.closed;
    assert.equal(a.stats().closed['frame-too-large'], 1);

    const p2 = await rawPeer(a, 3);
    await waitFor(() => a.connectedPeers.has(3), 5000, 'link 3');
    const forged = p2.channel.seal(FrameKind.Data, Buffer.from('hello'));
    forged[forged.length - 1]! ^= 1;
    p2.socket.write(forged);
    await p2.closed;
    assert.equal(a.stats().closed['auth-failed'], 1);

    const p3 = await rawPeer(a, 4);
    await waitFor(() => a.connectedPeers.has(4), 5000, 'link 4');
    const got = nextEvent(a, 'message');
    const frame = p3.channel.seal(FrameKind.Data, Buffer.from('once'));
    p3.socket.write(frame);
    assert.equal(Buffer.from((await got)[1]).toString(), 'once');
    p3.socket.write(frame);
    await p3.closed;
    assert.equal(a.stats().closed.replay, 1);

    // A frame captured on one connection, replayed on a fresh one.
    const p4 = await rawPeer(a, 4);
    await waitFor(() => a.connectedPeers.has(4), 5000, 'link 4 again');
    p4.socket.write(frame);
    await p4.closed;
    assert.equal(a.stats().closed['auth-failed'], 2);
    assert.equal(a.stats().badFrames, 4);
  });

  test('slow-loris: a connection that never handshakes is closed after handshakeTimeoutMs', async () => {
    const a = await fleet.start(1, { handshakeTimeoutMs: 200 });
    const started = performance.now();
    const socket = await rawClient(a);
    const bytes = await received(socket);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms`);
    assert.equal(rejectReason(bytes), 'handshake-timeout');
    assert.equal(a.stats().rejected['handshake-timeout'], 1);
  });

  test('a connection trickling a partial frame is closed by the handshake timeout too', async () => {
    const a = await fleet.start(1, { handshakeTimeoutMs: 200 });
    const socket = await rawClient(a);
    const bytes = received(socket);
    socket.write(encodeFrame(FrameKind.Hello, Buffer.alloc(100)).subarray(0, 50));
    assert.equal(rejectReason(await bytes), 'handshake-timeout');
  });

  test('too many connections from one address are refused', async () => {
    const a = await fleet.start(1, { maxConnectionsPerAddress: 2, handshakeTimeoutMs: 5000 });
    const held = [await rawClient(a), await rawClient(a)];
    await waitFor(() => a.stats().connectionsAccepted === 2, 5000, 'two accepted');
    const third = await rawClient(a);
    assert.equal(rejectReason(await received(third)), 'too-many-connections');
    assert.equal(a.stats().rejected['too-many-connections'], 1);
    // Slots free up when a held connection goes away.
    const gone = new Promise((resolve) => held[0]!.once('close', resolve));
    held[0]!.destroy();
    await gone;
    await waitFor(() => a.openConnections === 1, 5000, 'slot freed');
    const fourth = await rawClient(a);
    const fourthBytes = received(fourth);
    await waitFor(() => a.openConnections === 2, 5000, 'fourth accepted');
    assert.equal(a.stats().rejected['too-many-connections'], 1);
    for (const s of [held[1]!, fourth]) s.destroy();
    await fourthBytes;
  });

  test('duplicate ID: a second live node with an ID already linked is refused on both sides', async () => {
    const c = await fleet.start(3);
    const first = await fleet.start(1);
    const logC = eventLog(c);
    first.addPeer(endpointOf(c));
    await linked(c, 1);
    const second = await fleet.start(1);
    const refusedSide = nextEvent(second, 'error');
    const refusingSide = nextEvent(c, 'error');
    second.addPeer(endpointOf(c));
    assert.equal((await refusedSide)[0].reason, 'duplicate-id');
    assert.equal((await refusingSide)[0].reason, 'duplicate-id');
    assert.ok((c.stats().rejected['duplicate-id'] ?? 0) >= 1);
    assert.ok((second.stats().rejected['duplicate-id'] ?? 0) >= 1);
    await roundTrip(first, c, 1, 3, 'original still linked');
    assert.deepEqual(logC, { up: [1], down: [] });
  });

  test('own ID: dialing itself is detected once and not retried; another node with the same ID is refused', async () => {
    const a = await fleet.start(1, { reconnectMinMs: 5, reconnectMaxMs: 10 });
    const errors: TransportError[] = [];
    a.on('error', (e) => errors.push(e));
    a.addPeer(endpointOf(a));
    await waitFor(() => errors.length > 0, 5000, 'own-id error');
    await waitFor(() => a.openConnections === 0, 5000, 'self connection closed');
    // Negative check: several backoff periods later, still one dial and one error.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(a.stats().connectionsDialed, 1);
    assert.deepEqual(
      errors.map((e) => e.reason),
      ['own-id'],
    );
    assert.match(errors[0]!.message, /itself/);

    const twin = await fleet.start(1);
    const refusing = nextEvent(twin, 'error');
    const refused = nextEvent(a, 'error');
    a.addPeer(endpointOf(twin));
    assert.equal((await refusing)[0].reason, 'own-id');
    assert.equal((await refused)[0].reason, 'own-id');
  });

  test('wrong secret over TCP: auth-failed on both sides, no link', async () => {
    const a = await fleet.start(1);
    const b = await fleet.start(2, { secret: OTHER_SECRET });
    const errA = nextEvent(a, 'error');
    const errB = nextEvent(b, 'error');
    a.addPeer(endpointOf(b));
    const [[ea], [eb]] = await Promise.all([errA, errB]);
    assert.equal(ea.reason, 'auth-failed');
    assert.equal(eb.reason, 'auth-failed');
    assert.ok(ea instanceof TransportError && eb instanceof TransportError);
    assert.equal(a.connectedPeers.size + b.connectedPeers.size, 0);
  });

  test('wrong cluster and cluster-full over TCP', async () => {
    const a = await fleet.start(1, { clusterSize: 2 });
    const b = await fleet.start(2, { clusterSize: 2 });
    const c = await fleet.start(3, { clusterSize: 2 });
    const other = await fleet.start(4, { clusterSize: 2, cluster: 'elsewhere' });
    b.addPeer(endpointOf(a));
    await linked(a, 2);
    const full = nextEvent(c, 'error');
    c.addPeer(endpointOf(a));
    assert.equal((await full)[0].reason, 'cluster-full');
    const wrong = nextEvent(other, 'error');
    other.addPeer(endpointOf(a));
    assert.equal((await wrong)[0].reason, 'wrong-cluster');
    assert.equal(a.stats().rejected['cluster-full'], 1);
  });

  test('a peer that stops reading is dropped when its backlog passes maxWriteBufferBytes', async () => {
    const a = await fleet.start(1, { maxFrameBytes: 16 * 1024, maxWriteBufferBytes: 64 * 1024 });
    const peer = await rawPeer(a, 2);
    peer.socket.pause();
    await waitFor(() => a.connectedPeers.has(2), 5000, 'link');
    const error = nextEvent(a, 'error');
    const chunk = Buffer.alloc(16 * 1024 - 64);
    let sent = 0;
    while (a.send(2, chunk)) {
      sent++;
      if (sent > 100_000) assert.fail('backlog never bounded');
    }
    assert.equal((await error)[0].reason, 'write-buffer-full');
    assert.equal(a.stats().closed['write-buffer-full'], 1);
    peer.socket.destroy();
  });

  test('a silent peer is dropped after idleTimeoutMs; a live one is kept by keepalives', async () => {
    const a = await fleet.start(1, { keepaliveMs: 20, idleTimeoutMs: 100 });
    const b = await fleet.start(2, { keepaliveMs: 20, idleTimeoutMs: 100 });
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    const peer = await rawPeer(a, 3);
    const down = await nextEvent(a, 'peerDown');
    assert.deepEqual(down, [3]);
    await peer.closed;
    assert.equal(a.stats().closed['idle-timeout'], 1);
    assert.ok(
      peer.received.some((f) => f.kind === FrameKind.Ping),
      'the transport sent keepalives',
    );
    assert.equal(a.connectedPeers.has(2), true);
  });
});

describe('TcpTransport security posture', () => {
  test('no secret on a non-loopback listen address is refused before binding', async () => {
    const t = new TcpTransport(transportOptions(1, { secret: undefined, listen: { host: '0.0.0.0', port: 0 } }));
    await assert.rejects(t.start(), (e: unknown) => e instanceof TransportError && e.reason === 'insecure-refused');
    assert.doesNotThrow(() => checkListenSecurity({ host: '0.0.0.0', port: 1 }, false, true));
    assert.doesNotThrow(() => checkListenSecurity({ host: '10.0.0.1', port: 1 }, true, false));
    assert.doesNotThrow(() => checkListenSecurity({ host: '::1', port: 1 }, false, false));
    await t.stop();
  });

  test('a listen address in use rejects with listen-failed', async () => {
    const a = await fleet.start(1);
    const b = new TcpTransport(transportOptions(2, { listen: endpointOf(a) }));
    await assert.rejects(b.start(), (e: unknown) => e instanceof TransportError && e.reason === 'listen-failed');
    await b.stop();
  });

  test('rejects a short secret at construction', () => {
    assert.throws(() => new TcpTransport(transportOptions(1, { secret: Buffer.alloc(16) })), /secret/);
  });

  test('no secret on loopback works, and logs once that the cluster is unauthenticated', async () => {
    const lines = captureDebug();
    try {
      const a = await fleet.start(1, { secret: undefined });
      const b = await fleet.start(2, { secret: undefined });
      a.addPeer(endpointOf(b));
      await linked(a, 2);
      await roundTrip(a, b, 1, 2, 'plain');
      assert.equal(lines.filter((l) => l.includes('UNAUTHENTICATED') && l.includes('[1]')).length, 1);
    } finally {
      lines.release();
    }
  });

  test('the secret never appears in errors, debug output or inspectable state', async () => {
    const lines = captureDebug();
    try {
      const errors: TransportError[] = [];
      const a = await fleet.start(1, { encrypt: true });
      const b = await fleet.start(2);
      const wrong = await fleet.start(3, { secret: OTHER_SECRET });
      for (const t of [a, b, wrong]) t.on('error', (e) => errors.push(e));
      a.addPeer(endpointOf(b));
      wrong.addPeer(endpointOf(a));
      await linked(a, 2);
      await roundTrip(a, b, 1, 2, 'x');
      await waitFor(() => errors.length >= 2, 5000, 'auth errors');
      const garbage = await rawClient(a);
      const closed = received(garbage);
      garbage.write(Buffer.alloc(64, 0xff));
      await closed;

      const haystack = [
        ...lines,
        ...errors.map((e) => `${e.message} ${JSON.stringify(e)} ${inspect(e, { depth: 5 })}`),
        ...[a, b, wrong].map((t) => `${JSON.stringify(Object.keys(t))} ${inspect(t, { depth: 6, showHidden: true })}`),
      ].join('\n');
      assert.ok(lines.length > 5, 'debug output was captured');
      for (const secret of [SECRET, OTHER_SECRET]) {
        for (const form of [
          secret.toString('hex'),
          secret.toString('base64'),
          secret.subarray(0, 8).toString('hex'),
          inspect(secret.subarray(0, 8)).slice(8, 30),
        ]) {
          assert.equal(haystack.includes(form), false, `found ${form}`);
        }
      }
    } finally {
      lines.release();
    }
  });
});

describe('TcpTransport shutdown', () => {
  test('stop() leaves no handles: a process using transports exits on its own', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./support/transport-exit-child.ts', import.meta.url))],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    assert.equal(code, 0, output);
    const resources = JSON.parse(output.trim().split('\n').at(-1)!) as string[];
    assert.deepEqual(
      resources.filter((r) => /TCP|Timeout/.test(r)),
      [],
    );
  });

  test('stop() emits peerDown for each link and nothing afterwards', async () => {
    const a = await fleet.start(1);
    const b = await fleet.start(2);
    a.addPeer(endpointOf(b));
    await linked(a, 2);
    const log = eventLog(a);
    await a.stop();
    assert.deepEqual(log.down, [2]);
    assert.equal(a.connectedPeers.size, 0);
    assert.equal(a.openConnections, 0);
    assert.equal(a.send(2, Buffer.from('late')), false);
    await assert.rejects(a.start(), /stop/);
  });
});

/** Captures `leader-ip:*` debug output for the duration of a test. */
function captureDebug(): string[] & { release(): void } {
  const lines = [] as unknown as string[] & { release(): void };
  const previousLog = createDebug.log;
  const previousNamespaces = createDebug.disable();
  createDebug.enable('leader-ip:*');
  createDebug.log = (...args: unknown[]) => {
    lines.push(format(...args));
  };
  lines.release = () => {
    createDebug.log = previousLog;
    createDebug.disable();
    if (previousNamespaces) createDebug.enable(previousNamespaces);
  };
  return lines;
}
