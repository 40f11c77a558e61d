import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import type { DemoSummary } from '../src/cli/demo.ts';
import { LineProcess } from './support/line-process.ts';

/**
 * `leader-ip demo` end to end, as a user runs it (without a terminal, so its output is plain lines). Short timing
 * keeps it fast; the default timing is what `npm run demo` shows.
 */
// Short, but with room for a loaded CI machine: a 200 ms lease can expire under CPU starvation and re-elect.
const FAST = ['--lease-ms', '500', '--heartbeat-ms', '50', '--action-ms', '100'];
const demos: LineProcess[] = [];
after(async () => {
  await Promise.all(demos.map((d) => d.stop('SIGKILL')));
});

function demo(args: string[]): LineProcess {
  const process = LineProcess.tsx('src/cli/main.ts', ['demo', ...args]);
  demos.push(process);
  return process;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('leader-ip demo', () => {
  it('fails over, restarts the killed node and prints a JSON summary', async () => {
    const run = demo(['--json', ...FAST]);
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    assert.equal(run.lines.length, 1, `only the summary on stdout and nothing on stderr:\n${run.output}`);
    const s = JSON.parse(run.lines[0]!) as DemoSummary;
    assert.equal(s.ok, true);
    assert.equal(s.singleLeader, true);
    assert.equal(s.firstLeader.id, 1);
    // Timed from node 1's own start: at least the one lease a new node waits before voting, and not the spawn.
    assert.ok(s.firstLeader.spawnMs > 0, JSON.stringify(s.firstLeader));
    assert.ok(s.firstLeader.electedAfterStartMs >= s.leaseMs / 2, JSON.stringify(s.firstLeader));
    assert.ok(s.firstLeader.ipAssignedAfterStartMs >= s.firstLeader.electedAfterStartMs, JSON.stringify(s.firstLeader));
    assert.equal(s.failover.killed, 1);
    assert.equal(s.failover.newLeader, 2, 'node 2 is next; node 3 of 3 never leads');
    assert.ok(s.failover.term > s.firstLeader.term);
    assert.ok(s.failover.electionMs > 0 && s.failover.electionMs < 10 * s.leaseMs, `election ${s.failover.electionMs}`);
    // End to end includes the API's own action time, and the leader's confirmation comes after the API's change.
    assert.ok(s.failover.ipMovedMs >= s.failover.electionMs + s.actionMs - 1, JSON.stringify(s.failover));
    assert.ok(s.failover.ipConfirmedMs >= s.failover.ipMovedMs, JSON.stringify(s.failover));
    assert.ok(s.restart !== null);
    assert.equal(s.restart.node, 1);
    assert.ok(s.restart.term > s.failover.term);
    assert.ok(s.restart.ipBackMs >= s.actionMs - 1);
  });

  it('prints a readable story without a terminal', async () => {
    const run = demo([...FAST, '--no-restart']);
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    const out = run.output;
    assert.ok(!out.includes('\u001b['), 'no escape codes when stdout is not a terminal');
    assert.match(out, /── 1\. start a fake DigitalOcean API/);
    assert.match(out, /node 1 gained leadership \(term \d+\)/);
    assert.match(out, /── 2\. crash the leader: SIGKILL node 1/);
    assert.match(out, /node 2 elected \d+ ms after the kill/);
    assert.match(out, /203\.0\.113\.10 reached droplet 2 \d+ ms after the kill/);
    assert.match(out, /│ node 2 .*LEADER/);
    assert.match(out, /never two leaders at once\s+yes/);
    assert.doesNotMatch(out, /── 3\./, '--no-restart skips step 3');
  });

  it('cleans up on Ctrl-C: exit 130, every node process gone, every port closed', async () => {
    const run = demo([]);
    // Interrupt once the cluster is up and electing: the moment with the most to clean up.
    await Promise.all([1, 2, 3].map((id) => run.waitForLine(new RegExp(`node ${id} started`))));
    const ports = run.lines.flatMap((line) => [...line.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])));
    assert.ok(ports.length >= 4, `the fake API and three nodes: ${ports}`);
    const { code } = await run.stop('SIGINT');
    assert.equal(code, 130, run.output);
    assert.match(run.output, /SIGINT: stopping every node and the fake API/);
    for (const port of new Set(ports)) assert.ok(await refused(port), `port ${port} still open`);
  });

  it('rejects a bad flag with one line and exit code 2', async () => {
    const run = demo(['--nodes', '1']);
    const { code } = await run.exited;
    assert.equal(code, 2);
    assert.deepEqual(run.lines, ["leader-ip: --nodes: expected an integer >= 3, got '1'"]);
  });
});
