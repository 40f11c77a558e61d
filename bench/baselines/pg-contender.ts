/**
 * One PostgreSQL advisory-lock contender (child process of `bench/baselines/postgres.ts`): polls
 * `pg_try_advisory_lock(key)` on its own session every `--poll-ms`; the session holding the lock is the leader and
 * stops polling. On SIGTERM the holder calls `pg_advisory_unlock` and disconnects. A SIGKILLed holder's socket is
 * closed by the kernel, the backend sees EOF and exits, and the server frees the session lock.
 *
 * Usage: node --import tsx bench/baselines/pg-contender.ts --port P --user U --key K --poll-ms MS --id ID
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { emit, exitWithParent, fail } from '../lib/child.ts';

exitWithParent();

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    user: { type: 'string' },
    key: { type: 'string' },
    'poll-ms': { type: 'string' },
    id: { type: 'string' },
  },
});
if (!values.port || !values.user || !values.key || !values['poll-ms'] || !values.id) {
  fail('missing --port/--user/--key/--poll-ms/--id');
}
const pollMs = Number(values['poll-ms']);
const key = values.key;

const client = new pg.Client({
  host: '127.0.0.1',
  port: Number(values.port),
  user: values.user,
  database: 'postgres',
  application_name: `bench-contender-${values.id}`,
});
let leader = false;
let ready = false;
let stopping = false;
let timer: NodeJS.Timeout | undefined;
let inFlight: Promise<unknown> = Promise.resolve();

client.on('error', (err) => fail(err));
client.on('end', () => {
  if (!stopping) fail('connection to PostgreSQL ended');
});

async function poll(): Promise<void> {
  const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
  if (res.rows[0]?.ok) leader = true;
  if (stopping) return;
  if (!ready) {
    ready = true;
    emit('ready');
  }
  if (leader) {
    emit('elected');
    return;
  }
  timer = setTimeout(schedule, pollMs);
}

function schedule(): void {
  inFlight = poll().catch((err: unknown) => fail(err));
}

client.connect().then(schedule, (err: unknown) => fail(err));

process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  const wasLeader = leader;
  // Let a try-lock already on the wire finish first: it may just have taken the lock.
  inFlight
    .then(async () => {
      if (leader) await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      emit('stopped', { wasLeader });
      await client.end();
      process.exit(0);
    })
    .catch((err: unknown) => fail(err));
});
