import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { type DemoSummary, demoCommand } from '../src/cli/demo.ts';
import { UsageError } from '../src/cli/flag-table.ts';
import { etcdSkip } from '../src/testing.ts';
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

function demo(args: string[], env: NodeJS.ProcessEnv = {}): LineProcess {
  const process = LineProcess.tsx('src/cli/main.ts', ['demo', ...args], env);
  demos.push(process);
  return process;
}

/** The UsageError `leader-ip demo args` throws, checked in this process: flags are refused before any I/O. */
async function usage(args: string[]): Promise<string> {
  try {
    await demoCommand(args);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
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
    assert.equal(s.backend, 'tcp');
    assert.equal(s.etcdVersion, null);
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
    assert.ok(s.restart?.outcome === 'leadsAgain', JSON.stringify(s.restart));
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
    // Three process boots (each loading an election worker): seconds apiece on a loaded machine.
    await Promise.all([1, 2, 3].map((id) => run.waitForLine(new RegExp(`node ${id} started`), { timeoutMs: 90_000 })));
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

describe('leader-ip demo --backend etcd: flags and a missing etcd', () => {
  it('refuses mixed-up backend flags before any I/O, naming the flag', async () => {
    assert.equal(await usage(['--etcd-lease-ms', '2000']), '--etcd-lease-ms needs --backend etcd');
    assert.match(
      await usage(['--backend', 'etcd', '--heartbeat-ms', '50']),
      /^--heartbeat-ms does not apply to --backend etcd/,
    );
    assert.match(
      await usage(['--backend', 'etcd', '--lease-ms', '500']),
      /^--lease-ms does not apply to --backend etcd/,
    );
    assert.match(await usage(['--backend', 'etcd', '--etcd-lease-ms', '1500']), /^--etcd-lease-ms: .*multiple of 1000/);
    assert.match(
      await usage(['--backend', 'etcd', '--etcd-lease-ms', '500']),
      /^--etcd-lease-ms: expected an integer >= 1000/,
    );
    assert.equal(await usage(['--backend', 'zookeeper']), "--backend: expected 'tcp' or 'etcd', got 'zookeeper'");
    assert.equal(await usage(['--backnd', 'etcd']), 'unknown flag --backnd (did you mean --backend?)');
  });

  it('without etcd: one line saying how to install it, exit code 1, no stack trace', async () => {
    const run = demo(['--backend', 'etcd'], { ETCD_BIN: '/nonexistent/etcd' });
    const { code } = await run.exited;
    assert.equal(code, 1, run.output);
    assert.equal(run.lines.length, 1, run.output);
    assert.match(
      run.lines[0]!,
      /^leader-ip: demo --backend etcd starts its own etcd server, but ETCD_BIN=\/nonexistent\/etcd /,
    );
    assert.match(run.lines[0]!, /apt-get install -y etcd-server/);
  });
});

// A real etcd, started by the demo itself. Under CI etcd is installed, and a missing one fails here (etcdSkip).
// TTL 2 s: etcd's default minimum, which the demo's own etcd (election timeout 500 ms) grants as asked.
const ETCD_FAST = ['--backend', 'etcd', '--etcd-lease-ms', '2000', '--action-ms', '100'];

describe('leader-ip demo --backend etcd', { skip: etcdSkip(), timeout: 180_000 }, () => {
  it('elects through its own etcd, fails over, moves the IP, and the restarted node follows', async () => {
    const run = demo(['--json', ...ETCD_FAST]);
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    assert.equal(run.lines.length, 1, `only the summary on stdout and nothing on stderr:\n${run.output}`);
    const s = JSON.parse(run.lines[0]!) as DemoSummary;
    assert.equal(s.ok, true);
    assert.equal(s.backend, 'etcd');
    assert.match(String(s.etcdVersion), /^\d+\.\d+/);
    assert.equal(s.singleLeader, true);
    assert.deepEqual(s.violations, []);
    assert.deepEqual([s.leaseMs, s.heartbeatMs], [2000, 500], 'the TTL asked, and the keep-alive derived from it');
    // First come: any node may win the first campaign.
    assert.ok([1, 2, 3].includes(s.firstLeader.id), JSON.stringify(s.firstLeader));
    assert.ok(s.firstLeader.ipAssignedAfterStartMs >= s.firstLeader.electedAfterStartMs, JSON.stringify(s.firstLeader));
    assert.equal(s.failover.killed, s.firstLeader.id);
    assert.ok([1, 2, 3].includes(s.failover.newLeader) && s.failover.newLeader !== s.failover.killed);
    assert.ok(s.failover.term > s.firstLeader.term, 'terms are etcd revisions: they grow');
    // A crash waits out the dead leader's lease (renewed every 500 ms before the kill), not much more.
    assert.ok(
      s.failover.electionMs > s.leaseMs / 2 && s.failover.electionMs < 3 * s.leaseMs,
      `election ${s.failover.electionMs}`,
    );
    assert.ok(s.failover.ipMovedMs >= s.failover.electionMs + s.actionMs - 1, JSON.stringify(s.failover));
    assert.ok(s.failover.ipConfirmedMs >= s.failover.ipMovedMs, JSON.stringify(s.failover));
    // No preemption: the restarted node follows the leader of step 2, in the same term.
    const r = s.restart;
    assert.ok(r?.outcome === 'follows', JSON.stringify(r));
    assert.deepEqual([r.node, r.leader, r.term], [s.failover.killed, s.failover.newLeader, s.failover.term]);
    assert.ok(r.followingMs > 0, JSON.stringify(r));
  });

  it('tells the story without a terminal, then stops etcd and removes its data', async () => {
    const run = demo([...ETCD_FAST, '--no-restart']);
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    const out = run.output;
    assert.match(out, /── 1\. start etcd, a fake DigitalOcean API and the cluster/);
    const started = /etcd \S+ on http:\/\/127\.0\.0\.1:(\d+): one member, data in (\S+) \(removed at the end\)/.exec(
      out,
    );
    assert.ok(started, out);
    const first = /node (\d) came first: it holds the leader key/.exec(out);
    assert.ok(first, out);
    assert.match(out, new RegExp(`── 2\\. crash the leader: SIGKILL node ${first[1]}`));
    assert.match(out, /node \d elected \d+ ms after the kill \(etcd lease TTL 2000 ms/);
    assert.match(out, /203\.0\.113\.10 reached droplet \d \d+ ms after the kill/);
    assert.match(out, /│ node \d {2}★ LEADER/);
    assert.match(out, /never two leaders at once\s+yes/);
    assert.doesNotMatch(out, /── 3\./, '--no-restart skips step 3');
    assert.ok(await refused(Number(started[1])), 'etcd still listening');
    assert.equal(existsSync(started[2]!), false, `${started[2]} left behind`);
  });
});
