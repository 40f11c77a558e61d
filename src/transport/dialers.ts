/**
 * The transport's dialers: one per configured peer address, redialing with capped, jittered exponential backoff
 * while no link to the node found there is up (in either direction), resting while one is.
 * @module
 */
import { type Endpoint, formatEndpoint } from '../util/address.ts';
import { Backoff } from './backoff.ts';
import type { Connection } from './connection.ts';

/** Dialing state of one configured peer address. */
export interface Dialer {
  endpoint: Endpoint;
  key: string;
  /** The node last found at this address: while it is linked (either direction) the dialer rests. */
  peerId: number | undefined;
  connection: Connection | undefined;
  timer: NodeJS.Timeout | undefined;
  backoff: Backoff;
  /** Next redial waits the backoff cap: the peer refused this node's configuration. */
  capNext: boolean;
  /** Never dialed again: the address is this node itself. */
  disabled: boolean;
}

/** What the dialers need from their transport. */
export interface DialerHooks {
  /** Whether dialing is allowed now (the transport is started). */
  active(): boolean;
  /** Whether a link to `peerId` is up. */
  linked(peerId: number): boolean;
  /** Opens an outbound connection to `dialer.endpoint`. */
  connect(dialer: Dialer): Connection;
  log(format: string, ...args: unknown[]): void;
}

export class Dialers {
  readonly #dialers = new Map<string, Dialer>();
  readonly #dialerOf = new WeakMap<Connection, Dialer>();

  constructor(
    private readonly reconnectMinMs: number,
    private readonly reconnectMaxMs: number,
    private readonly hooks: DialerHooks,
  ) {}

  /** Adds a dialer for `endpoint` (idempotent per address) and dials it at once when active. */
  add(endpoint: Endpoint): void {
    const key = formatEndpoint(endpoint);
    if (this.#dialers.has(key)) return;
    const dialer: Dialer = {
      endpoint: { host: endpoint.host, port: endpoint.port },
      key,
      peerId: undefined,
      connection: undefined,
      timer: undefined,
      backoff: new Backoff(this.reconnectMinMs, this.reconnectMaxMs),
      capNext: false,
      disabled: false,
    };
    this.#dialers.set(key, dialer);
    this.dial(dialer);
  }

  /** Dials every address (after start). */
  dialAll(): void {
    for (const dialer of this.#dialers.values()) this.dial(dialer);
  }

  /** The dialer that opened `connection`, if it was outbound. */
  of(connection: Connection): Dialer | undefined {
    return this.#dialerOf.get(connection);
  }

  /** A connection reached the end of the handshake: remember who answers at that address. */
  established(connection: Connection, peerId: number): void {
    const dialer = this.#dialerOf.get(connection);
    if (dialer) {
      dialer.peerId = peerId;
      dialer.backoff.reset();
    }
  }

  /** The link to `peerId` went down: redial every address where it was found. */
  linkDown(peerId: number): void {
    for (const dialer of this.#dialers.values()) if (dialer.peerId === peerId) this.#schedule(dialer);
  }

  /** A connection closed: if it was a dialer's, redial after the backoff. */
  closed(connection: Connection): void {
    const dialer = this.#dialerOf.get(connection);
    if (dialer && dialer.connection === connection) {
      dialer.connection = undefined;
      this.#schedule(dialer);
    }
  }

  /** Stops every dialer for good (transport stopping). */
  disableAll(): void {
    for (const dialer of this.#dialers.values()) {
      dialer.disabled = true;
      if (dialer.timer) clearTimeout(dialer.timer);
      dialer.timer = undefined;
    }
  }

  dial(dialer: Dialer): void {
    if (!this.hooks.active() || dialer.disabled || dialer.connection || dialer.timer) return;
    if (dialer.peerId !== undefined) {
      if (this.hooks.linked(dialer.peerId)) return;
      // Two addresses of one node: let one dialer at a time try, so they do not race each other.
      for (const other of this.#dialers.values()) {
        if (other !== dialer && other.peerId === dialer.peerId && other.connection) return;
      }
    }
    this.hooks.log('dialing %s', dialer.key);
    const connection = this.hooks.connect(dialer);
    dialer.connection = connection;
    this.#dialerOf.set(connection, dialer);
  }

  #schedule(dialer: Dialer): void {
    if (!this.hooks.active() || dialer.disabled || dialer.connection || dialer.timer) return;
    if (dialer.peerId !== undefined && this.hooks.linked(dialer.peerId)) return;
    const delay = dialer.capNext ? dialer.backoff.capped() : dialer.backoff.next();
    dialer.capNext = false;
    dialer.timer = setTimeout(() => {
      dialer.timer = undefined;
      this.dial(dialer);
    }, delay).unref();
  }
}
