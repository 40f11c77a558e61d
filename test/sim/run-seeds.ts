import { runScenario, scenarioFor } from './scenarios.ts';

/**
 * Runs many simulation seeds: `npm run sim -- --seeds 100000 [--from N]`, or replays one: `--seed N --verbose`.
 * `--appends` also runs the broadcast under the faults and checks its invariants (test/sim/broadcast-workload.ts).
 * `--tcp-hold`: partitions hold what they block and deliver it at the heal, as TCP does (SimOptions.holdCutMessages).
 * Exits non-zero on the first failure, printing the seed that replays it.
 */
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const single = flag('seed');
const from = Number(flag('from') ?? 1);
const count = single === undefined ? Number(flag('seeds') ?? 1000) : 1;
const first = single === undefined ? from : Number(single);
const appends = args.includes('--appends');
const tcpHold = args.includes('--tcp-hold');
const started = performance.now();
let events = 0;
let leaderships = 0;
for (let seed = first; seed < first + count; seed++) {
  try {
    const result = runScenario(seed, { appends, tcpHold });
    events += result.events;
    leaderships += result.leaderships.length;
    if (args.includes('--verbose')) console.log(JSON.stringify({ options: scenarioFor(seed), ...result }, null, 1));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    console.error(`replay: npm run sim -- --seed ${seed}${appends ? ' --appends' : ''}${tcpHold ? ' --tcp-hold' : ''}`);
    process.exit(1);
  }
  if ((seed - first + 1) % 1000 === 0) console.log(`${seed - first + 1} seeds ok`);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${count} seeds passed (${first}..${first + count - 1}), ${events} events, ${leaderships} leaderships, ${seconds.toFixed(1)} s`,
);
