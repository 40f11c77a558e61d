import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy for a cluster of node processes on 127.0.0.1. There is one listener per directed
 * link A→B: node A dials `127.0.0.1:portFor(A, B)` instead of B, and the proxy forwards to B's real port.
 *
 * Faults are set per direction of *data* (from→to), not per listener: the transport keeps one connection per
 * pair of nodes (the one dialed by the lower ID), so both directions of a pair's traffic usually cross the same
 * listener. Per direction, bytes can be:
 * - `open`: forwarded, after `delayMs` (order kept, as TCP would);
 * - `stall`: held in the kernel (the proxy stops reading, so the sender sees backpressure) and delivered when
 *   the direction opens again — a blackhole that TCP retransmission eventually gets through, stale data and all;
 * - `drop`: read and discarded — the receiver's stream then has a hole, which the per-frame MAC catches.
 * A pair can also be `refused` (existing connections reset, new ones closed at once) or `reset` once (a flap).
 * A FIN or RST is treated like data: it is held while its direction is stalled.
 * @module
 */

export type FlowMode = 'open' | 'stall' | 'drop';

export interface Flow {
  mode: FlowMode;
  delayMs: number;
}

export interface ProxyStats {
  connections: number;
  refused: number;
  resets: number;
  bytesForwarded: number;
  bytesDropped: number;
}

const OPEN: Flow = { mode: 'open', delayMs: 0 };

const directed = (from: number, to: number): string => `${from}>${to}`;
const pairKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

/** One direction of one proxied connection. */
class Pump {
  readonly #queue: { at: number; chunk: Buffer }[] = [];
  #lastAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The source ended (`end`) or failed (`error`): pass that on once everything before it is delivered. */
  #ending: 'end' | 'error' | undefined;
  #done = false;

  constructor(
    readonly from: number,
    readonly to: number,
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly flow: () => Flow,
    private readonly stats: ProxyStats,
  ) {
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.on('end', () => this.#finish('end'));
    source.on('error', () => this.#finish('error'));
    source.on('close', (hadError: boolean) => this.#finish(hadError ? 'error' : 'end'));
    this.update();
  }

  /** Re-reads the flow state after a change. */
  update(): void {
    if (this.#done) return;
    if (this.flow().mode === 'stall') this.source.pause();
    else this.source.resume();
    this.#release();
  }

  #onData(chunk: Buffer): void {
    const flow = this.flow();
    if (flow.mode === 'drop') {
      this.stats.bytesDropped += chunk.length;
      return;
    }
    const at = Math.max(performance.now() + flow.delayMs, this.#lastAt);
    this.#lastAt = at;
    this.#queue.push({ at, chunk });
    this.#release();
  }

  #finish(how: 'end' | 'error'): void {
    // An error (or a close without end) wins over a clean end: the stream was cut.
    if (this.#ending === undefined || how === 'error') this.#ending = how;
    this.#release();
  }

  #release(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#done || this.flow().mode === 'stall') return;
    const now = performance.now();
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.at > now) {
        this.#timer = setTimeout(() => this.#release(), Math.ceil(head.at - now));
        return;
      }
      this.#queue.shift();
      if (!this.sink.destroyed) {
        this.sink.write(head.chunk);
        this.stats.bytesForwarded += head.chunk.length;
      }
    }
    if (this.#ending !== undefined) {
      this.#done = true;
      if (this.#ending === 'end') this.sink.end();
      else this.sink.destroy();
    }
  }

  /** Drops everything at once (a reset, or the proxy stopping). */
  kill(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

/** A proxied connection: the dialer's socket and the one to the target node. */
class Pipe {
  readonly pumps: Pump[];

  constructor(
    readonly a: number,
    readonly b: number,
    readonly client: Socket,
    readonly upstream: Socket,
    pumps: Pump[],
  ) {
    this.pumps = pumps;
  }

  destroy(): void {
    for (const pump of this.pumps) pump.kill();
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class ChaosProxy {
  readonly stats: ProxyStats = { connections: 0, refused: 0, resets: 0, bytesForwarded: 0, bytesDropped: 0 };
  readonly #ids: readonly number[];
  readonly #targetPort: (id: number) => number | undefined;
  readonly #servers = new Map<string, Server>();
  readonly #ports = new Map<string, number>();
  readonly #flows = new Map<string, Flow>();
  readonly #refused = new Set<string>();
  readonly #pipes = new Set<Pipe>();

  /** `targetPort` is read at each connection, so a node may restart on its port at any time. */
  constructor(ids: readonly number[], targetPort: (id: number) => number | undefined) {
    this.#ids = ids;
    this.#targetPort = targetPort;
  }

  async start(): Promise<void> {
    const listening: Promise<void>[] = [];
    for (const from of this.#ids) {
      for (const to of this.#ids) {
        if (from === to) continue;
        const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(from, to, socket));
        this.#servers.set(directed(from, to), server);
        listening.push(
          new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              if (typeof address === 'object' && address !== null) this.#ports.set(directed(from, to), address.port);
              resolve();
            });
          }),
        );
      }
    }
    await Promise.all(listening);
  }

  portFor(from: number, to: number): number {
    const port = this.#ports.get(directed(from, to));
    if (port === undefined) throw new Error(`no proxy listener for ${from}→${to}`);
    return port;
  }

  /** The peer addresses node `id` should dial. */
  peersFor(id: number): string[] {
    return this.#ids.filter((other) => other !== id).map((other) => `127.0.0.1:${this.portFor(id, other)}`);
  }

  flow(from: number, to: number): Flow {
    return this.#flows.get(directed(from, to)) ?? OPEN;
  }

  /** Sets how data from `from` to `to` is treated, on live connections too. */
  setFlow(from: number, to: number, flow: Flow): void {
    if (flow.mode === 'open' && flow.delayMs === 0) this.#flows.delete(directed(from, to));
    else this.#flows.set(directed(from, to), { ...flow });
    for (const pipe of this.#pipes)
      for (const pump of pipe.pumps) if (pump.from === from && pump.to === to) pump.update();
  }

  /** While refused, connections between `a` and `b` (either direction) are reset and new ones closed at once. */
  setRefused(a: number, b: number, refused: boolean): void {
    if (!refused) {
      this.#refused.delete(pairKey(a, b));
      return;
    }
    this.#refused.add(pairKey(a, b));
    this.reset(a, b, false);
  }

  refused(a: number, b: number): boolean {
    return this.#refused.has(pairKey(a, b));
  }

  /** Resets every connection between `a` and `b` (a link flap); returns how many. */
  reset(a: number, b: number, count = true): number {
    let n = 0;
    for (const pipe of [...this.#pipes]) {
      if (pairKey(pipe.a, pipe.b) !== pairKey(a, b)) continue;
      pipe.destroy();
      this.#pipes.delete(pipe);
      n++;
    }
    if (count && n > 0) this.stats.resets++;
    return n;
  }

  /** Every direction open without delay, nothing refused; held data flows on. */
  healAll(): void {
    this.#refused.clear();
    this.#flows.clear();
    for (const pipe of this.#pipes) for (const pump of pipe.pumps) pump.update();
  }

  async stop(): Promise<void> {
    for (const pipe of this.#pipes) pipe.destroy();
    this.#pipes.clear();
    await Promise.all([...this.#servers.values()].map((server) => new Promise((resolve) => server.close(resolve))));
  }

  #accept(from: number, to: number, client: Socket): void {
    client.on('error', () => {});
    const port = this.#targetPort(to);
    if (this.#refused.has(pairKey(from, to)) || port === undefined) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.connections++;
    const upstream = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    upstream.on('error', () => {});
    const pumps = [
      new Pump(from, to, client, upstream, () => this.flow(from, to), this.stats),
      new Pump(to, from, upstream, client, () => this.flow(to, from), this.stats),
    ];
    const pipe = new Pipe(from, to, client, upstream, pumps);
    this.#pipes.add(pipe);
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) this.#pipes.delete(pipe);
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
  }
}
