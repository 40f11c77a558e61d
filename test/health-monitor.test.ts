import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import { type HealthChange, HealthMonitor } from '../src/health/health-monitor.ts';
import { type HealthOptions, resolveHealthOptions } from '../src/health/health-options.ts';
import { ManualScheduler } from './support/manual-scheduler.ts';

function monitor(options: Partial<HealthOptions> & Pick<HealthOptions, 'check'>) {
  const scheduler = new ManualScheduler();
  const m = new HealthMonitor({ intervalMs: 100, timeoutMs: 50, fall: 3, rise: 2, ...options }, { scheduler });
  const changes: HealthChange[] = [];
  m.on('change', (change) => changes.push(change));
  return { m, scheduler, changes };
}

/** A check whose answers the test scripts: each call takes the next answer. */
function scripted(answers: Array<boolean | Error>) {
  let calls = 0;
  const check = () => {
    const answer = answers[Math.min(calls++, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    return answer ?? true;
  };
  return { check, calls: () => calls };
}

describe('health options', () => {
  const check = () => true;
  for (const [options, field] of [
    [{ check: 'yes' }, 'health.check'],
    [{}, 'health.check'],
    [{ check, fall: 0 }, 'health.fall'],
    [{ check, fall: 1.5 }, 'health.fall'],
    [{ check, rise: -1 }, 'health.rise'],
    [{ check, intervalMs: 0 }, 'health.intervalMs'],
    [{ check, intervalMs: 100.5 }, 'health.intervalMs'],
    [{ check, timeoutMs: 0 }, 'health.timeoutMs'],
    [{ check, intervalMs: 500, timeoutMs: 500 }, 'health.timeoutMs'],
    [{ check, timeoutMs: 2000 }, 'health.timeoutMs'],
    [{ check, falls: 3 }, 'health.falls'],
  ] as const) {
    it(`rejects ${JSON.stringify(options)} naming ${field}`, () => {
      assert.throws(
        () => resolveHealthOptions(options),
        (error: unknown) => error instanceof ConfigError && error.field === field,
      );
    });
  }
  it('names the path it is given', () => {
    assert.throws(
      () => new HealthMonitor({ check, fall: 0 }, { path: 'etcd.health' }),
      (error: unknown) => error instanceof ConfigError && error.field === 'etcd.health.fall',
    );
  });
  it('fills in the defaults', () => {
    assert.deepEqual(resolveHealthOptions({ check }), { check, intervalMs: 1000, timeoutMs: 500, fall: 3, rise: 2 });
    assert.equal(resolveHealthOptions(undefined).check, null);
  });
});

describe('HealthMonitor', () => {
  it('without a check follows setHealthy only', () => {
    const m = new HealthMonitor();
    const changes: HealthChange[] = [];
    m.on('change', (change) => changes.push(change));
    m.start();
    assert.equal(m.healthy, true);
    m.setHealthy(false, 'draining');
    m.setHealthy(false, 'still draining'); // no flip, no event
    m.setHealthy(true);
    assert.deepEqual(changes, [
      { healthy: false, reason: 'draining' },
      { healthy: true, reason: 'healthy' },
    ]);
    assert.equal(m.status().checked, false);
  });

  it('starts unhealthy and turns healthy on the first passing check', async () => {
    const { m, scheduler, changes } = monitor({ check: () => true });
    assert.equal(m.healthy, false);
    assert.match(m.reason, /waiting for the first/);
    m.start();
    await scheduler.advance(0);
    assert.equal(m.healthy, true);
    assert.deepEqual(changes, [{ healthy: true, reason: 'healthy' }]);
  });

  it('goes down after `fall` failures in a row and up after `rise` successes', async () => {
    const s = scripted([true, false, false, true, false, false, false, true, true]);
    const { m, scheduler, changes } = monitor({ check: s.check });
    m.start();
    await scheduler.advance(0); // true → healthy
    await scheduler.advance(200); // false, false
    assert.equal(m.healthy, true);
    assert.equal(m.status().consecutiveFailures, 2);
    await scheduler.advance(100); // true resets the count
    assert.equal(m.status().consecutiveFailures, 0);
    assert.equal(m.status().consecutiveSuccesses, 1);
    await scheduler.advance(300); // false x3 → unhealthy
    assert.equal(m.healthy, false);
    assert.match(m.reason, /failed 3x: returned false/);
    await scheduler.advance(100); // one success is not enough
    assert.equal(m.healthy, false);
    await scheduler.advance(100);
    assert.equal(m.healthy, true);
    assert.equal(s.calls(), 9);
    assert.deepEqual(
      changes.map((c) => c.healthy),
      [true, false, true],
    );
  });

  it('counts a throw, a rejection and a non-true value as failures', async () => {
    let call = 0;
    const check = async () => {
      call++;
      if (call === 1) return true;
      if (call === 2) throw new Error('db down');
      if (call === 3) return Promise.reject(new Error('no route'));
      return 'yes' as unknown as boolean;
    };
    const { m, scheduler } = monitor({ check });
    m.start();
    await scheduler.advance(300);
    assert.equal(m.healthy, false);
    assert.equal(m.status().consecutiveFailures, 3);
    assert.equal(m.status().lastFailure, 'returned false');
  });

  it('reports a synchronous throw with its message', async () => {
    const { m, scheduler } = monitor({ check: scripted([new Error('boom')]).check, fall: 1 });
    m.start();
    await scheduler.advance(0);
    assert.equal(m.status().lastFailure, 'threw: boom');
  });

  it('cuts a hanging check off at its timeout and never starts a second one beside it', async () => {
    let calls = 0;
    const signals: AbortSignal[] = [];
    const { m, scheduler } = monitor({
      check: (signal) => {
        calls++;
        signals.push(signal);
        return new Promise<boolean>(() => {}); // ignores its signal and never settles
      },
      fall: 2,
    });
    m.start();
    await scheduler.advance(49);
    assert.equal(signals[0]?.aborted, false);
    await scheduler.advance(1);
    assert.equal(signals[0]?.aborted, true);
    assert.equal(m.status().consecutiveFailures, 1);
    assert.match(m.status().lastFailure ?? '', /timed out after 50 ms/);
    assert.equal(m.status().lastCheckDurationMs, 50);
    await scheduler.advance(1000);
    assert.equal(calls, 1, 'a hanging check is not piled on');
    assert.equal(m.status().consecutiveFailures, 11);
    assert.match(m.status().lastFailure ?? '', /still running/);
    assert.equal(m.healthy, false);
  });

  it('starts the next check once a timed-out check honours its signal', async () => {
    let calls = 0;
    const { m, scheduler } = monitor({
      check: (signal) => {
        calls++;
        return new Promise<boolean>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        });
      },
    });
    m.start();
    await scheduler.advance(350);
    assert.equal(calls, 4);
    assert.equal(m.status().consecutiveFailures, 4);
  });

  it('a late answer after the timeout does not count twice', async () => {
    const pending: Array<(value: boolean) => void> = [];
    const { m, scheduler } = monitor({ check: () => new Promise<boolean>((resolve) => pending.push(resolve)) });
    m.start();
    await scheduler.advance(60);
    pending[0]?.(true);
    await scheduler.advance(0);
    assert.equal(m.status().consecutiveFailures, 1);
    assert.equal(m.status().consecutiveSuccesses, 0);
    await scheduler.advance(40); // the next check starts: the first one settled
    assert.equal(pending.length, 2);
  });

  it('measures how long a check took', async () => {
    const { m, scheduler } = monitor({
      check: () => new Promise<boolean>((resolve) => scheduler.setTimeout(() => resolve(true), 30)),
    });
    m.start();
    await scheduler.advance(30);
    assert.equal(m.status().lastCheckDurationMs, 30);
    assert.equal(m.healthy, true);
  });

  it('is healthy only when the check and setHealthy both say so', async () => {
    const s = scripted([true, true, false, false, false, true, true]);
    const { m, scheduler, changes } = monitor({ check: s.check });
    m.start();
    await scheduler.advance(0);
    m.setHealthy(false, 'draining');
    assert.deepEqual(changes.at(-1), { healthy: false, reason: 'draining' });
    await scheduler.advance(400); // the check fails too: no new event, the push reason stays first
    assert.equal(changes.length, 2);
    assert.equal(m.reason, 'draining');
    m.setHealthy(true);
    assert.equal(m.healthy, false, 'the failing check still holds it down');
    assert.match(m.reason, /health check failed/);
    await scheduler.advance(200);
    assert.equal(m.healthy, true);
    assert.deepEqual(
      changes.map((c) => c.healthy),
      [true, false, true],
    );
    const status = m.status();
    assert.equal(status.checkHealthy, true);
    assert.equal(status.manualHealthy, true);
    assert.deepEqual(JSON.parse(JSON.stringify(status)), status);
  });

  it('stop() aborts the check in flight and schedules nothing more', async () => {
    let signal: AbortSignal | undefined;
    const { m, scheduler, changes } = monitor({
      check: (s) => {
        signal = s;
        return new Promise<boolean>(() => {});
      },
    });
    m.start();
    await scheduler.advance(10);
    m.stop();
    assert.equal(signal?.aborted, true);
    assert.equal(scheduler.pending, 0);
    await scheduler.advance(1000);
    assert.deepEqual(changes, []);
  });
});
