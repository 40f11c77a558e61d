import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../src/testing.ts';

/**
 * A real etcd cluster (Debian's `etcd-server`) on 127.0.0.1 for the etcd backend's tests: N members on free ports,
 * each with its own temporary data directory, removed on stop. No mock: the tests exercise etcd's own leases,
 * revisions, watches and raft.
 *
 * When `etcd` is not installed, `etcdMissing()` says how to install it: tests skip on a developer machine and
 * fail under CI (CI=true), where .ci/run installs it.
 */

export const ETCD_INSTALL_HINT = 'etcd is not installed: apt-get install -y etcd-server (Debian/Ubuntu)';

export function etcdBinary(): string | undefined {
  return [process.env.ETCD_BIN, '/usr/bin/etcd', '/usr/local/bin/etcd'].find((p): p is string => !!p && existsSync(p));
}

/** Under CI the etcd tests must run: a missing etcd is an error there, a skip elsewhere. */
export function etcdSkip(): string | false {
  if (etcdBinary() !== undefined) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${ETCD_INSTALL_HINT}`);
  return ETCD_INSTALL_HINT;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly clientPort: number;
  process: ChildProcess | undefined;
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: string[];
  readonly version: string;
  /** SIGKILLs one member and waits for its exit. */
  kill(index: number): Promise<void>;
  /** The member currently raft leader (by its /v3 maintenance status), or -1. */
  leaderIndex(): Promise<number>;
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

/**
 * Starts `size` members and resolves once every one reports healthy (a raft leader exists). etcd runs with its
 * default raft timing (heartbeat 100 ms, election 1000 ms: minimum lease TTL 2 s), which stays stable on a
 * loaded 2-core CI machine.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const bin = etcdBinary();
  if (bin === undefined) throw new Error(ETCD_INSTALL_HINT);
  const version = /etcd Version: (\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  const dir = mkdtempSync(join(tmpdir(), 'leader-ip-etcd-'));
  const token = `t${process.pid}-${Math.random().toString(36).slice(2)}`;
  const specs: { name: string; clientPort: number; peerPort: number }[] = [];
  for (let i = 0; i < size; i++)
    specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const members: EtcdMember[] = specs.map((s) => ({
    name: s.name,
    clientPort: s.clientPort,
    clientUrl: `http://127.0.0.1:${s.clientPort}`,
    process: undefined,
  }));
  const output: string[] = [];
  specs.forEach((s, i) => {
    const child = spawn(
      bin,
      [
        `--name=${s.name}`,
        `--data-dir=${join(dir, s.name)}`,
        `--listen-client-urls=http://127.0.0.1:${s.clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${s.clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${s.peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${s.peerPort}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${token}`,
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      output.push(`${s.name}: ${chunk.toString()}`);
      if (output.length > 50) output.shift();
    });
    members[i]!.process = child;
  });
  const kill = async (index: number): Promise<void> => {
    const child = members[index]?.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    members[index]!.process = undefined;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((_, i) => kill(i)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A bounded poll of etcd's own health endpoint: there is no event to wait for from outside.
    const deadline = performance.now() + 60_000;
    while (!(await Promise.all(members.map((m) => healthy(m.clientUrl)))).every(Boolean)) {
      if (performance.now() > deadline) throw new Error('the etcd cluster did not become healthy within 60 s');
      await delay(100);
    }
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.join('')}`);
  }
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    version,
    kill,
    async leaderIndex() {
      for (let i = 0; i < members.length; i++) {
        if (members[i]?.process === undefined) continue;
        try {
          const res = await fetch(`${members[i]!.clientUrl}/v3/maintenance/status`, {
            method: 'POST',
            body: '{}',
            signal: AbortSignal.timeout(1000),
          });
          const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
          if (body.leader !== undefined && body.leader === body.header?.member_id) return i;
        } catch {
          // Down or busy.
        }
      }
      return -1;
    },
    stop,
  };
}
