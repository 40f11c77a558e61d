import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StaleTermError } from '../src/assigners/floating-ip-assigner.ts';
import { AbortError, AssignerError, ConfigError } from '../src/errors.ts';
import { MockFloatingIpAssigner, ProcessCluster, SimulatedFloatingIp, WaitTimeoutError } from '../src/testing.ts';

describe('MockFloatingIpAssigner', { timeout: 10_000 }, () => {
  it('records calls with term, timings and outcome', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 20 });
    const started = performance.now();
    await mock.assign({ term: 7 });
    assert.equal(await mock.holder(), 'a');
    assert.equal(await mock.self(), 'a');
    assert.equal(mock.calls.length, 2);
    const [assign, holder] = mock.calls;
    assert.equal(assign!.method, 'assign');
    assert.equal(assign!.term, 7);
    assert.equal(assign!.outcome, 'ok');
    assert.ok(assign!.startedAt >= started);
    assert.ok(assign!.endedAt! - assign!.startedAt >= 19, 'latency applied');
    assert.equal(holder!.method, 'holder');
    assert.deepEqual(mock.callsOf('assign'), [assign]);
  });

  it('shares one simulated IP between several mocks', async () => {
    const ip = new SimulatedFloatingIp();
    const a = new MockFloatingIpAssigner({ id: 1, ip });
    const b = new MockFloatingIpAssigner({ id: 2, ip, latencyMs: 10 });
    assert.equal(await a.holder(), null);
    await a.assign({ term: 1 });
    assert.equal(await b.holder(), 1);
    const moved = ip.waitForHolder(2);
    await b.assign({ term: 2 });
    await moved;
    assert.equal(ip.holder, 2);
    ip.move(null);
    assert.deepEqual(
      ip.history.map((c) => [c.holder, c.term, c.by]),
      [
        [1, 1, 'assign'],
        [2, 2, 'assign'],
        [null, undefined, 'move'],
      ],
    );
  });

  it('injects failures: next N (default, fixed, computed), persistent, and through the hook', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    mock.failNext(2);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(mock.assign(), (e: unknown) => e instanceof AssignerError && e.retryable);
    }
    await mock.assign();
    assert.equal(mock.ip.holder, 'a');

    const fixed = new Error('boom');
    mock.failNext(1, fixed);
    await assert.rejects(mock.assign(), (e: unknown) => e === fixed);
    mock.failNext(1, (call) => new AssignerError('ERR_X', `term ${call.term}`, { retryable: false }));
    await assert.rejects(mock.assign({ term: 4 }), /term 4/);

    mock.failWith(new Error('down'));
    await assert.rejects(mock.assign({ term: 4 }), /down/);
    await assert.rejects(mock.assign({ term: 4 }), /down/);
    mock.failWith(undefined);
    await mock.assign({ term: 4 });

    mock.hook = (call) => {
      if (call.method === 'holder') throw new Error('read failed');
    };
    await assert.rejects(mock.holder(), /read failed/);
    assert.deepEqual(
      mock.calls.map((c) => c.outcome),
      ['failed', 'failed', 'ok', 'failed', 'failed', 'failed', 'failed', 'ok', 'failed'],
    );
  });

  it('lets the hook move the IP mid-call', async () => {
    const ip = new SimulatedFloatingIp();
    const mock = new MockFloatingIpAssigner({
      id: 'a',
      ip,
      hook: () => {
        ip.move('intruder');
      },
    });
    assert.equal(await mock.holder(), 'intruder');
  });

  it('honours AbortSignal: before the call and during its latency, with no effect', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 1000 });
    await assert.rejects(mock.assign({ signal: AbortSignal.abort() }), AbortError);
    const controller = new AbortController();
    const pending = mock.assign({ signal: controller.signal });
    const started = performance.now();
    controller.abort();
    await assert.rejects(pending, AbortError);
    assert.ok(performance.now() - started < 500, 'not after the 1 s latency');
    assert.equal(mock.ip.holder, null);
    assert.deepEqual(
      mock.calls.map((c) => c.outcome),
      ['aborted', 'aborted'],
    );
    await assert.rejects(mock.ip.waitForHolder('a', AbortSignal.abort()), AbortError);
  });

  it('fences terms: refuses a lower term, and a call overtaken by a newer term has no effect', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 30 });
    const old = assert.rejects(mock.assign({ term: 1 }), StaleTermError);
    await mock.assign({ term: 2 });
    await old;
    await assert.rejects(mock.assign({ term: 1 }), StaleTermError);
    assert.deepEqual(
      mock.ip.history.map((c) => c.term),
      [2],
    );
  });

  it('waitForSettled resolves for past and future calls', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a', latencyMs: 10 });
    const future = mock.waitForSettled((c) => c.term === 2);
    await mock.assign({ term: 1 });
    assert.equal((await mock.waitForSettled()).term, 1);
    void mock.assign({ term: 2 });
    assert.equal((await future).outcome, 'ok');
  });

  it('validates its options', () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'id'],
      [{ id: 'a', latencyMs: -1 }, 'latencyMs'],
      [{ id: 'a', holderLatencyMs: 1.5 }, 'holderLatencyMs'],
      [{ id: 'a', ip: {} }, 'ip'],
      [{ id: 'a', hook: 1 }, 'hook'],
      [{ id: 'a', latency: 5 }, 'latency'],
    ];
    for (const [options, field] of cases) {
      assert.throws(
        () => new MockFloatingIpAssigner(options as ConstructorParameters<typeof MockFloatingIpAssigner>[0]),
        (e: unknown) => e instanceof ConfigError && e.field === field,
      );
    }
  });
});

describe('SimulatedFloatingIp public surface', () => {
  it('has no symbol-keyed setter (the holder changes only through assigners and move())', async () => {
    assert.deepEqual(Object.getOwnPropertySymbols(SimulatedFloatingIp.prototype), []);
    const ip = new SimulatedFloatingIp();
    const assigner = new MockFloatingIpAssigner({ ip, id: 'a' });
    await assigner.assign({ term: 1 });
    assert.equal(ip.holder, 'a');
    ip.move(null);
    assert.deepEqual(
      ip.history.map((c) => [c.holder, c.by]),
      [
        ['a', 'assign'],
        [null, 'move'],
      ],
    );
  });
});

describe('waiters of leader-ip/testing: a timeout and an AbortSignal each', () => {
  it('waitForHolder rejects with WaitTimeoutError naming what it waited for, and honours a signal', async () => {
    const ip = new SimulatedFloatingIp('b');
    await assert.rejects(ip.waitForHolder('a', { timeoutMs: 20 }), (error: unknown) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.equal(error.code, 'ERR_WAIT_TIMEOUT');
      assert.match(error.message, /timed out after 20 ms waiting for the IP to be on a \(it is on b\)/);
      return true;
    });
    const controller = new AbortController();
    const waiting = ip.waitForHolder('a', { signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, AbortError);
    assert.equal(ip.listenerCount('change'), 0, 'no listener left behind');
    const moved = ip.waitForHolder('a', { timeoutMs: 1000 });
    ip.move('a');
    await moved;
  });

  it('waitForSettled rejects with WaitTimeoutError, and honours a signal', async () => {
    const mock = new MockFloatingIpAssigner({ id: 'a' });
    await assert.rejects(mock.waitForSettled(undefined, { timeoutMs: 20 }), WaitTimeoutError);
    await assert.rejects(mock.waitForSettled(undefined, { signal: AbortSignal.abort() }), AbortError);
    assert.equal(mock.listenerCount('settled'), 0);
    const settled = mock.waitForSettled((c) => c.term === 3, { timeoutMs: 1000 });
    await mock.assign({ term: 3 });
    assert.equal((await settled).term, 3);
  });

  it('ProcessCluster.waitFor takes { timeoutMs, signal } too', async () => {
    const cluster = new ProcessCluster({ ids: [1] });
    await assert.rejects(
      cluster.waitFor(() => true, { timeoutMs: 10 }),
      WaitTimeoutError,
    );
    await assert.rejects(
      cluster.waitFor(() => true, { signal: AbortSignal.abort() }),
      AbortError,
    );
    await assert.rejects(
      cluster.waitFor(() => true, 10),
      /waiting for a matching node event/,
    );
  });
});
