import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Kill, leadershipViolations } from '../src/testing/leadership-intervals.ts';
import { type NodeProcessEvent, ProcessCluster } from '../src/testing/process-cluster.ts';
import { monotonicMs } from '../src/util/monotonic.ts';
import { assertSafeWhenSettled } from './support/process-safety.ts';

/**
 * Who may lead, with real `leader-ip run` processes (issue 9): a health check that fails hands over and one that
 * passes again takes back; SIGUSR2 (setHealthy(false)) hands over within a round trip; every node unhealthy means
 * nobody leads; a `--voter-only` witness never leads but keeps the majority; `--no-preempt` keeps a live leader;
 * `--preempt-delay` holds a returning lower ID back. Leadership intervals come from the processes' own JSON lines
 * on the host-wide monotonic clock and must never overlap.
 */
const TIMING = ['--heartbeat-ms', '20', '--lease-ms', '200'];
const LIVENESS_MS = 10_000;
/** A waiter that spans a (re)start also covers the process's boot (ProcessCluster allows 30 s for it). */
const BOOT_MS = 30_000;

const assertSafe = (cluster: ProcessCluster, kills: Kill[]) => assertSafeWhenSettled(cluster, kills, LIVENESS_MS);

/** The leadership events, for an assertion's message. */
function leadershipLog(cluster: ProcessCluster): string {
  return cluster.history
    .filter((e) => ['gainedLeadership', 'lostLeadership', 'started', 'healthChange'].includes(e.event))
    .map((e) => `${e.mono.toFixed(0)} node ${e.id} ${e.event} ${e.term ?? ''} ${e.reason ?? e.healthy ?? ''}`)
    .join('\n');
}

const gained = (id: number) => (e: NodeProcessEvent) => e.event === 'gainedLeadership' && e.id === id;
const lost = (id: number) => (e: NodeProcessEvent) => e.event === 'lostLeadership' && e.id === id;

describe('health gating with real processes', () => {
  // Each node's check asks this server for /<id>; the test decides what it answers.
  const answer = new Map<number, number>([
    [1, 200],
    [2, 200],
    [3, 200],
  ]);
  const server = createServer((req, res) => {
    res.writeHead(answer.get(Number(req.url?.slice(1))) ?? 404).end();
  });
  let cluster: ProcessCluster;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    cluster = new ProcessCluster({
      ids: [1, 2, 3],
      // A longer lease than elsewhere, so "within a round trip" is told apart from "after a lease" on a loaded machine.
      args: [
        '--heartbeat-ms',
        '50',
        '--lease-ms',
        '1000',
        '--health-interval',
        '200',
        '--health-timeout',
        '100',
        '--fall',
        '2',
        '--rise',
        '2',
      ],
      argsFor: (id) => ['--health-url', `http://127.0.0.1:${port}/${id}`],
    });
  });
  after(async () => {
    await cluster.stop();
    server.closeAllConnections();
    server.close();
  });
  const kills: Kill[] = [];

  it('a failing check (interval 200, fall 2) hands over; passing again (rise 2) takes it back', async () => {
    const first = cluster.waitFor(gained(1), BOOT_MS + LIVENESS_MS);
    await cluster.start();
    await first;
    const loss = cluster.waitFor(lost(1), LIVENESS_MS);
    const next = cluster.waitFor(gained(2), LIVENESS_MS);
    const failingFrom = monotonicMs();
    answer.set(1, 500);
    assert.equal((await loss).reason, 'unhealthy');
    const took = (await next).mono - failingFrom;
    console.log(`# check failing -> node 2 leads: ${took.toFixed(0)} ms (interval 200, fall 2)`);
    // Two failed checks take 200-400 ms after the flip; then a round trip. "About 0.6 s" with margin for load.
    assert.ok(took < 1500, `handover took ${took.toFixed(0)} ms`);
    const back = cluster.waitFor(gained(1), LIVENESS_MS);
    answer.set(1, 200);
    await back;
    await assertSafe(cluster, kills);
  });

  it('SIGUSR2 drains the leader (setHealthy(false)): the next node leads within a round trip; again undrains', async () => {
    if (cluster.currentLeader() !== 1) await cluster.waitFor(() => cluster.currentLeader() === 1, LIVENESS_MS);
    const loss = cluster.waitFor(lost(1), LIVENESS_MS);
    const next = cluster.waitFor(gained(2), LIVENESS_MS);
    const sentAt = monotonicMs();
    cluster.signal(1, 'SIGUSR2');
    const ended = await loss;
    assert.equal(ended.reason, 'unhealthy');
    const took = (await next).mono - ended.mono;
    console.log(
      `# SIGUSR2 drain -> node 2 leads: ${((await next).mono - sentAt).toFixed(1)} ms after the signal, ${took.toFixed(1)} ms after the step-down`,
    );
    // Within a round trip (plus scheduling on a loaded machine), far below the 1000 ms lease a crash would cost.
    assert.ok(took < 500, `handover took ${took.toFixed(1)} ms after the step-down`);
    const back = cluster.waitFor(gained(1), LIVENESS_MS);
    cluster.signal(1, 'SIGUSR2');
    await back;
    await assertSafe(cluster, kills);
  });

  it('every node unhealthy: nobody leads and nothing else happens; the first to recover leads', async () => {
    const downs = [1, 2, 3].map((id) =>
      cluster.waitFor((e) => e.event === 'healthChange' && e.id === id && e.healthy === false, LIVENESS_MS),
    );
    for (const id of [1, 2, 3]) answer.set(id, 503);
    await Promise.all(downs);
    if (cluster.currentLeader() !== null) await cluster.waitFor(() => cluster.currentLeader() === null, LIVENESS_MS);
    const quietFrom = cluster.history.length;
    // An absence: several check intervals and leases pass without anyone leading (nothing to wait on but time).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The check's verdict reaches the election (on its worker thread) a thread hop after the 'healthChange' line:
    // a campaign already under way may still win, and the node then steps down at once ('unhealthy'). That is the
    // only leadership allowed here, once per node; an unhealthy node that knows it never campaigns.
    const quiet = cluster.history.slice(quietFrom);
    const log = `${leadershipLog(cluster)}\nquiet from ${cluster.history[quietFrom]?.mono}`;
    const gains = quiet.filter((e) => e.event === 'gainedLeadership');
    for (const gain of gains) {
      assert.ok(
        quiet.some(
          (e) => e.event === 'lostLeadership' && e.id === gain.id && e.term === gain.term && e.reason === 'unhealthy',
        ),
        `node ${gain.id} led term ${gain.term} while unhealthy\n${log}`,
      );
    }
    assert.equal(new Set(gains.map((e) => e.id)).size, gains.length, `an unhealthy node campaigned again\n${log}`);
    assert.equal(cluster.currentLeader(), null, log);
    const third = cluster.waitFor(gained(3), LIVENESS_MS);
    answer.set(3, 200);
    await third;
    for (const id of [1, 2]) answer.set(id, 200);
    await cluster.waitFor(gained(1), LIVENESS_MS);
    await assertSafe(cluster, kills);
  });
});

describe('a voter-only witness and --no-preempt with real processes', () => {
  const cluster = new ProcessCluster({
    ids: [1, 2, 3],
    // A 1 s lease: a 200 ms one expires now and then on a loaded machine, and a lapse (rightly) lets node 2 lead,
    // which would hide what this test is about.
    args: ['--heartbeat-ms', '50', '--lease-ms', '1000', '--no-preempt'],
    argsFor: (id) => (id === 1 ? ['--voter-only'] : []),
  });
  after(() => cluster.stop());
  const kills: Kill[] = [];

  it('the witness (lowest ID) never leads; its vote keeps node 3 leading; a returning node 2 does not preempt', async () => {
    const first = cluster.waitFor((e) => e.event === 'gainedLeadership', BOOT_MS + LIVENESS_MS);
    await cluster.start();
    const leader = (await first).id;
    assert.notEqual(leader, 1, 'the witness led');
    if (leader === 2) {
      // Node 3 takes over with the witness's vote.
      const next = cluster.waitFor(gained(3), LIVENESS_MS);
      kills.push({ id: 2, at: await cluster.kill(2, 'SIGKILL') });
      await next;
    } else {
      kills.push({ id: 2, at: await cluster.kill(2, 'SIGKILL') });
    }
    // Node 2, lower than the leader, comes back.
    const started = cluster.waitFor((e) => e.event === 'started' && e.id === 2, BOOT_MS);
    await cluster.spawn(2);
    await started;
    // Node 2 is ready a lease after its start; give it more than a lease beyond that to (wrongly) take over.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // (currentLeader() cannot tell here: the killed node 2's last line was a gain, and it runs again.)
    const since = cluster.history.findLastIndex((e) => e.event === 'started' && e.id === 2);
    const changes = cluster.history
      .slice(since)
      .filter((e) => e.event === 'gainedLeadership' || e.event === 'lostLeadership');
    const lapses = changes.filter((e) => e.event === 'lostLeadership' && e.id === 3 && e.reason !== 'preempted');
    if (lapses.length > 0) {
      // Node 3's lease ran out (a starved process): node 2 may then rightly lead. Say so; preemption is still checked.
      console.log(`# node 3 lost its lease (${lapses.map((e) => e.reason).join(', ')}): takeover not measured`);
      assert.deepEqual(
        changes.filter((e) => e.event === 'lostLeadership' && e.reason === 'preempted'),
        [],
        `--no-preempt: nobody is preempted\n${leadershipLog(cluster)}`,
      );
    } else {
      assert.deepEqual(changes, [], `node 3 must keep leading: --no-preempt\n${leadershipLog(cluster)}`);
    }
    assert.equal(
      cluster.history.some((e) => e.event === 'gainedLeadership' && e.id === 1),
      false,
      'the witness led',
    );
    const violations = leadershipViolations(cluster.history, kills);
    assert.deepEqual(violations, [], violations.join('\n'));
  });
});

describe('--preempt-delay with real processes', () => {
  const DELAY = 1500;
  const cluster = new ProcessCluster({ ids: [1, 2, 3], args: [...TIMING, '--preempt-delay', String(DELAY)] });
  after(() => cluster.stop());
  const kills: Kill[] = [];

  it('a restarted lower ID takes over only after its restart wait plus the delay; failover is not delayed', async () => {
    const first = cluster.waitFor((e) => e.event === 'gainedLeadership', BOOT_MS + LIVENESS_MS);
    await cluster.start();
    await first;
    if (cluster.currentLeader() !== 1) await cluster.waitFor(gained(1), BOOT_MS + LIVENESS_MS);
    const next = cluster.waitFor(gained(2), LIVENESS_MS);
    const killedAt = await cluster.kill(1, 'SIGKILL');
    kills.push({ id: 1, at: killedAt });
    const failover = (await next).mono - killedAt;
    assert.ok(failover < DELAY, `failover took ${failover.toFixed(0)} ms: the delay must not apply`);
    const started = cluster.waitFor((e) => e.event === 'started' && e.id === 1, BOOT_MS);
    const back = cluster.waitFor(gained(1), BOOT_MS + LIVENESS_MS);
    // The node's restart wait counts from its engine's start, which comes before its 'started' line (by seconds on a
    // loaded machine, with the worker loading its code), so the spawn is the reference that is never late.
    const spawnedAt = monotonicMs();
    await cluster.spawn(1);
    await started;
    const startedAt = spawnedAt;
    const handover = cluster.waitFor(lost(2), LIVENESS_MS);
    const tookOver = (await back).mono - startedAt;
    // Only a preemption is delayed: had node 2 lost its lease meanwhile (a loaded machine), node 1 would rightly
    // lead at once. Say so rather than fail; the simulator checks the delay on every preemption.
    const reason = (await handover).reason;
    if (reason !== 'preempted') {
      console.log(`# node 2 lost its leadership (${reason}), not a preemption: delay not measured`);
      await assertSafe(cluster, kills);
      return;
    }
    console.log(
      `# failover ${failover.toFixed(0)} ms; restarted node 1 took over ${tookOver.toFixed(0)} ms after start`,
    );
    // Able to lead a lease (200 ms) after its start at the earliest, then the delay.
    assert.ok(
      tookOver >= 200 + DELAY - 5,
      `took over ${tookOver.toFixed(0)} ms after start, before lease + delay\n${leadershipLog(cluster)}`,
    );
    await assertSafe(cluster, kills);
  });
});
