/**
 * The transport's listening socket: binds, counts inbound connections per remote IP, and refuses those beyond
 * `maxConnectionsPerAddress` with a REJECT before any handshake state exists. Everything accepted is handed to
 * the transport, which wraps it in a `Connection`.
 * @module
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Endpoint } from '../util/address.ts';
import { normalizeIp } from './connection.ts';
import { encodeFrame, FrameKind } from './frame.ts';
import { encodeReason } from './messages.ts';

/** What the listener needs from its transport. */
export interface ListenerHooks {
  /** Whether new sockets are welcome right now (the transport is started). */
  accepting(): boolean;
  /** A socket passed the per-address cap: it is the transport's now. */
  accept(socket: Socket, remote: string): void;
  /** A socket was refused for `too-many-connections`; `frameBytes` were written to it (the REJECT). */
  refused(remote: string, max: number, frameBytes: number): void;
  /** Every socket that reached the server, accepted or not. */
  arrived(): void;
  log(format: string, ...args: unknown[]): void;
}

export class Listener {
  #server: Server | undefined;
  /** Sockets refused before a Connection existed (too many from one address), closing. */
  readonly #refusedSockets = new Set<Socket>();
  readonly #inboundPerIp = new Map<string, number>();
  /** Settles when a pending listen() finished (so close() can wait for the server it may have opened). */
  #listening: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly maxPerAddress: number,
    private readonly lingerMs: number,
    private readonly hooks: ListenerHooks,
  ) {}

  /** Sockets refused and still closing. */
  get refusedOpen(): number {
    return this.#refusedSockets.size;
  }

  /** Binds `endpoint`; resolves with the bound port; rejects with the socket error (its `code` says why). */
  async listen(endpoint: Endpoint): Promise<number> {
    const server = createServer({ noDelay: true });
    server.on('connection', (socket) => this.#onInbound(socket));
    this.#server = server;
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port, endpoint.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#listening = listening.then(
      () => undefined,
      () => undefined,
    );
    await listening;
    server.on('error', (error: NodeJS.ErrnoException) => this.hooks.log('server error: %s', error.code));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : endpoint.port;
  }

  /** Closes the server and every refused socket; resolves when all are closed (waits for a pending listen). */
  async close(): Promise<void> {
    await this.#listening;
    const closing: Promise<void>[] = [];
    for (const socket of this.#refusedSockets) {
      closing.push(new Promise((resolve) => socket.once('close', () => resolve())));
      socket.destroy();
    }
    if (this.#server) {
      const server = this.#server;
      closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    await Promise.all(closing);
  }

  #onInbound(socket: Socket): void {
    this.hooks.arrived();
    socket.on('error', () => {});
    if (!this.hooks.accepting()) {
      socket.destroy();
      return;
    }
    const ip = normalizeIp(socket.remoteAddress);
    const remote = `${ip}:${socket.remotePort ?? 0}`;
    const count = this.#inboundPerIp.get(ip) ?? 0;
    if (count >= this.maxPerAddress) {
      this.#refuse(socket, remote);
      return;
    }
    this.#inboundPerIp.set(ip, count + 1);
    socket.once('close', () => {
      const left = (this.#inboundPerIp.get(ip) ?? 1) - 1;
      if (left > 0) this.#inboundPerIp.set(ip, left);
      else this.#inboundPerIp.delete(ip);
    });
    this.hooks.accept(socket, remote);
  }

  /** Too many connections from one address: answer REJECT and close, without a handshake or a decoder. */
  #refuse(socket: Socket, remote: string): void {
    this.#refusedSockets.add(socket);
    const frame = encodeFrame(FrameKind.Reject, encodeReason('too-many-connections'));
    this.hooks.refused(remote, this.maxPerAddress, frame.length);
    socket.end(frame);
    socket.resume();
    const linger = setTimeout(() => socket.destroy(), this.lingerMs).unref();
    socket.once('close', () => {
      clearTimeout(linger);
      this.#refusedSockets.delete(socket);
    });
  }
}
