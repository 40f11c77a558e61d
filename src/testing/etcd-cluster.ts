import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { monotonicMs } from '../util/monotonic.ts';
import { freePorts } from './process-cluster.ts';

/**
 * A real etcd cluster (Debian's `etcd-server`) on 127.0.0.1: N members on free ports, each with its own temporary
 * data directory, removed on stop. The etcd backend's tests run against it (no mock: they exercise etcd's own
 * leases, revisions, watches and raft), and so does `leader-ip demo --backend etcd`, with one member.
 *
 * When `etcd` is not installed, {@link etcdSkip} says how to install it: tests skip on a developer machine and fail
 * under CI (CI=true), where .ci/run installs it.
 * @module
 */

/** What to do when etcd is missing: one line, for a test's skip reason or a command's error. */
export const ETCD_INSTALL_HINT = 'etcd is not installed: apt-get install -y etcd-server (Debian/Ubuntu)';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The etcd server binary: `$ETCD_BIN` when set (and only it: a wrong path is a mistake to report, not to paper
 * over with another etcd), else `etcd` on the PATH or in /usr/bin or /usr/local/bin. Undefined when there is none.
 */
export function etcdBinary(): string | undefined {
  const explicit = process.env.ETCD_BIN;
  if (explicit !== undefined && explicit !== '') return executable(explicit) ? explicit : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''), '/usr/bin', '/usr/local/bin'];
  return dirs.map((dir) => join(dir, 'etcd')).find(executable);
}

/** Why {@link etcdBinary} found nothing, and how to fix it, in one line. */
export function etcdMissingMessage(): string {
  const explicit = process.env.ETCD_BIN;
  if (explicit !== undefined && explicit !== '') {
    return `ETCD_BIN=${explicit} is not an executable file (unset ETCD_BIN to look on the PATH); to install etcd: apt-get install -y etcd-server (Debian/Ubuntu)`;
  }
  return ETCD_INSTALL_HINT;
}

/**
 * For `describe(..., { skip: etcdSkip() })`: false when etcd is installed, else the reason to skip. Under CI
 * (CI=true) the etcd tests must run, so a missing etcd throws there instead of skipping.
 */
export function etcdSkip(): string | false {
  if (etcdBinary() !== undefined) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${etcdMissingMessage()}`);
  return etcdMissingMessage();
}

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions {
  /**
   * etcd's `--election-timeout`, ms (its heartbeat stays 100 ms, so at least 500). etcd grants no lease TTL below
   * 1.5 × this, rounded up to a second: the default 1000 makes that 2 s, 500 allows 1 s. A 3-member cluster on a
   * loaded machine needs the default to keep its raft leader; a single member has no peers to time out.
   */
  electionTimeoutMs?: number | undefined;
}

/** One etcd member process. */
export interface EtcdMember {
  /** Its `--name` (`m0`, `m1`, ...). */
  readonly name: string;
  /** `http://127.0.0.1:<clientPort>`. */
  readonly clientUrl: string;
  /** Its client port on 127.0.0.1. */
  readonly clientPort: number;
  /** The running process; undefined once killed. */
  process: ChildProcess | undefined;
}

/** A running etcd cluster from {@link startEtcdCluster}. */
export interface EtcdCluster {
  /** The members, in start order (index `i` is member `m<i>`). */
  readonly members: EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: string[];
  /** `etcd --version`'s version, e.g. `3.4.23`. */
  readonly version: string;
  /** The temporary directory holding every member's data; removed by `stop()`. */
  readonly dataDir: string;
  /** The smallest lease TTL etcd grants as asked, in ms (it silently raises smaller requests to this). */
  readonly minTtlMs: number;
  /** SIGKILLs one member and waits for its exit. */
  kill(index: number): Promise<void>;
  /** The member currently raft leader (by its /v3 maintenance status), or -1. */
  leaderIndex(): Promise<number>;
  /** SIGKILLs every member and removes the data directory; safe to call twice. */
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
 * Starts `size` etcd members on 127.0.0.1 (free ports, one temporary data directory) and resolves once every one
 * reports healthy (a raft leader exists). Throws with {@link etcdMissingMessage} when etcd is not installed, and
 * with etcd's own last output when it does not come up within 60 s. If this process exits without `stop()`, the
 * members are killed and the directory removed all the same.
 */
export async function startEtcdCluster(size = 3, options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const electionTimeoutMs = options.electionTimeoutMs ?? 1000;
  if (!Number.isInteger(electionTimeoutMs) || electionTimeoutMs < 500) {
    throw new RangeError(`electionTimeoutMs: expected an integer >= 500, got ${electionTimeoutMs}`);
  }
  const bin = etcdBinary();
  if (bin === undefined) throw new Error(etcdMissingMessage());
  const version = /etcd Version: (\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  const dir = mkdtempSync(join(tmpdir(), 'leader-ip-etcd-'));
  const token = `t${process.pid}-${Math.random().toString(36).slice(2)}`;
  const specs: { name: string; clientPort: number; peerPort: number }[] = [];
  const ports = await freePorts(2 * size);
  for (let i = 0; i < size; i++) specs.push({ name: `m${i}`, clientPort: ports[2 * i]!, peerPort: ports[2 * i + 1]! });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const members: EtcdMember[] = specs.map((s) => ({
    name: s.name,
    clientPort: s.clientPort,
    clientUrl: `http://127.0.0.1:${s.clientPort}`,
    process: undefined,
  }));
  const output: string[] = [];
  // Synchronous, for an exit that skipped stop() (an uncaught error, process.exit on a second Ctrl-C): etcd would
  // otherwise outlive its parent, holding its ports and its data directory.
  const onExit = (): void => {
    for (const member of members) member.process?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
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
        `--election-timeout=${electionTimeoutMs}`,
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      output.push(`${s.name}: ${chunk.toString()}`);
      if (output.length > 50) output.shift();
    });
    // A spawn failure (EACCES, ...) arrives as an event; without a listener it would crash this process.
    child.once('error', (error) => output.push(`${s.name}: ${error.message}\n`));
    members[i]!.process = child;
  });
  const kill = async (index: number): Promise<void> => {
    const child = members[index]?.process;
    if (child === undefined) return;
    // No pid: the spawn itself failed, and no 'exit' will come.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    members[index]!.process = undefined;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((_, i) => kill(i)));
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  try {
    // A bounded poll of etcd's own health endpoint: there is no event to wait for from outside.
    const deadline = monotonicMs() + 60_000;
    while (!(await Promise.all(members.map((m) => healthy(m.clientUrl)))).every(Boolean)) {
      const dead = members.find(
        (m) => m.process !== undefined && (m.process.exitCode !== null || m.process.signalCode !== null),
      );
      if (dead !== undefined) throw new Error(`etcd member ${dead.name} exited while starting`);
      if (monotonicMs() > deadline) throw new Error('the etcd cluster did not become healthy within 60 s');
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
    dataDir: dir,
    minTtlMs: Math.ceil((1.5 * electionTimeoutMs) / 1000) * 1000,
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
