import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError, decodeMessage, encodeMessage } from '../src/core/codec.ts';
import { type CoreConfig, deriveTiming } from '../src/core/config.ts';
import { type Effects, ElectionCore } from '../src/core/election-core.ts';
import type { Message, VoteRequest } from '../src/core/messages.ts';
import { applyEffects } from '../src/node/apply-effects.ts';
import { livenessBoundMs } from './sim/scenarios.ts';
import { type FaultCommand, type SimOptions, Simulator } from './sim/simulator.ts';
import { messageArbitrary } from './support/message-arbitrary.ts';

/**
 * Property tests of the protocol core under hostile conditions, generated and shrunk by fast-check:
 * 1. adversarial fault schedules: fast-check writes the whole schedule (partitions, one-way cuts, crashes and
 *    restarts, pauses, loss/duplication/long-delay rates, link flaps) and the deterministic simulator checks its
 *    invariants after every event (never two leaders at one instant; terms grow when state persists) and
 *    liveness once the faults stop;
 * 2. hostile input: one core fed codec-valid messages with arbitrary fields from arbitrary peer IDs, including
 *    replies that echo its own requests, must never throw, never emit an unencodable message, never report two
 *    leaderships of one term, and never be leader without a majority of unexpired grants.
 * Runs are seeded (FUZZ_SEED, default fixed) so CI is deterministic; a failure prints fast-check's seed, path and
 * shrunk counterexample. Explore further with FUZZ_SEED=<n> FUZZ_RUNS=<n>.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_604);
const RUNS = process.env.FUZZ_RUNS === undefined ? undefined : Number(process.env.FUZZ_RUNS);
const runs = (n: number) => ({ seed: SEED, numRuns: RUNS ?? n });

const MAX = Number.MAX_SAFE_INTEGER;
const TIMING = { heartbeatIntervalMs: 50, leaseMs: 300, peerTimeoutMs: 150 };

// -----------------------------------------------------------------------------------------------------------
// 1. Adversarial schedules

const FAULT_MS = 10 * TIMING.leaseMs;

/** Commands over node indexes 0..n-1 (mapped to IDs later), timed within the fault phase. */
function arbCommand(n: number): fc.Arbitrary<FaultCommand> {
  const node = fc.nat({ max: n - 1 });
  const at = fc.double({ min: 0, max: FAULT_MS, noNaN: true });
  const span = (leases: number) => fc.double({ min: 0, max: leases * TIMING.leaseMs, noNaN: true });
  return fc.oneof(
    fc.record({
      at,
      kind: fc.constant('partition' as const),
      sides: fc.array(fc.nat({ max: 2 }), { minLength: n, maxLength: n }),
      forMs: span(6),
    }),
    fc.record({ at, kind: fc.constant('cut' as const), from: node, to: node }),
    fc.record({ at, kind: fc.constant('crash' as const), id: node, restartAfterMs: fc.option(span(4)) }),
    fc.record({ at, kind: fc.constant('pause' as const), id: node, forMs: span(4) }),
    fc.record({
      at,
      kind: fc.constant('network' as const),
      dropRate: fc.constantFrom(0, 0.05, 0.3, 0.7, 1),
      duplicateRate: fc.constantFrom(0, 0.1, 0.5),
      longDelayRate: fc.constantFrom(0, 0.05, 0.3),
    }),
    fc.record({ at, kind: fc.constant('flap' as const), a: node, b: node }),
    fc.record({ at, kind: fc.constant('heal' as const) }),
  );
}

function toIds(command: FaultCommand, ids: readonly number[]): FaultCommand {
  const id = (index: number) => ids[index]!;
  switch (command.kind) {
    case 'cut':
      return { ...command, from: id(command.from), to: id(command.to) };
    case 'crash':
    case 'pause':
      return { ...command, id: id(command.id) };
    case 'flap':
      return { ...command, a: id(command.a), b: id(command.b) };
    default:
      return command;
  }
}

const arbScenario: fc.Arbitrary<SimOptions> = fc
  .record({ n: fc.integer({ min: 2, max: 5 }), seed: fc.integer({ min: 1, max: 0x7fffffff }) })
  .chain(({ n, seed }) =>
    fc
      .record({
        ids: fc.oneof(
          fc.constant(Array.from({ length: n }, (_, i) => i + 1)),
          fc.uniqueArray(fc.integer({ min: 1, max: MAX }), { minLength: n, maxLength: n }),
        ),
        maxDriftRate: fc.constantFrom(0, 0.001, 0.01, 0.05),
        persistence: fc.boolean(),
        schedule: fc.array(arbCommand(n), { maxLength: 40 }),
        permanentlyDown: fc.integer({ min: 0, max: n - (Math.floor(n / 2) + 1) }),
      })
      .map(({ ids, maxDriftRate, persistence, schedule, permanentlyDown }) => ({
        seed,
        ids,
        timing: { ...TIMING, maxDriftRate },
        persistence,
        faultMs: FAULT_MS,
        stableMs: 12 * TIMING.leaseMs,
        faultEveryMs: FAULT_MS,
        permanentlyDown,
        schedule: schedule.map((command) => toIds(command, ids)).sort((a, b) => a.at - b.at),
      })),
  );

describe('core under adversarial fault schedules (simulator)', () => {
  it('never has two leaders at once, terms grow, and a leader follows the faults', (t) => {
    let leaderships = 0;
    let faults = 0;
    fc.assert(
      fc.property(arbScenario, (options) => {
        const result = new Simulator(options).run();
        leaderships += result.leaderships.length;
        faults += Object.values(result.faults).reduce((a, b) => a + b, 0);
        const bound = livenessBoundMs(options);
        assert.ok(
          result.stableLeaderAfterMs !== null && result.stableLeaderAfterMs <= bound,
          `no leader within ${bound} ms of the faults ending (first after ${result.stableLeaderAfterMs} ms)`,
        );
        assert.equal(result.finalLeader, result.expectedFinalLeader, 'the lowest live ID leads in the end');
      }),
      runs(250),
    );
    // The schedules must really exercise elections and faults, or passing means nothing.
    t.diagnostic(`${leaderships} leaderships, ${faults} faults`);
    assert.ok(leaderships > 250 && faults > 250 * 3, `${leaderships} leaderships, ${faults} faults`);
  });
});

// -----------------------------------------------------------------------------------------------------------
// 2. Hostile input to one core

const uint = fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(MAX, MAX - 1, 2 ** 32, 2 ** 52), fc.nat({ max: MAX }));
const peerId = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 1, arbitrary: fc.nat({ max: MAX }) },
);
// Terms come from the same biased domain: values past MAX_TERM must be rejected, not crash the node.
const arbMessage = messageArbitrary({ uint, term: uint, peerId, maxSees: 6 });

type Input =
  | { kind: 'message'; from: number; message: Message }
  /** A reply to the `back`-th latest vote request the core sent, as a voter that got it would answer. */
  | { kind: 'echo'; from: number; back: number; granted: boolean; highestTerm: number }
  | { kind: 'link'; peer: number; up: boolean }
  /** An ordinary heartbeat of a peer that is up and not competing: keeps the core able to campaign. */
  | { kind: 'alive'; from: number };

const arbInput = (withEchoes: boolean): fc.Arbitrary<Input> => {
  const message = fc.record({ kind: fc.constant('message' as const), from: peerId, message: arbMessage });
  const link = fc.record({ kind: fc.constant('link' as const), peer: peerId, up: fc.boolean() });
  const echo = fc.record({
    kind: fc.constant('echo' as const),
    from: peerId,
    back: fc.nat({ max: 5 }),
    granted: fc.boolean(),
    highestTerm: uint,
  });
  const alive = fc.record({ kind: fc.constant('alive' as const), from: peerId });
  const others = [
    { weight: 4, arbitrary: message },
    { weight: 3, arbitrary: alive },
    { weight: 1, arbitrary: link },
  ];
  return withEchoes ? fc.oneof({ weight: 4, arbitrary: echo }, ...others) : fc.oneof(...others);
};

const arbDt = fc.oneof({ weight: 5, arbitrary: fc.nat({ max: 30 }) }, { weight: 1, arbitrary: fc.nat({ max: 600 }) });
const arbSteps = (withEchoes: boolean) =>
  fc.array(fc.record({ dt: arbDt, input: arbInput(withEchoes) }), { minLength: 10, maxLength: 300, size: 'large' });

/** The message as a core receives it, or undefined when the codec refuses it (it never reaches a core). */
function viaCodec(message: Message): Message | undefined {
  try {
    return decodeMessage(encodeMessage(message));
  } catch (error) {
    if (error instanceof CodecError) return undefined;
    throw error;
  }
}

/** Far from anything fast-check's integer generators favour, so garbage cannot guess it. */
const INCARNATION = 3_735_928_559;

interface Run {
  gained: number[];
  led: boolean;
}

/**
 * Drives one core through `steps` like the real adapter would (timers fire at `wakeAt`, inputs arrive between
 * them), checking every effect as it comes out.
 */
function drive(config: CoreConfig, steps: readonly { dt: number; input: Input }[]): Run {
  const core = new ElectionCore(config);
  const timing = deriveTiming(config);
  const requests: { sentAt: number; request: VoteRequest }[] = [];
  /** Grants that match a request this core sent: who granted, and when that request was sent. */
  const grants: { from: number; sentAt: number }[] = [];
  const run: Run = { gained: [], led: false };
  let leadingSince: number | null = null;
  let now = 0;

  const apply = (effects: Effects): number => {
    let wakeAt = Number.NaN;
    applyEffects(core, effects, now, {
      persist: () => true,
      publish: () => {},
      send: (messages) => {
        for (const out of messages) {
          // Whatever it was fed, the core only says things the codec can carry, exactly.
          assert.deepEqual(decodeMessage(encodeMessage(out.message)), out.message);
          if (out.message.type === 'vote-request' && requests.at(-1)?.request !== out.message) {
            requests.push({ sentAt: now, request: out.message });
          }
        }
      },
      emit: (event) => {
        if (event.type === 'gained') {
          assert.equal(leadingSince, null, 'gained while leading');
          assert.ok(
            run.gained.every((term) => term < event.term),
            `term ${event.term} after ${run.gained.join(',')}`,
          );
          run.gained.push(event.term);
          leadingSince = now;
        } else if (event.type === 'lost') {
          assert.notEqual(leadingSince, null, 'lost without leading');
          assert.equal(event.term, run.gained.at(-1));
          if (event.lapsedAt !== undefined) assert.ok(event.lapsedAt >= leadingSince! && event.lapsedAt <= now);
          leadingSince = null;
        }
      },
      arm: (at) => {
        wakeAt = at;
      },
    });
    assert.ok(!Number.isNaN(wakeAt));
    return wakeAt;
  };

  const checkQuorum = (): void => {
    if (!core.isLeaderAt(now)) return;
    run.led = true;
    const peers = new Set(grants.filter((g) => g.sentAt + timing.safeLeaseMs > now).map((g) => g.from));
    const selfVote = core.status(now).vote?.holder === config.id;
    assert.ok(
      peers.size + (selfVote ? 1 : 0) >= timing.majority,
      `leader at ${now} with grants from ${[...peers].join(',') || 'nobody'}${selfVote ? ' and itself' : ''}`,
    );
  };

  let wakeAt = apply(core.start(now));
  for (const { dt, input } of steps) {
    const target = now + dt;
    for (let guard = 0; wakeAt <= target; guard++) {
      assert.ok(guard < 10_000, 'the core keeps asking to be woken at once (livelock)');
      now = Math.max(now, wakeAt);
      wakeAt = apply(core.tick(now));
      checkQuorum();
    }
    now = target;
    switch (input.kind) {
      case 'message': {
        const message = viaCodec(input.message);
        if (message === undefined) continue;
        if (message.type === 'vote-reply' && message.granted && input.from !== config.id) {
          const match = requests.find(
            (r) =>
              r.request.term === message.term &&
              r.request.incarnation === message.incarnation &&
              r.request.seq === message.seq,
          );
          if (match) grants.push({ from: input.from, sentAt: match.sentAt });
        }
        wakeAt = apply(core.receive(input.from, message, now));
        break;
      }
      case 'echo': {
        const sent = requests.at(-1 - input.back);
        if (sent === undefined) continue;
        const reply = viaCodec({
          type: 'vote-reply',
          term: sent.request.term,
          incarnation: sent.request.incarnation,
          seq: sent.request.seq,
          granted: input.granted,
          reason: input.granted ? null : 'bound',
          highestTerm: input.highestTerm,
          holder: input.granted ? config.id : 0,
        });
        if (reply === undefined) continue;
        if (input.granted && input.from !== config.id) grants.push({ from: input.from, sentAt: sent.sentAt });
        wakeAt = apply(core.receive(input.from, reply, now));
        break;
      }
      case 'link':
        wakeAt = apply(input.up ? core.peerConnected(input.peer, now) : core.peerDisconnected(input.peer, now));
        break;
      case 'alive':
        wakeAt = apply(
          core.receive(
            input.from,
            {
              type: 'heartbeat',
              incarnation: input.from + 1,
              ready: true,
              canLead: false,
              leaving: false,
              healthy: true,
              voterOnly: false,
              preempt: true,
              term: 0,
              leaderTerm: 0,
              sees: [],
            },
            now,
          ),
        );
        break;
    }
    checkQuorum();
  }
  return run;
}

const arbConfig = fc.record({
  id: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: MAX })),
  clusterSize: fc.constantFrom(3, 5),
  maxDriftRate: fc.constantFrom(0, 0.01, 0.05),
});

describe('core under hostile input', () => {
  it('never throws, stays encodable, and never leads without a majority of unexpired grants', (t) => {
    let led = 0;
    fc.assert(
      fc.property(arbConfig, arbSteps(true), ({ id, clusterSize, maxDriftRate }, steps) => {
        const run = drive({ id, clusterSize, ...TIMING, maxDriftRate, incarnation: INCARNATION }, steps);
        if (run.led) led++;
      }),
      runs(200),
    );
    // Echoed grants must often make it leader, or the quorum check was never exercised.
    t.diagnostic(`led in ${led} runs`);
    assert.ok(led > 20, `led in only ${led} runs`);
  });

  it('fed only garbage from its peers, a node of a 3-node cluster never leads', () => {
    fc.assert(
      fc.property(arbConfig, arbSteps(false), ({ id, maxDriftRate }, steps) => {
        const run = drive({ id, clusterSize: 3, ...TIMING, maxDriftRate, incarnation: INCARNATION }, steps);
        assert.equal(run.led, false);
        assert.deepEqual(run.gained, []);
      }),
      runs(150),
    );
  });
});
