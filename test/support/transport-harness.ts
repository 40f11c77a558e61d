/**
 * Helpers for the transport tests: awaiting eventemitter3 events, in-memory handshake pairs, and raw sockets.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { EventEmitter } from 'eventemitter3';
import { type Frame, FrameDecoder, type FrameError } from '../../src/transport/frame.ts';
import { Handshake, type HandshakeConfig, type HandshakeOutcome } from '../../src/transport/handshake.ts';
import { INCARNATION_BYTES } from '../../src/transport/messages.ts';
import { TcpTransport } from '../../src/transport/tcp-transport.ts';
import type { TransportEvents, TransportOptions } from '../../src/transport/types.ts';

/** A 32-byte test secret with a recognisable pattern (so leak checks can search for it). */
export const SECRET = Buffer.from('c0ffee00'.repeat(8), 'hex');
export const OTHER_SECRET = Buffer.from('deadbeef'.repeat(8), 'hex');

type Args<F> = F extends (...args: infer A) => void ? A : never;

/** Resolves with the arguments of the next `event` (optionally the next one matching `filter`). */
export function nextEvent<E extends keyof TransportEvents>(
  emitter: EventEmitter<TransportEvents>,
  event: E,
  options: { timeoutMs?: number; filter?: (...args: Args<TransportEvents[E]>) => boolean } = {},
): Promise<Args<TransportEvents[E]>> {
  const { timeoutMs = 5000, filter } = options;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener as never);
      reject(new Error(`timed out waiting for '${String(event)}'`));
    }, timeoutMs);
    const listener = (...args: Args<TransportEvents[E]>) => {
      if (filter && !filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener as never);
      resolve(args);
    };
    emitter.on(event, listener as never);
  });
}

export { waitFor } from './wait.ts';

/** Transport options for tests: loopback, port 0, fast timers. */
export function transportOptions(nodeId: number, overrides: Partial<TransportOptions> = {}): TransportOptions {
  return {
    nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    cluster: 'test',
    clusterSize: 5,
    secret: SECRET,
    reconnectMinMs: 10,
    reconnectMaxMs: 100,
    handshakeTimeoutMs: 1000,
    ...overrides,
  };
}

/** Tracks transports so a test can stop them all. */
export class Fleet {
  readonly transports: TcpTransport[] = [];
  readonly errors: Error[] = [];

  async start(nodeId: number, overrides: Partial<TransportOptions> = {}): Promise<TcpTransport> {
    const transport = new TcpTransport(transportOptions(nodeId, overrides));
    transport.on('error', (error) => this.errors.push(error));
    this.transports.push(transport);
    await transport.start();
    return transport;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.stop()));
  }
}

/** `host:port` endpoint of a started transport. */
export function endpointOf(transport: TcpTransport): { host: string; port: number } {
  const local = transport.localEndpoint;
  if (!local) throw new Error('transport not started');
  return local;
}

/** Opens a raw TCP client (no handshake) to a started transport. */
export async function rawClient(transport: TcpTransport): Promise<Socket> {
  const { host, port } = endpointOf(transport);
  const socket = connect({ host, port });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves when `socket` closed, with every byte it received. */
export function received(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

/** Decodes every frame of a byte string (stops at the first error). */
export function decodeAll(
  bytes: Uint8Array,
  maxFrameBytes = 1 << 20,
): { frames: Frame[]; error: FrameError | undefined } {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const { frames, error } = decoder.push(bytes);
  return { frames, error: error ?? decoder.end() };
}

/** Default in-memory handshake config. */
export function handshakeConfig(
  role: HandshakeConfig['role'],
  nodeId: number,
  overrides: Partial<HandshakeConfig> = {},
): HandshakeConfig {
  return {
    role,
    nodeId,
    cluster: 'test',
    clusterSize: 3,
    advertised: `127.0.0.1:${7000 + nodeId}`,
    maxFrameBytes: 64 * 1024,
    incarnation: randomBytes(INCARNATION_BYTES),
    secret: SECRET,
    ...overrides,
  };
}

/** A frame in flight between the two in-memory handshakes, as raw bytes. */
export interface Transit {
  from: 'initiator' | 'responder';
  index: number;
  bytes: Buffer;
}

/**
 * Runs two handshakes against each other in memory, passing bytes through real decoders. `tamper` may
 * rewrite (or drop, by returning an empty buffer) any frame in transit. Never throws on the handshakes' behalf:
 * a throw from them propagates to the test.
 */
export function runHandshake(
  initiatorConfig: HandshakeConfig,
  responderConfig: HandshakeConfig,
  tamper: (transit: Transit) => Buffer = (t) => t.bytes,
): { initiator: HandshakeOutcome; responder: HandshakeOutcome; transcript: Transit[] } {
  const sides = {
    initiator: { handshake: new Handshake(initiatorConfig), decoder: new FrameDecoder({ maxFrameBytes: 1 << 20 }) },
    responder: { handshake: new Handshake(responderConfig), decoder: new FrameDecoder({ maxFrameBytes: 1 << 20 }) },
  };
  const queue: Transit[] = [];
  const transcript: Transit[] = [];
  let index = 0;
  const enqueue = (from: Transit['from'], frames: Buffer[]) => {
    for (const bytes of frames) queue.push({ from, index: index++, bytes });
  };
  enqueue('initiator', sides.initiator.handshake.start().send);
  enqueue('responder', sides.responder.handshake.start().send);
  for (let guard = 0; queue.length > 0 && guard < 100; guard++) {
    const transit = queue.shift()!;
    const bytes = tamper(transit);
    transcript.push({ ...transit, bytes });
    const to = transit.from === 'initiator' ? 'responder' : 'initiator';
    const side = sides[to];
    const { frames, error } = side.decoder.push(bytes);
    for (const frame of frames) enqueue(to, side.handshake.receive(frame).send);
    if (error) enqueue(to, side.handshake.fail('bad-frame', error.message).send);
  }
  return {
    initiator: sides.initiator.handshake.outcome,
    responder: sides.responder.handshake.outcome,
    transcript,
  };
}

/** A hand-driven peer: a real socket that completed the handshake with a transport, exposing its channel. */
export interface RawPeer {
  socket: Socket;
  channel: import('../../src/transport/channel.ts').Channel;
  /** Frames the transport sent after the handshake (opened), in order. */
  received: { kind: number; body: Uint8Array }[];
  closed: Promise<void>;
}

/** Dials `transport` and performs the handshake as node `nodeId` with the given config overrides. */
export async function rawPeer(
  transport: TcpTransport,
  nodeId: number,
  overrides: Partial<HandshakeConfig> = {},
): Promise<RawPeer> {
  const socket = await rawClient(transport);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const handshake = new Handshake(
    handshakeConfig('initiator', nodeId, { clusterSize: 5, advertised: `127.0.0.1:${socket.localPort}`, ...overrides }),
  );
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const received: RawPeer['received'] = [];
  for (const frame of handshake.start().send) socket.write(frame);
  return new Promise((resolve, reject) => {
    socket.once('close', () => reject(new Error('closed during the handshake')));
    socket.on('data', (chunk: Buffer) => {
      const { frames } = decoder.push(chunk);
      for (const frame of frames) {
        const outcome = handshake.outcome;
        if (outcome.status === 'established') {
          const opened = outcome.channel.open(frame);
          if (opened.ok) received.push({ kind: frame.kind, body: opened.body });
          continue;
        }
        const step = handshake.receive(frame);
        for (const out of step.send) socket.write(out);
        if (step.outcome.status === 'established') {
          resolve({ socket, channel: step.outcome.channel, received, closed });
        } else if (step.outcome.status === 'failed') {
          reject(new Error(`handshake failed: ${step.outcome.reason}`));
        }
      }
    });
  });
}
