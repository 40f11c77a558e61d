import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../src/cli/flag-table.ts';
import { runCommand } from '../src/cli/run.ts';
import { type EtcdCluster, etcdSkip, startEtcdCluster } from '../src/testing.ts';
import { LineProcess } from './support/line-process.ts';

/** `leader-ip run --backend etcd`: flag checks before any I/O, then real processes electing through real etcd. */

async function usage(args: string[]): Promise<string> {
  try {
    await runCommand(args, {});
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('leader-ip run --backend etcd: flags', () => {
  const etcd = ['--backend', 'etcd', '--id', '1'];
  it('needs --etcd-endpoints', async () => {
    assert.match(await usage(etcd), /--etcd-endpoints/);
  });
  it('refuses etcd flags without --backend etcd', async () => {
    assert.match(
      await usage(['--listen', '127.0.0.1:7400', '--etcd-endpoints', 'http://127.0.0.1:2379']),
      /--etcd-endpoints needs --backend etcd/,
    );
  });
  it("refuses the built-in protocol's flags with --backend etcd", async () => {
    for (const flag of [['--listen', '127.0.0.1:7400'], ['--lease-ms', '500'], ['--no-preempt']]) {
      assert.match(
        await usage([...etcd, '--etcd-endpoints', 'http://127.0.0.1:2379', ...flag]),
        new RegExp(`${flag[0]} does not apply to --backend etcd`),
      );
    }
  });
  it('names the flag of an invalid etcd option', async () => {
    assert.match(await usage([...etcd, '--etcd-endpoints', '127.0.0.1:2379']), /^--etcd-endpoints/);
    assert.match(
      await usage([...etcd, '--etcd-endpoints', 'http://127.0.0.1:2379', '--etcd-lease-ms', '1500']),
      /^--etcd-lease-ms/,
    );
    assert.match(
      await usage([...etcd, '--etcd-endpoints', 'http://127.0.0.1:2379', '--etcd-cert', '/nonexistent']),
      /--etcd-key/,
    );
  });
});

describe('leader-ip run --backend etcd: real processes and a real etcd', { skip: etcdSkip(), timeout: 240_000 }, () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startEtcdCluster(3);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('elects, serves /leader, and hands over on SIGTERM', async () => {
    const args = (id: number) => [
      'run',
      '--json',
      '--backend',
      'etcd',
      '--etcd-endpoints',
      cluster.endpoints.join(','),
      '--etcd-name',
      `cli-${process.pid}`,
      '--etcd-lease-ms',
      '2000',
      '--id',
      String(id),
      '--http',
      '127.0.0.1:0',
    ];
    // The etcd backend is first-come (§13.1), so the second process starts only once the first leads: started
    // together, either may win the key.
    const first = LineProcess.tsx('src/cli/main.ts', args(1));
    let second: LineProcess | undefined;
    try {
      await first.waitForLine(/"event":"gainedLeadership"/, { timeoutMs: 60_000 });
      second = LineProcess.tsx('src/cli/main.ts', args(2));
      const url = JSON.parse((await first.waitForLine(/^\{.*"event":"http".*\}$/, { timeoutMs: 60_000 }))[0])
        .url as string;
      const leader = await fetch(`${url}/leader`);
      assert.equal(leader.status, 200);
      const status = (await (await fetch(`${url}/status`)).json()) as { backend: string; isLeader: boolean };
      assert.deepEqual([status.backend, status.isLeader], ['etcd', true]);
      await second.waitForLine(/"event":"leaderChange".*"leaderId":1/, { timeoutMs: 60_000 });
      first.child.kill('SIGTERM');
      await second.waitForLine(/"event":"gainedLeadership"/, { timeoutMs: 60_000 });
      assert.match(first.output, /"event":"lostLeadership".*"reason":"stopped"/);
      assert.equal((await first.exited).code, 0);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      await Promise.all([first.exited, second?.exited]);
    }
  });
});
