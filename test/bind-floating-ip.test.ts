import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AssignedInfo,
  type AssignFailedInfo,
  bindFloatingIp,
  type FloatingIpBinding,
  type FloatingIpBindingEvents,
  type ReconciledInfo,
} from '../src/assigners/bind-floating-ip.ts';
import { DigitalOceanActionError, DigitalOceanAssigner } from '../src/digitalocean.ts';
import { AssignerError, ConfigError, type LeaderIpError } from '../src/errors.ts';
import type { LeadershipSource } from '../src/leadership/leadership-source.ts';
import type { ElectionNode } from '../src/node/election-node.ts';
import { MockFloatingIpAssigner, SimulatedFloatingIp } from '../src/testing.ts';
import { assertNoViolations, startValidatedFake } from './support/fake-do.ts';
import { ScriptedLeadership as FakeNode } from './support/scripted-leadership.ts';
import { waitFor } from './support/wait.ts';

/** Resolves with the next `name` event's payload. */
function next<K extends keyof FloatingIpBindingEvents>(
  binding: FloatingIpBinding,
  name: K,
  match: (...args: Parameters<FloatingIpBindingEvents[K]>) => boolean = () => true,
): Promise<Parameters<FloatingIpBindingEvents[K]>[0]> {
  return new Promise((resolve) => {
    const listener = (...args: Parameters<FloatingIpBindingEvents[K]>): void => {
      if (!match(...args)) return;
      binding.events.off(name, listener as never);
      resolve(args[0]);
    };
    binding.events.on(name, listener as never);
  });
}

function record(binding: FloatingIpBinding): {
  assigned: AssignedInfo[];
  failed: AssignFailedInfo[];
  reconciled: ReconciledInfo[];
  errors: LeaderIpError[];
} {
  const log = {
    assigned: [] as AssignedInfo[],
    failed: [] as AssignFailedInfo[],
    reconciled: [] as ReconciledInfo[],
    errors: [] as LeaderIpError[],
  };
  binding.events.on('assigned', (i) => log.assigned.push(i));
  binding.events.on('assignFailed', (i) => log.failed.push(i));
  binding.events.on('reconciled', (i) => log.reconciled.push(i));
  binding.events.on('error', (e) => log.errors.push(e));
  return log;
}

describe('bindFloatingIp', { timeout: 10_000 }, () => {
  it('assigns on gainedLeadership, passing the term', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 20 });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0 });
    t.after(() => binding.unbind());
    assert.equal(mock.calls.length, 0);
    const assigned = next(binding, 'assigned');
    node.win(4);
    const info = await assigned;
    assert.equal(info.term, 4);
    assert.equal(info.attempts, 1);
    assert.ok(info.durationMs >= 19);
    assert.equal(mock.ip.holder, 'a');
    assert.deepEqual(
      mock.calls.map((c) => c.term),
      [4],
    );
  });

  it('does not move the IP once the lease has lapsed, even before lostLeadership arrives', async (t) => {
    // A paused leader resumes: its lease is over (isLeader is false) but its lostLeadership event has not run yet.
    const node = new FakeNode();
    let settle: (() => void) | undefined;
    const mock = new MockFloatingIpAssigner({
      id: 'a',
      hook: () =>
        new Promise<void>((resolve) => {
          settle = resolve;
        }),
    });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0 });
    t.after(() => binding.unbind());
    const log = record(binding);
    node.win(1);
    await waitFor(() => settle !== undefined, 5000, 'the assign call to reach the provider');
    node.isLeader = false;
    settle?.();
    await waitFor(() => mock.calls[0]?.outcome !== 'pending', 5000, 'the assign call to end');
    assert.equal(mock.calls[0]?.outcome, 'aborted');
    assert.equal(mock.ip.holder, null, 'the IP must not move for a leadership that has ended');
    assert.deepEqual(log.failed, []);
    assert.deepEqual(log.errors, []);
  });

  it("stops when the leadership's signal aborts, even if its lostLeadership never arrives", async (t) => {
    const node = new FakeNode();
    // A provider call that only ends when aborted.
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 600_000 });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0 });
    t.after(() => binding.unbind());
    const log = record(binding);
    node.win(1);
    await waitFor(() => mock.calls.length === 1, 5000, 'the assign call to start');
    node.isLeader = false;
    node.leadership?.abort();
    await waitFor(() => mock.calls[0]?.outcome !== 'pending', 5000, 'the assign call to end');
    assert.equal(mock.calls[0]?.outcome, 'aborted');
    assert.equal(mock.ip.holder, null);
    assert.deepEqual([log.failed, log.errors], [[], []]);
  });

  it('starts at once when bound while already leader', async (t) => {
    const node = new FakeNode();
    node.win(9);
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0 });
    t.after(() => binding.unbind());
    assert.equal((await next(binding, 'assigned')).term, 9);
  });

  it('retries retryable failures with backoff', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    mock.failNext(2);
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0, retryBaseDelayMs: 20, retryMaxDelayMs: 40 });
    t.after(() => binding.unbind());
    const log = record(binding);
    node.win(1);
    const info = await next(binding, 'assigned');
    assert.equal(info.attempts, 3);
    assert.deepEqual(
      log.failed.map((f) => [f.term, f.willRetry, f.error.code]),
      [
        [1, true, 'ERR_MOCK_FAILURE'],
        [1, true, 'ERR_MOCK_FAILURE'],
      ],
    );
    const [c1, c2, c3] = mock.calls;
    assert.ok(c2!.startedAt - c1!.endedAt! >= 9, 'first backoff ≥ half of 20 ms');
    assert.ok(c3!.startedAt - c2!.endedAt! >= 19, 'second backoff ≥ half of 40 ms');
    assert.deepEqual(log.errors, []);
  });

  it('stops retrying on a non-retryable failure and reports it as an error', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    const fatal = new AssignerError('ERR_DO_UNAUTHORIZED', 'bad token', { retryable: false });
    mock.failNext(1, fatal);
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0, retryBaseDelayMs: 5 });
    t.after(() => binding.unbind());
    const log = record(binding);
    const error = next(binding, 'error');
    node.win(1);
    assert.equal(await error, fatal);
    assert.deepEqual(
      log.failed.map((f) => f.willRetry),
      [false],
    );
    await delay(50);
    assert.equal(mock.calls.length, 1);
  });

  it('wraps a custom assigner’s plain Error as a retryable AssignerError', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    mock.failNext(1, new TypeError('socket hang up'));
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0, retryBaseDelayMs: 5 });
    t.after(() => binding.unbind());
    const failed = next(binding, 'assignFailed');
    node.win(1);
    const info = await failed;
    assert.ok(info.error instanceof AssignerError);
    assert.equal(info.error.code, 'ERR_ASSIGN_FAILED');
    assert.equal(info.willRetry, true);
    assert.equal((await next(binding, 'assigned')).attempts, 2);
  });

  it('aborts the in-flight assign on lostLeadership, silently', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 5000 });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 20 });
    t.after(() => binding.unbind());
    const log = record(binding);
    const started = new Promise((resolve) => mock.once('call', resolve));
    node.win(1);
    await started;
    const lostAt = performance.now();
    node.lose();
    const call = await mock.waitForSettled();
    assert.equal(call.outcome, 'aborted');
    assert.ok(performance.now() - lostAt < 1000, 'aborted promptly, not after the 5 s latency');
    await delay(60); // several reconcile intervals: nothing may happen while not leader
    assert.equal(mock.calls.length, 1);
    assert.equal(mock.ip.holder, null);
    assert.deepEqual(log, { assigned: [], failed: [], reconciled: [], errors: [] });
  });

  it('a new leadership uses its new term', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 0 });
    t.after(() => binding.unbind());
    node.win(1);
    await next(binding, 'assigned');
    node.lose();
    node.win(3);
    assert.equal((await next(binding, 'assigned')).term, 3);
    assert.deepEqual(
      mock.calls.map((c) => c.term),
      [1, 3],
    );
  });

  it('reconciles while leader and takes the IP back when it moved', async (t) => {
    const node = new FakeNode();
    const ip = new SimulatedFloatingIp();
    const mock = new MockFloatingIpAssigner({ id: 'a', ip });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 20 });
    t.after(() => binding.unbind());
    node.win(2);
    await next(binding, 'assigned');
    const quiet = await next(binding, 'reconciled');
    assert.deepEqual(quiet, { term: 2, holder: 'a', corrected: false });

    ip.move('someone-else');
    const corrected = await next(binding, 'reconciled', (i) => i.corrected);
    assert.deepEqual(corrected, { term: 2, holder: 'someone-else', corrected: true });
    assert.equal((await next(binding, 'assigned')).term, 2);
    assert.equal(ip.holder, 'a');
  });

  it('reports a failed reconciliation read and keeps reconciling', async (t) => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 15 });
    t.after(() => binding.unbind());
    node.win(1);
    await next(binding, 'assigned');
    let reads = 0;
    mock.hook = (call) => {
      if (call.method === 'holder' && ++reads === 1)
        throw new AssignerError('ERR_X', 'read failed', { retryable: true });
    };
    assert.match((await next(binding, 'error')).message, /read failed/);
    assert.equal((await next(binding, 'reconciled')).corrected, false);
  });

  it('unbind removes listeners, aborts the in-flight call and stops timers', async () => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 5000 });
    const binding = bindFloatingIp(node, mock, { reconcileIntervalMs: 10 });
    const log = record(binding);
    const started = new Promise((resolve) => mock.once('call', resolve));
    node.win(1);
    await started;
    await binding.unbind();
    assert.equal(mock.calls[0]!.outcome, 'aborted');
    assert.equal(node.listenerCount('gainedLeadership'), 0);
    assert.equal(node.listenerCount('lostLeadership'), 0);
    node.lose();
    node.win(2);
    await delay(50);
    assert.equal(mock.calls.length, 1);
    assert.deepEqual(log, { assigned: [], failed: [], reconciled: [], errors: [] });
    await binding.unbind();
  });

  it('accepts an ElectionNode as its LeadershipSource (checked by the type checker)', () => {
    const accept = (node: ElectionNode): LeadershipSource => node;
    assert.equal(typeof accept, 'function');
  });

  it('validates its arguments', () => {
    const node = new FakeNode();
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    const cases: Array<[() => unknown, string]> = [
      [() => bindFloatingIp({} as LeadershipSource, mock), 'node'],
      [() => bindFloatingIp(node, {} as MockFloatingIpAssigner), 'assigner'],
      [() => bindFloatingIp(node, mock, { reconcileIntervalMs: -1 }), 'reconcileIntervalMs'],
      [() => bindFloatingIp(node, mock, { retryBaseDelayMs: 0 }), 'retryBaseDelayMs'],
      [() => bindFloatingIp(node, mock, { retryBaseDelayMs: 100, retryMaxDelayMs: 10 }), 'retryMaxDelayMs'],
      [() => bindFloatingIp(node, mock, { reconcile: 5 } as never), 'reconcile'],
    ];
    for (const [call, field] of cases) {
      assert.throws(call, (e: unknown) => e instanceof ConfigError && e.field === field);
    }
    assert.equal(node.listenerCount('gainedLeadership'), 0);
  });

  it('with DigitalOcean: reconciliation undoes a deposed leader’s late action', async (t) => {
    const fake = await startValidatedFake({ token: 'fake-do-token', actionDurationMs: 30 });
    t.after(async () => {
      assertNoViolations(fake);
      await fake.close();
    });
    const common = {
      token: 'fake-do-token',
      ip: '203.0.113.10',
      baseUrl: fake.url,
      pollIntervalMs: 20,
      maxPollIntervalMs: 40,
      retry: { baseDelayMs: 10, maxDelayMs: 40 },
    };
    const leader = new DigitalOceanAssigner({ ...common, dropletId: 101 });
    const deposed = new DigitalOceanAssigner({ ...common, dropletId: 102 });

    const node = new FakeNode();
    const binding = bindFloatingIp(node, leader, { reconcileIntervalMs: 100, retryBaseDelayMs: 20 });
    t.after(() => binding.unbind());
    const log = record(binding);
    node.win(2);
    await next(binding, 'assigned');
    assert.equal(fake.holder('203.0.113.10'), 101);

    // The previous leader (term 1, another process) had an assign in flight that lands now. Its own confirmation
    // may lose the race against our reconciliation, so it may end either way.
    const corrected = next(binding, 'reconciled', (i) => i.corrected);
    const late = deposed.assign({ term: 1 }).then(
      () => 'confirmed',
      (e: unknown) => e,
    );
    await fake.waitForRequest((r) => r.method === 'POST' && (r.body as { droplet_id?: number }).droplet_id === 102);
    await fake.actions.at(-1)!.settled;
    const reassigned = next(binding, 'assigned');
    assert.deepEqual(await corrected, { term: 2, holder: 102, corrected: true });
    await reassigned;
    assert.equal(fake.holder('203.0.113.10'), 101);
    const outcome = await late;
    assert.ok(
      outcome === 'confirmed' || (outcome instanceof DigitalOceanActionError && outcome.outcome === 'not-confirmed'),
    );
    assert.deepEqual(log.errors, []);
  });
});
