import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Effects, Outgoing } from '../src/core/election-core.ts';
import { ElectionCore } from '../src/core/election-core.ts';
import type { Heartbeat, VoteRequest } from '../src/core/messages.ts';
import { applyEffects } from '../src/node/apply-effects.ts';

/** docs/protocol.md §14: a follower's heartbeat rides with its reply to a renewal, one write per peer per interval. */
const HB = 100;
const SLACK = HB / 4;

function follower(): ElectionCore {
  const core = new ElectionCore({
    id: 2,
    clusterSize: 3,
    heartbeatIntervalMs: HB,
    leaseMs: 1000,
    peerTimeoutMs: 4 * HB,
    maxDriftRate: 0.01,
    incarnation: 22,
  });
  core.start(0);
  core.peerConnected(1, 0);
  core.peerConnected(3, 0);
  return core;
}

interface Applied {
  messages: Outgoing[];
  wakeAt: number;
}

/** Applies a step's effects as production does (a grant's reply leaves once its write succeeded). */
function applied(core: ElectionCore, effects: Effects, now: number): Applied {
  const out: Applied = { messages: [], wakeAt: Number.NaN };
  applyEffects(core, effects, now, {
    persist: () => true,
    publish: () => {},
    emit: () => {},
    send: (messages) => out.messages.push(...messages),
    arm: (wakeAt) => {
      out.wakeAt = wakeAt;
    },
  });
  return out;
}

const heartbeatsIn = (effects: Applied) => effects.messages.filter((m) => m.message.type === 'heartbeat');
const repliesIn = (effects: Applied) => effects.messages.filter((m) => m.message.type === 'vote-reply');
const tick = (core: ElectionCore, now: number) => applied(core, core.tick(now), now);
/** The leader's heartbeat and renewal, which arrive in one chunk (one write on its side): the answer to the renewal. */
function receive(core: ElectionCore, request: VoteRequest, now: number): Applied {
  const heartbeat: Heartbeat = {
    type: 'heartbeat',
    incarnation: 11,
    ready: true,
    canLead: true,
    leaving: false,
    healthy: true,
    voterOnly: false,
    preempt: true,
    term: 1,
    leaderTerm: 1,
    sees: [2, 3],
  };
  // (The leader's heartbeat may change what this node advertises, which is broadcast at once: not the rule here.)
  applied(core, core.receive(1, heartbeat, now), now);
  return applied(core, core.receive(1, request, now), now);
}

function renewal(seq: number): VoteRequest {
  return { type: 'vote-request', term: 1, incarnation: 11, seq };
}

describe('heartbeat alignment (protocol §14)', () => {
  it('a follower answering a renewal sends its heartbeat in the same step, and its timer stays behind the renewals', () => {
    const core = follower();
    // Past the restart wait, on its own schedule: heartbeats at 0, 100, ..., 1100.
    let now = 0;
    let last = 0;
    for (; now <= 1100; now += HB) {
      const effects = tick(core, now);
      if (heartbeatsIn(effects).length > 0) last = now;
    }
    assert.equal(last, 1100);
    // A renewal 60 ms after its last heartbeat (more than half an interval): reply and heartbeat leave together.
    let t = 1160;
    let effects = receive(core, renewal(1), t);
    assert.deepEqual(
      repliesIn(effects).map((m) => m.to),
      [1],
    );
    assert.deepEqual(
      heartbeatsIn(effects)
        .map((m) => m.to)
        .sort(),
      [1, 3],
    );
    assert.equal(effects.wakeAt, t + HB + SLACK, 'next own heartbeat one interval plus the slack later');
    // Renewals every interval: every reply carries the heartbeat, and the timer never has work of its own.
    for (let seq = 2; seq <= 20; seq++) {
      const due = effects.wakeAt;
      const quiet = tick(core, due - SLACK - 1);
      assert.equal(heartbeatsIn(quiet).length, 0, 'no heartbeat between renewals');
      t += HB;
      effects = receive(core, renewal(seq), t);
      assert.equal(repliesIn(effects).length, 1);
      assert.equal(heartbeatsIn(effects).length, 2, `renewal ${seq}: heartbeat rides with the reply`);
    }
  });

  it('a renewal less than half an interval after a heartbeat sends none, but re-synchronises the schedule', () => {
    const core = follower();
    for (let now = 0; now <= 1100; now += HB) tick(core, now);
    // The follower's timer fired first (at 1100); the renewal comes 10 ms later.
    let effects = receive(core, renewal(1), 1110);
    assert.equal(repliesIn(effects).length, 1);
    assert.equal(heartbeatsIn(effects).length, 0, 'no second heartbeat within half an interval');
    assert.equal(effects.wakeAt, 1100 + HB + SLACK, 'own schedule moved behind the next renewal');
    // The next renewal (1210) now comes before the follower's timer (1225): they share a write from then on.
    effects = receive(core, renewal(2), 1210);
    assert.equal(heartbeatsIn(effects).length, 2);
  });

  it('without renewals, heartbeats keep their interval, and no gap exceeds interval + slack (inside the peer timeout)', () => {
    const core = follower();
    for (let now = 0; now <= 1100; now += HB) tick(core, now);
    let effects = receive(core, renewal(1), 1160);
    const sent = [1160];
    // The leader is gone: the follower wakes when it asked to, and its own timer takes over.
    for (let i = 0; i < 40 && sent.length < 8; i++) {
      const at = effects.wakeAt;
      effects = tick(core, at);
      if (heartbeatsIn(effects).length > 0) sent.push(at);
    }
    assert.ok(sent.length >= 8, `heartbeats at ${sent.join(', ')}`);
    for (let i = 1; i < sent.length; i++) {
      const gap = sent[i]! - sent[i - 1]!;
      assert.ok(gap <= HB + SLACK && gap >= HB / 2, `gap ${gap} ms in ${sent.join(', ')}`);
    }
    assert.equal(sent[1], 1160 + HB + SLACK, 'the first one waits the slack, the next ones one interval');
    assert.equal(sent[2], 1160 + 2 * HB + SLACK);
  });
});
