import { randomInt } from 'node:crypto';
import { ChaosFailure, formatReport, runChaos } from './chaos.ts';

/**
 * The long chaos run: `npm run chaos -- [--minutes N] [--seed S] [--fast] [--verbose]`.
 * --minutes   time spent in fault phases (default 3); heals and liveness waits come on top
 * --seed      replays a run's schedule (default: random, printed first)
 * --fast      20 ms heartbeats and 200 ms leases, as in the test (default: the library's 100 ms and 1000 ms)
 * --verbose   print every fault as it is injected
 * --dump F    write every line the node processes printed to F (JSON lines), for a closer look
 * Exits 1 on the first violation, printing the seed and how to replay it.
 */
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const minutes = Number(flag('minutes') ?? 3);
const seed = Number(flag('seed') ?? randomInt(1, 2 ** 31));
const fast = args.includes('--fast');
if (!(minutes > 0) || !Number.isSafeInteger(seed)) {
  console.error('usage: npm run chaos -- [--minutes N] [--seed S] [--fast] [--verbose]');
  process.exit(2);
}
const timing = fast ? { heartbeatMs: 20, leaseMs: 200 } : { heartbeatMs: 100, leaseMs: 1000 };
const replay = `npm run chaos -- --seed ${seed} --minutes ${minutes}${fast ? ' --fast' : ''}`;
console.log(
  `chaos: seed ${seed}, ${minutes} min of faults, heartbeat ${timing.heartbeatMs} ms, lease ${timing.leaseMs} ms`,
);
try {
  const report = await runChaos({
    seed,
    faultMs: minutes * 60_000,
    ...timing,
    replay,
    dumpTo: flag('dump'),
    log: (line) => {
      if (args.includes('--verbose') || /healed|leader \d+ ms after|started/.test(line)) console.log(line);
    },
  });
  console.log(formatReport(report));
  console.log(JSON.stringify(report));
} catch (error) {
  console.error(error instanceof ChaosFailure ? error.message : error);
  console.error(`replay: ${replay}`);
  process.exit(1);
}
