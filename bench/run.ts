/**
 * `npm run bench`: leader-ip scenarios and the baselines in the same run on the same machine, printed as a table
 * and written to docs/benchmarks.md (generated section) and docs/benchmarks-failover.svg. See `--help`.
 */
import { writeFileSync } from 'node:fs';
import { runBaselines } from './baselines/run.ts';
import { runLeaderIp } from './leader-ip.ts';
import { nowMs } from './lib/clock.ts';
import { parseBenchArgs, selected } from './lib/options.ts';
import { liveChildCount, stopAll } from './lib/proc.ts';
import { renderConsole, writeReport } from './lib/report.ts';
import { type BenchSection, mergeSections } from './lib/types.ts';
import { runPartitionBench } from './partition.ts';

const opts = parseBenchArgs();
const start = nowMs();
const date = new Date();
const sections: BenchSection[] = [];

// ---- leader-ip scenarios (bench/leader-ip.ts) ----
if (selected(opts, 'leader-ip')) {
  try {
    sections.push(await runLeaderIp(opts));
  } catch (err) {
    const msg = `leader-ip bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    process.stderr.write(`${msg}\n`);
    sections.push({ failover: [], skipped: [msg.split('\n')[0]!] });
  }
}

// ---- baselines (bench/baselines/) ----
sections.push(await runBaselines(opts));

// ---- a partition of the leader, keepalived beside leader-ip (bench/partition.ts) ----
if (selected(opts, 'partition')) {
  try {
    sections.push(await runPartitionBench(opts));
  } catch (err) {
    const msg = `partition bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    process.stderr.write(`${msg}\n`);
    sections.push({ failover: [], skipped: [msg.split('\n')[0]!] });
  }
}

const section = mergeSections(sections);
const durationMs = nowMs() - start;
process.stdout.write(`\n${renderConsole(section)}\n\nbench run time: ${(durationMs / 60_000).toFixed(1)} min\n`);

const settings: Record<string, string> = {
  'faults per configuration': `${opts.kills}${opts.quick ? ' (--quick)' : ''}`,
  'baseline contenders': opts.baselineNodes.join(', '),
  'after each fault': 'the signalled contender is restarted and rejoins as a follower',
};
if (opts.only.length) settings.systems = opts.only.join(', ');
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(section, null, 2)}\n`);
if (opts.write) {
  const { mdPath, svgPath } = writeReport({ section, settings, date, durationMs });
  process.stdout.write(`wrote ${mdPath} and ${svgPath}\n`);
}
if (liveChildCount() > 0) process.stderr.write(`bench: ${liveChildCount()} child process(es) still running, killing\n`);
// Nothing should be left, but a stray child or socket must not keep the bench from ending.
await stopAll('SIGKILL');
process.exit(0);
