/**
 * The plumbing every fake provider API shares: a real HTTP server on 127.0.0.1, the request log, request (and
 * response) validation callbacks, scripted faults (a status or a dropped connection), and waiters
 * ({@link FakeHttpServer}, the base of every fake, and {@link FakeProviderServer}, the base of the JSON ones). Each
 * provider's fake adds its own routes, error bodies, rate-limit headers and metadata service.
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { type WaitOptions, waitUntil } from '../util/wait.ts';
import type {
  FakeFault,
  FakeRequestRecord,
  FakeRequestValidator,
  FakeResponseValidator,
  FakeValidatedRequest,
} from './fake-digitalocean.ts';

/** What a provider's route handler returns. */
export interface FakeReply {
  /** The HTTP status to answer with. */
  status: number;
  /** JSON body; `undefined` sends no body (e.g. 204). A string is sent as `text/plain`. */
  body?: unknown;
  /** Extra response headers. */
  headers?: Record<string, string> | undefined;
}

/** Validators shared by every fake. */
export interface FakeValidationOptions {
  /** Checks every API request; a problem is recorded in `violations` and answered with 400. Default: none. */
  validateRequest?: FakeRequestValidator | undefined;
  /** Checks every API response before it is sent; a problem is recorded in `violations`. Default: none. */
  validateResponse?: FakeResponseValidator | undefined;
}

interface Armed<F> {
  fault: F;
  left: number;
}

/**
 * The HTTP plumbing of every fake (DigitalOcean, Hetzner, Vultr, EC2): a real HTTP server, the request log and its
 * waiters, scripted faults, body reading and answer writing. A subclass routes each request: it records it with
 * {@link recordRequest}, takes a fault with {@link takeFault} and answers with {@link sendReply}.
 * @typeParam R - The fake's request record.
 * @typeParam F - The fake's scripted fault.
 */
export abstract class FakeHttpServer<
  R extends {
    /** An API request, or one to the metadata service. */
    kind: 'api' | 'metadata';
  },
  F extends {
    /** How many matching requests the fault hits. Default 1. */
    times?: number | undefined;
  },
> {
  /** Every request received, in order. */
  readonly requests: R[] = [];
  /** Problems reported by the validators (and the fake's own checks); a test should assert this stays empty. */
  readonly violations: string[] = [];
  #server: Server | undefined;
  #url = '';
  readonly #faults: Armed<F>[] = [];
  readonly #waiters = new Set<{ match: (r: R) => boolean; resolve: (r: R) => void }>();

  /** Base URL, e.g. `http://127.0.0.1:41234`: pass it as both the client's API URL and its metadata URL. */
  get url(): string {
    return this.#url;
  }

  /** Listens on `host` (default 127.0.0.1) and a free port. */
  protected async listen(host = '127.0.0.1'): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    this.#url = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  }

  /** Stops the server (open connections are closed) and the provider's timers. */
  async close(): Promise<void> {
    this.stopTimers();
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Requests to the API (not the metadata service). */
  apiRequests(): R[] {
    return this.requests.filter((r) => r.kind === 'api');
  }

  /**
   * Resolves with the first request (already received or future) that `match` accepts, before it is answered.
   * Rejects with a `WaitTimeoutError` after `timeoutMs` (default 10 s), or an `AbortError` when `signal` aborts.
   */
  waitForRequest(match: (request: R) => boolean, options: WaitOptions = {}): Promise<R> {
    return waitUntil<R>(
      (done) => {
        const seen = this.requests.find(match);
        if (seen !== undefined) done(seen);
        const waiter = { match, resolve: done };
        this.#waiters.add(waiter);
        return () => this.#waiters.delete(waiter);
      },
      () => `a matching request (${this.requests.length} received so far)`,
      options,
    );
  }

  /** Scripts a failure for the next matching API request(s). Faults apply in the order injected. */
  inject(fault: F): void {
    this.#faults.push({ fault, left: fault.times ?? 1 });
  }

  /** Drops every scripted fault not yet used. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Answers a request whose body has been read. A throw is recorded in `violations` and answered with {@link crashReply}. */
  protected abstract serve(req: IncomingMessage, res: ServerResponse, body: Buffer): void;
  /** The answer to a request the fake crashed on. */
  protected abstract crashReply(): FakeReply;
  /** Clears the provider's timers on close. */
  protected abstract stopTimers(): void;

  /** Logs a request and wakes the waiters it matches; call it before answering. */
  protected recordRequest(record: R): void {
    this.requests.push(record);
    for (const waiter of this.#waiters) {
      if (waiter.match(record)) {
        this.#waiters.delete(waiter);
        waiter.resolve(record);
      }
    }
  }

  /** The first scripted fault `applies` accepts, spending one of its `times`; `undefined` when none. */
  protected takeFault(applies: (fault: F) => boolean): F | undefined {
    const armed = this.#faults.find((a) => applies(a.fault));
    if (armed === undefined) return undefined;
    if (--armed.left <= 0) this.#faults.splice(this.#faults.indexOf(armed), 1);
    return armed.fault;
  }

  /**
   * Writes an answer: no body, a string as `text/plain` or anything else as JSON. `reply.headers` may replace the
   * content type (e.g. XML).
   */
  protected sendReply(res: ServerResponse, reply: FakeReply): void {
    const headers = { ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers);
      res.end();
    } else if (typeof reply.body === 'string') {
      res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(reply.body);
    } else {
      res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(reply.body));
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        this.serve(req, res, Buffer.concat(chunks));
      } catch (error) {
        this.violations.push(`fake crashed on ${req.method} ${req.url}: ${String(error)}`);
        if (!res.headersSent) this.sendReply(res, this.crashReply());
      }
    });
  }
}

/**
 * Base of the DigitalOcean, Hetzner and Vultr fakes (JSON APIs with a bearer token). Subclasses implement the
 * provider's API; this class serves it.
 */
export abstract class FakeProviderServer extends FakeHttpServer<FakeRequestRecord, FakeFault> {
  readonly #validation: FakeValidationOptions;

  protected constructor(validation: FakeValidationOptions) {
    super();
    this.#validation = validation;
  }

  /** Whether a path belongs to the metadata service. */
  protected abstract isMetadata(pathname: string): boolean;
  /** Answers a metadata request (no token involved). */
  protected abstract metadata(pathname: string, headers: IncomingMessage['headers']): FakeReply;
  /** Whether the request carries the accepted credentials. */
  protected abstract authorized(headers: IncomingMessage['headers']): boolean;
  /** The provider's answer to a request with bad credentials. */
  protected abstract unauthorized(): FakeReply;
  /** The provider's error body for an injected status without one. */
  protected abstract defaultError(status: number): unknown;
  /** Spends rate-limit budget: returns the 429 to send when it is exhausted. */
  protected abstract spendBudget(): FakeReply | undefined;
  /** Headers every API answer carries (rate-limit state, request ID); `reply` is the answer they go with. */
  protected abstract commonHeaders(reply: FakeReply): Record<string, string>;
  /** The API itself. */
  protected abstract api(request: FakeValidatedRequest): FakeReply;

  /** The answer to a request the validators refused. Default: 400 with {@link defaultError}. */
  protected badRequest(_problems: string[]): FakeReply {
    return { status: 400, body: this.defaultError(400) };
  }

  protected crashReply(): FakeReply {
    return { status: 500, body: this.defaultError(500) };
  }

  protected serve(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const rawBody = raw.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    let body: unknown;
    let badJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        badJson = true;
      }
    }
    const isMetadata = this.isMetadata(url.pathname);
    const authorized = this.authorized(req.headers);
    const record: FakeRequestRecord = {
      seq: this.requests.length + 1,
      at: performance.now(),
      method,
      path: url.pathname + url.search,
      kind: isMetadata ? 'metadata' : 'api',
      body,
      hadAuthorization: req.headers.authorization !== undefined,
      authorized,
      outcome: undefined,
    };
    this.recordRequest(record);

    if (isMetadata) {
      const reply = this.metadata(url.pathname, req.headers);
      record.outcome = reply.status;
      this.sendReply(res, reply);
      return;
    }

    const view: FakeValidatedRequest = {
      method,
      pathname: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      rawBody,
    };
    const reply = (answer: FakeReply): void => {
      const problems = this.#validation.validateResponse?.(view, answer.status, answer.body) ?? [];
      for (const problem of problems) this.violations.push(`response to ${method} ${url.pathname}: ${problem}`);
      record.outcome = answer.status;
      this.sendReply(res, { ...answer, headers: { ...this.commonHeaders(answer), ...answer.headers } });
    };

    const problems = this.#validation.validateRequest?.(view) ?? [];
    if (badJson) problems.push('body is not valid JSON');
    if (problems.length > 0) {
      for (const problem of problems) this.violations.push(`${method} ${url.pathname}: ${problem}`);
      reply(this.badRequest(problems));
      return;
    }

    const fault = this.takeFault((f) => matches(f, method, url.pathname));
    if (fault !== undefined) {
      if (fault.kind === 'drop') {
        record.outcome = 'dropped';
        req.socket.destroy();
        return;
      }
      const status = fault.status ?? 500;
      reply({ status, body: fault.body ?? this.defaultError(status), headers: fault.headers });
      return;
    }

    if (!authorized) {
      reply(this.unauthorized());
      return;
    }
    const limited = this.spendBudget();
    if (limited !== undefined) {
      reply(limited);
      return;
    }
    reply(this.api(view));
  }
}

function matches(fault: FakeFault, method: string, pathname: string): boolean {
  const want = fault.match;
  if (want?.method !== undefined && want.method.toUpperCase() !== method) return false;
  if (want?.path === undefined) return true;
  return typeof want.path === 'string' ? want.path === pathname : want.path.test(pathname);
}

/**
 * A token bucket like Hetzner's (a budget that refills one token per `refillMs`). Vultr's per-second limit is the
 * same bucket with `refillMs = 1000 / limit`.
 */
export class TokenBucket {
  /** Requests the bucket holds when full. */
  readonly limit: number;
  /** Time to refill one request, ms. */
  readonly refillMs: number;
  #tokens: number;
  #at = performance.now();
  constructor(limit: number, refillMs: number) {
    this.limit = limit;
    this.refillMs = refillMs;
    this.#tokens = limit;
  }
  /** Tokens left now. */
  remaining(): number {
    this.#refill();
    return Math.floor(this.#tokens);
  }
  /** Takes a token if there is one. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
  /** Milliseconds until the next token. */
  msToNext(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) * this.refillMs;
  }
  /** Milliseconds until the bucket is full again. */
  msToFull(): number {
    this.#refill();
    return (this.limit - this.#tokens) * this.refillMs;
  }
  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.limit, this.#tokens + (now - this.#at) / this.refillMs);
    this.#at = now;
  }
}
