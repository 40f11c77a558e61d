/**
 * Baselines only: etcd election, leader-ip's etcd backend beside it, PostgreSQL advisory lock and keepalived (VRRP),
 * crash and graceful.
 * `npm run bench:baselines -- --kills 50` (see `--help`). Prints the table; writes nothing unless `--json FILE`.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { runEtcdBackendBench } from '../etcd-backend.ts';
import { nowMs } from '../lib/clock.ts';
import { type BenchOptions, parseBenchArgs, selected } from '../lib/options.ts';
import { stopAll } from '../lib/proc.ts';
import { renderConsole } from '../lib/report.ts';
import { type BenchSection, mergeSections } from '../lib/types.ts';
import { runEtcdBaseline } from './etcd.ts';
import { runKeepalivedBaseline } from './keepalived.ts';
import { runPostgresBaseline } from './postgres.ts';

/**
 * Run every selected baseline in turn. A baseline that cannot run (server not installed, startup failure) is
 * reported in `skipped` and the others still run.
 */
export async function runBaselines(opts: BenchOptions): Promise<BenchSection> {
  const sections: BenchSection[] = [];
  const baselines: [string, (o: BenchOptions) => Promise<BenchSection>][] = [
    ['etcd', runEtcdBaseline],
    // leader-ip's own etcd backend beside etcd3's Election on the same etcd (bench/etcd-backend.ts).
    ['etcd-backend', runEtcdBackendBench],
    ['postgres', runPostgresBaseline],
    ['keepalived', runKeepalivedBaseline],
  ];
  for (const [name, run] of baselines) {
    if (!selected(opts, name)) continue;
    const start = nowMs();
    try {
      const section = await run(opts);
      sections.push(section);
      process.stderr.write(`${name}: done in ${((nowMs() - start) / 1000).toFixed(0)} s\n`);
    } catch (err) {
      const msg = `${name} baseline failed: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`${msg}\n`);
      sections.push({ failover: [], skipped: [msg] });
    }
  }
  return mergeSections(sections);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opts = parseBenchArgs();
  const start = nowMs();
  const section = await runBaselines(opts);
  process.stdout.write(`\n${renderConsole(section)}\n`);
  process.stdout.write(`\nbaselines run time: ${((nowMs() - start) / 60_000).toFixed(1)} min\n`);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(section, null, 2)}\n`);
  // Nothing should be left, but a stray child or socket must not keep the bench from ending.
  await stopAll('SIGKILL');
  process.exit(0);
}
