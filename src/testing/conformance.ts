/**
 * One contract for every {@link FloatingIpAssigner}: a conformance suite that runs the same cases against any
 * assigner and the fake (or mock) behind it. The providers shipped with leader-ip run it in `npm test`; run it
 * against your own assigner with {@link describeAssignerConformance}.
 * @module
 */

import assert from 'node:assert/strict';
import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import {
  type FloatingIpAssigner,
  type HolderId,
  StaleTermError,
  sameHolder,
} from '../assigners/floating-ip-assigner.ts';
import { AbortError, AssignerError } from '../errors.ts';

/**
 * A failure the harness makes its fake answer with:
 * - `transient`: a server error (5xx) the assigner should treat as retryable;
 * - `fatal`: a permission or authentication error (401/403) the assigner must not retry;
 * - `rate-limit`: the provider's 429 with its own headers, asking for a short wait.
 */
export type ConformanceFault = 'transient' | 'fatal' | 'rate-limit';

/**
 * One assigner under test and control over the (fake) provider behind it. Built afresh for every case by the
 * factory given to {@link describeAssignerConformance}, and closed after it.
 */
export interface AssignerConformanceHarness {
  /** The assigner under test. It acts for one machine, "this machine", which must not hold the IP at first. */
  readonly assigner: FloatingIpAssigner;
  /** Who holds the IP, as the provider (fake) sees it, in the assigner's ID space. */
  holder(): HolderId | null | Promise<HolderId | null>;
  /** Moves the IP to another machine behind the assigner's back (a person in the control panel). */
  moveAway(): void | Promise<void>;
  /** Requests the provider has received so far, of every kind (reads included; metadata excluded). */
  requestCount(): number;
  /** Requests that asked the provider to move the IP (assign/attach/associate), received so far. */
  mutationCount(): number;
  /** Calls `listener` once, when the provider receives its next request and before it answers. */
  onNextRequest(listener: () => void): void;
  /** Makes the next `times` requests fail with `fault`. Only `transient` and `fatal` are required. */
  inject(fault: ConformanceFault, times: number): void;
  /** Strings that must never appear in an error, a log line or `JSON.stringify` (tokens, secret keys). */
  readonly secrets: readonly string[];
  /** Stops the fake; called after every case, passed or failed. */
  close(): Promise<void>;
}

/** Builds a fresh harness for one case. */
export type AssignerConformanceFactory = () => Promise<AssignerConformanceHarness>;

/** Options of {@link describeAssignerConformance} and {@link assignerConformanceCases}. */
export interface AssignerConformanceOptions {
  /**
   * Whether `assign()` itself retries a single transient failure (a 5xx) and still succeeds. True for the provider
   * assigners (they retry within bounds); false for assigners that leave retries to `bindFloatingIp`, like the mock.
   * Default true.
   */
  retriesTransient?: boolean | undefined;
  /** Whether the harness can inject `rate-limit` faults (then the assigner must wait and succeed). Default false. */
  rateLimit?: boolean | undefined;
  /** How long to watch for requests an assigner must not send after an abort. Default 300 ms. */
  quietMs?: number | undefined;
  /** An assign facing a persistent transient fault must reject within this bound. Default 10000 ms. */
  failWithinMs?: number | undefined;
  /** An assign facing a fatal fault may send at most this many requests. Default 3. */
  maxRequestsOnFatal?: number | undefined;
  /** Test-runner functions. Default: `node:test`'s `describe` and `it`; pass vitest's or jest's to use those. */
  runner?:
    | {
        /** Groups the cases under one title. */
        describe: (name: string, body: () => void) => unknown;
        /** Declares one case. */
        it: ConformanceIt;
      }
    | undefined;
}

/** The `it` of a test runner: a name and an async body. */
export type ConformanceIt = (name: string, body: () => Promise<void>) => unknown;

/** One case of the suite: a name and a self-contained run (it builds and closes its own harness). */
export interface AssignerConformanceCase {
  /** What the case checks, as the test title. */
  readonly name: string;
  /** Runs the case; rejects with an assertion error when the assigner does not conform. */
  run(): Promise<void>;
}

interface Settings {
  retriesTransient: boolean;
  rateLimit: boolean;
  quietMs: number;
  failWithinMs: number;
  maxRequestsOnFatal: number;
}

type Body = (h: AssignerConformanceHarness, s: Settings) => Promise<void>;

const CASES: ReadonlyArray<readonly [name: string, body: Body, when?: (s: Settings) => boolean]> = [
  [
    'assign moves the IP here; holder() and self() agree in one ID space',
    async (h) => {
      const { assigner } = h;
      const me = await assigner.self();
      assert.ok(!sameHolder(await h.holder(), me), 'harness: this machine must not hold the IP at first');
      assert.ok(!sameHolder(await assigner.holder(), me), 'holder() claims the IP is here before any assign');
      await assigner.assign({ term: 1 });
      assert.ok(sameHolder(await h.holder(), me), `the provider says ${String(await h.holder())}, self() is ${me}`);
      assert.ok(sameHolder(await assigner.holder(), me), 'holder() does not report self() after assign');
      assert.ok(h.mutationCount() >= 1, 'no move request was counted');
    },
  ],
  [
    'assign is idempotent: no move request when the IP is already here',
    async (h) => {
      await h.assigner.assign({ term: 1 });
      const moves = h.mutationCount();
      await h.assigner.assign({ term: 1 });
      await h.assigner.assign({ term: 2 });
      assert.equal(h.mutationCount(), moves, 'assign sent a move request although the IP was here');
      assert.ok(sameHolder(await h.holder(), await h.assigner.self()));
    },
  ],
  [
    'assign takes the IP back after it was moved away',
    async (h) => {
      const me = await h.assigner.self();
      await h.assigner.assign({ term: 1 });
      await h.moveAway();
      assert.ok(!sameHolder(await h.assigner.holder(), me), 'holder() still reports this machine after a move');
      await h.assigner.assign({ term: 1 });
      assert.ok(sameHolder(await h.holder(), me));
    },
  ],
  [
    'a stale term is refused with StaleTermError and sends nothing',
    async (h) => {
      await h.assigner.assign({ term: 5 });
      await h.moveAway();
      const before = h.requestCount();
      const error = await rejection(h.assigner.assign({ term: 4 }));
      assert.ok(error instanceof StaleTermError, `expected StaleTermError, got ${describeError(error)}`);
      assert.equal(error.retryable, false);
      assert.equal(h.requestCount(), before, 'a request was sent for a stale term');
      assert.ok(!sameHolder(await h.holder(), await h.assigner.self()), 'the stale assign moved the IP');
    },
  ],
  [
    'an already-aborted signal rejects with AbortError and sends nothing',
    async (h) => {
      await h.assigner.self();
      const before = h.requestCount();
      const error = await rejection(h.assigner.assign({ term: 1, signal: AbortSignal.abort() }));
      assert.ok(error instanceof AbortError, `expected AbortError, got ${describeError(error)}`);
      assert.equal(h.requestCount(), before, 'a request was sent after the abort');
    },
  ],
  [
    'abort during the call rejects with AbortError and sends nothing further',
    async (h, s) => {
      const me = await h.assigner.self();
      const controller = new AbortController();
      let seenAtAbort = -1;
      h.onNextRequest(() => {
        seenAtAbort = h.requestCount();
        controller.abort();
      });
      const error = await rejection(h.assigner.assign({ term: 1, signal: controller.signal }));
      assert.ok(error instanceof AbortError, `expected AbortError, got ${describeError(error)}`);
      assert.ok(seenAtAbort >= 1, 'the assign sent no request at all');
      await quiet(s.quietMs);
      assert.equal(h.requestCount(), seenAtAbort, 'requests were sent after the abort');
      assert.ok(!sameHolder(await h.holder(), me), 'the IP moved after the abort');
    },
  ],
  [
    'stillLeader() === false rejects with AbortError and sends nothing further',
    async (h, s) => {
      const me = await h.assigner.self();
      let leading = true;
      let seenAtLoss = -1;
      // Leadership ends while the first request is in flight; the next check must stop the call.
      h.onNextRequest(() => {
        seenAtLoss = h.requestCount();
        leading = false;
      });
      const error = await rejection(h.assigner.assign({ term: 1, stillLeader: () => leading }));
      assert.ok(error instanceof AbortError, `expected AbortError, got ${describeError(error)}`);
      await quiet(s.quietMs);
      assert.equal(h.requestCount(), seenAtLoss, 'requests were sent after stillLeader() turned false');
      assert.ok(!sameHolder(await h.holder(), me), 'the IP moved after leadership ended');
    },
  ],
  [
    'a fatal error rejects promptly with a typed, non-retryable AssignerError',
    async (h, s) => {
      await h.assigner.self();
      h.inject('fatal', 1000);
      const before = h.requestCount();
      const error = await rejection(h.assigner.assign({ term: 1 }));
      assertTypedError(error);
      assert.equal(error.retryable, false, `a fatal error is marked retryable: ${error.message}`);
      const status = (error as { status?: unknown }).status;
      if (status !== undefined) assert.ok(typeof status === 'number' && status >= 400 && status < 500, `${status}`);
      const sent = h.requestCount() - before;
      assert.ok(sent <= s.maxRequestsOnFatal, `${sent} requests for a fatal error (at most ${s.maxRequestsOnFatal})`);
    },
  ],
  [
    'a persistent transient error rejects with a retryable AssignerError within bounds',
    async (h, s) => {
      await h.assigner.self();
      h.inject('transient', 100_000);
      const started = performance.now();
      const error = await rejection(h.assigner.assign({ term: 1 }), s.failWithinMs);
      assertTypedError(error);
      assert.equal(error.retryable, true, `a transient error is not marked retryable: ${error.message}`);
      const took = performance.now() - started;
      assert.ok(took < s.failWithinMs, `took ${Math.round(took)} ms`);
    },
  ],
  [
    'a single transient error is retried within the call',
    async (h) => {
      await h.assigner.self();
      h.inject('transient', 1);
      await succeeds(h.assigner.assign({ term: 1 }), 'an assign after one transient failure');
      assert.ok(sameHolder(await h.holder(), await h.assigner.self()));
    },
    (s) => s.retriesTransient,
  ],
  [
    'a rate-limited request is retried after the wait the provider asks for',
    async (h) => {
      await h.assigner.self();
      h.inject('rate-limit', 1);
      await succeeds(h.assigner.assign({ term: 1 }), 'an assign after one 429');
      assert.ok(sameHolder(await h.holder(), await h.assigner.self()));
    },
    (s) => s.rateLimit,
  ],
  [
    'no secret in any error, log line, JSON.stringify or inspect',
    async (h) => {
      const lines: string[] = [];
      const restore = captureDebug(lines);
      const errors: unknown[] = [];
      try {
        await h.assigner.assign({ term: 1 });
        await h.moveAway();
        h.inject('transient', 100_000);
        errors.push(await rejection(h.assigner.assign({ term: 2 })));
        h.inject('fatal', 100_000);
        errors.push(await rejection(h.assigner.assign({ term: 3 })));
        errors.push(await rejection(h.assigner.holder()));
        errors.push(await rejection(h.assigner.assign({ term: 1 })));
        errors.push(await rejection(h.assigner.assign({ term: 4, signal: AbortSignal.abort() })));
      } finally {
        restore();
      }
      const texts: Array<[string, string]> = [
        ['JSON.stringify(assigner)', JSON.stringify(h.assigner) ?? ''],
        ['inspect(assigner)', inspect(h.assigner, { showHidden: true, depth: Number.POSITIVE_INFINITY })],
        ['debug output', lines.join('\n')],
      ];
      for (const error of errors) {
        const name = describeError(error);
        texts.push([`${name} message`, error instanceof Error ? error.message : String(error)]);
        texts.push([`${name} stack`, error instanceof Error ? String(error.stack) : '']);
        texts.push([`JSON.stringify(${name})`, JSON.stringify(error) ?? '']);
        texts.push([`inspect(${name})`, inspect(error, { showHidden: true, depth: Number.POSITIVE_INFINITY })]);
      }
      for (const secret of h.secrets) {
        assert.ok(secret.length >= 8, 'harness: secrets must be at least 8 characters to be searched for');
        for (const [where, text] of texts) {
          assert.ok(!text.includes(secret), `a secret leaked through ${where}`);
        }
      }
    },
  ],
];

/**
 * The suite's cases as plain functions, for running them outside a test runner's `describe` — e.g. to show that a
 * deliberately broken assigner fails a given case.
 */
export function assignerConformanceCases(
  factory: AssignerConformanceFactory,
  options: AssignerConformanceOptions = {},
): AssignerConformanceCase[] {
  const settings: Settings = {
    retriesTransient: options.retriesTransient ?? true,
    rateLimit: options.rateLimit ?? false,
    quietMs: options.quietMs ?? 300,
    failWithinMs: options.failWithinMs ?? 10_000,
    maxRequestsOnFatal: options.maxRequestsOnFatal ?? 3,
  };
  return CASES.filter(([, , when]) => when === undefined || when(settings)).map(([name, body]) => ({
    name,
    async run() {
      const harness = await factory();
      try {
        await body(harness, settings);
      } finally {
        await harness.close();
      }
    },
  }));
}

/**
 * Registers the conformance suite as a `describe` block named `name`, one test per case: idempotent assign,
 * `holder()`/`self()` in one ID space, stale terms refused, abort and `stillLeader() === false` sending nothing
 * further, fatal versus retryable errors (typed, bounded), retries of a single transient failure and of a 429
 * (when the options say the assigner does them), and no secret in any error, log line or `JSON.stringify`.
 *
 * ```ts
 * describeAssignerConformance('MyAssigner', async () => {
 *   const fake = await MyFake.start();
 *   return { assigner: new MyAssigner({ baseUrl: fake.url, token: 'test-token-123' }), ...controlsOf(fake) };
 * });
 * ```
 */
export function describeAssignerConformance(
  name: string,
  factory: AssignerConformanceFactory,
  options: AssignerConformanceOptions = {},
): void {
  const runner = options.runner ?? { describe: nodeDescribe, it: nodeIt };
  runner.describe(`${name}: FloatingIpAssigner conformance`, () => {
    for (const testCase of assignerConformanceCases(factory, options)) runner.it(testCase.name, () => testCase.run());
  });
}

function assertTypedError(error: unknown): asserts error is AssignerError {
  assert.ok(error instanceof AssignerError, `expected an AssignerError, got ${describeError(error)}`);
  assert.match(error.code, /^ERR_[A-Z0-9_]+$/, `error code ${error.code}`);
  assert.ok(!(error instanceof AbortError) && !(error instanceof StaleTermError), describeError(error));
}

// Settles with the rejection reason; fails when the promise resolves, or does not settle within `withinMs`.
async function rejection(promise: Promise<unknown>, withinMs = 30_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new assert.AssertionError({ message: `the call did not settle within ${withinMs} ms` })),
      withinMs,
    );
  });
  try {
    return await Promise.race([
      promise.then(
        () => assert.fail('expected the call to reject'),
        (error: unknown) => error,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// Resolves when the call succeeds; turns its rejection into a failed assertion that says what was expected.
async function succeeds(promise: Promise<unknown>, what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.fail(`${what} rejected: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${(error as { code?: unknown }).code ?? ''})`;
  return typeof error;
}

// Turns every leader-ip debug namespace on and records its lines; returns a function that restores the settings.
function captureDebug(lines: string[]): () => void {
  const previousLog = createDebug.log;
  const previousNamespaces = createDebug.disable();
  createDebug.log = (...args: unknown[]) => {
    lines.push(format(...args));
  };
  createDebug.enable('leader-ip:*');
  return () => {
    createDebug.log = previousLog;
    createDebug.disable();
    if (previousNamespaces) createDebug.enable(previousNamespaces);
  };
}
