/**
 * Baseline: leader election with a PostgreSQL session-level advisory lock, polled.
 *
 * A private PostgreSQL cluster (Debian's `postgresql`, initdb'd into a temp dir, run as the `postgres` user when we
 * are root because PostgreSQL refuses root) listens on 127.0.0.1. Each contender (`pg-contender.ts`) has its own
 * connection and polls `pg_try_advisory_lock(key)` every P ms; the holder is leader. Crash: SIGKILL the holder — the
 * kernel closes its socket, the backend reads EOF, exits and frees the lock, and the next poll of a follower wins.
 * Graceful: SIGTERM — the holder unlocks and disconnects.
 *
 * This is the favourable case for PostgreSQL: a killed *process* on a live host closes its TCP connection at once. A
 * crashed or partitioned *host* sends nothing; the server then keeps the session, and the lock, until TCP keepalive
 * gives up (server `tcp_keepalives_idle`/`_interval`/`_count`, 0 = kernel defaults, on Linux 7200 s + 9 × 75 s) —
 * see docs/benchmarks-baselines.md. The keepalive settings in force are recorded with the results.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nowMs } from '../lib/clock.ts';
import { runKillLoop } from '../lib/failover.ts';
import type { BenchOptions } from '../lib/options.ts';
import {
  type Child,
  delay,
  freePort,
  makeTempDir,
  REPO_ROOT,
  removeTempDir,
  spawnNodeScript,
  spawnProcess,
} from '../lib/proc.ts';
import type { BenchSection, FailoverResult } from '../lib/types.ts';

const CONTENDER = path.join(REPO_ROOT, 'bench', 'baselines', 'pg-contender.ts');
const DB_USER = 'bench';

export const PG_INSTALL_HINT = 'apt-get install -y postgresql   # Debian/Ubuntu; provides /usr/lib/postgresql/<v>/bin';

/** Directory with `initdb` and `postgres`: $PG_BIN, or the newest /usr/lib/postgresql/<version>/bin. */
function findPgBin(): string | undefined {
  const ok = (dir: string): boolean => existsSync(path.join(dir, 'postgres')) && existsSync(path.join(dir, 'initdb'));
  if (process.env.PG_BIN) return ok(process.env.PG_BIN) ? process.env.PG_BIN : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find(ok);
}

/** uid/gid to run the server as: ourselves, or the `postgres` account when we are root. */
function serverUser(): { uid: number; gid: number } | undefined | 'missing' {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return 'missing';
  }
}

interface PgServer {
  child: Child;
  port: number;
  version: string;
  dir: string;
  keepalive: string;
}

async function startPostgres(binDir: string, user: { uid: number; gid: number } | undefined, verbose: boolean) {
  const dir = makeTempDir('pg');
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = path.join(dir, 'data');
  const runAs = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', ...(user ? { HOME: dir } : {}) };
  const initdb = spawnProcess(
    path.join(binDir, 'initdb'),
    ['-D', dataDir, '-U', DB_USER, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { name: 'initdb', env, echo: verbose, ...runAs },
  );
  const init = await initdb.exited;
  if (init.code !== 0) throw new Error(`initdb failed (${init.code ?? init.signal}):\n${initdb.outputTail()}`);

  const port = await freePort();
  const child = spawnProcess(
    path.join(binDir, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    // SIGQUIT is PostgreSQL's immediate shutdown: unlike SIGKILL it still releases shared memory.
    { name: 'postgres', env, echo: verbose, emergencySignal: 'SIGQUIT', dieWithParent: 'SIGQUIT', ...runAs },
  );
  const pg = (await import('pg')).default;
  const deadline = nowMs() + 30_000;
  // Bounded readiness poll: the server gives no event to wait for from outside.
  for (;;) {
    if (!child.alive) throw new Error(`postgres exited during startup:\n${child.outputTail()}`);
    if (nowMs() > deadline) {
      await child.stop('SIGINT', 10_000);
      throw new Error(`postgres not accepting connections after 30 s:\n${child.outputTail()}`);
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: DB_USER, database: 'postgres' });
    client.on('error', () => {});
    try {
      await client.connect();
      const version =
        (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
      const ka = await client.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name LIKE 'tcp_keepalives_%' ORDER BY name",
      );
      await client.end();
      const keepalive = ka.rows.map((r) => `${r.name}=${r.setting}`).join(', ');
      return { child, port, version, dir, keepalive } satisfies PgServer;
    } catch {
      await client.end().catch(() => {});
    }
    await delay(100);
  }
}

function kernelKeepalive(): string {
  const read = (name: string): string => {
    try {
      return readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return `tcp_keepalive_time=${read('tcp_keepalive_time')} s, intvl=${read('tcp_keepalive_intvl')} s, probes=${read('tcp_keepalive_probes')}`;
}

export async function runPostgresBaseline(opts: BenchOptions): Promise<BenchSection> {
  const binDir = findPgBin();
  if (!binDir) {
    const msg = `postgres baseline skipped: PostgreSQL server binaries not found (set PG_BIN or install: ${PG_INSTALL_HINT})`;
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }
  const user = serverUser();
  if (user === 'missing') {
    const msg =
      "postgres baseline skipped: running as root and there is no 'postgres' user to run the server as " +
      '(Debian creates it with the postgresql package; or run the bench as a non-root user)';
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }
  try {
    await import('pg');
  } catch {
    const msg = 'postgres baseline skipped: npm package pg is missing (npm install -D pg @types/pg)';
    process.stderr.write(`${msg}\n`);
    return { failover: [], skipped: [msg] };
  }

  const server = await startPostgres(binDir, user, opts.verbose);
  const failover: FailoverResult[] = [];
  try {
    let lockKey = 4200;
    for (const nodes of opts.baselineNodes) {
      for (const pollMs of opts.pgPollMs) {
        for (const scenario of ['crash', 'graceful'] as const) {
          const key = lockKey++;
          const config = `poll ${pollMs} ms`;
          const label = `postgres ${config} ${scenario} n=${nodes}`;
          process.stderr.write(`postgres: ${config}, ${scenario}, ${nodes} contenders, ${opts.kills} faults\n`);
          const r = await runKillLoop({
            label,
            nodes,
            kills: opts.kills,
            signal: scenario === 'crash' ? 'SIGKILL' : 'SIGTERM',
            spawn: (index, generation) =>
              spawnNodeScript(
                CONTENDER,
                [
                  `--port=${server.port}`,
                  `--user=${DB_USER}`,
                  `--key=${key}`,
                  `--poll-ms=${pollMs}`,
                  `--id=c${index}.${generation}`,
                ],
                { name: `pg-k${key}-c${index}.${generation}`, echo: opts.verbose },
              ),
            startupTimeoutMs: 30_000,
            sampleTimeoutMs: pollMs * 10 + 10_000,
            // A whole number of poll periods (≥ 500 ms): the fault lands at a uniformly random phase of the polls.
            jitterMs: pollMs * Math.ceil(500 / pollMs),
            budgetMs: opts.budgetMs,
          });
          failover.push({
            system: 'postgres',
            config,
            scenario,
            nodes,
            pollMs,
            samplesMs: r.samplesMs,
            ...(r.failures ? { failures: r.failures } : {}),
            ...(r.aborted ? { note: `stopped early: ${r.aborted}` } : {}),
          });
        }
      }
    }
  } finally {
    // SIGINT = fast shutdown: disconnects sessions, checkpoints, removes its shared memory.
    await server.child.stop('SIGINT', 15_000);
    removeTempDir(server.dir);
  }
  return {
    failover,
    settings: {
      postgres: `${binDir}/postgres ${server.version}, private cluster on 127.0.0.1 (TCP), fsync=off (advisory locks write nothing)`,
      'postgres lock': `session-level pg_try_advisory_lock polled by each contender on its own connection (npm pg)`,
      'postgres fault timing': 'random delay before each fault, uniform over a whole number of poll periods (≥ 500 ms)',
      'postgres keepalive': `${server.keepalive} (0 = kernel default: ${kernelKeepalive()})`,
    },
  };
}
