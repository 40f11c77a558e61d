/**
 * Render bench results as a console table and as the generated section of docs/benchmarks.md (plus the SVG chart).
 * Only the text between the BEGIN/END markers is rewritten, so hand-written notes around it survive regeneration.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './proc.ts';
import { formatMs, type Summary, summarize } from './stats.ts';
import { renderFailoverSvg } from './svg-chart.ts';
import type { BenchSection, FailoverResult, MicroRow, OverheadRow, PartitionResult } from './types.ts';

export const BEGIN_MARKER =
  '<!-- BEGIN GENERATED BENCH RESULTS: `npm run bench` rewrites everything up to the END marker -->';
export const END_MARKER = '<!-- END GENERATED BENCH RESULTS -->';
export const DEFAULT_MD = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
export const DEFAULT_SVG = path.join(REPO_ROOT, 'docs', 'benchmarks-failover.svg');

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

export interface ReportInput {
  section: BenchSection;
  /** Run-wide settings (kills per configuration, flags...), shown before the producers' own settings. */
  settings?: Record<string, string>;
  /** Wall-clock date of the run (only printed, never used for timing). */
  date?: Date;
  /** Total bench run time, ms. */
  durationMs?: number;
}

/** The interval a failover is naturally compared with: the lease, the TTL or the poll interval. */
export function boundOf(r: FailoverResult): { ms: number; label: string } | undefined {
  if (r.leaseMs !== undefined) return { ms: r.leaseMs, label: `lease ${+r.leaseMs.toFixed(2)} ms` };
  if (r.ttl !== undefined) return { ms: r.ttl * 1000, label: `TTL ${r.ttl} s` };
  if (r.pollMs !== undefined) return { ms: r.pollMs, label: `poll ${+r.pollMs.toFixed(2)} ms` };
  return undefined;
}

function ratio(v: number, bound: number | undefined): string {
  if (!bound) return '–';
  const r = v / bound;
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
}

interface Row {
  cells: string[];
}

const FAILOVER_HEADERS = [
  'System',
  'Config',
  'Scenario',
  'Nodes',
  'Bound',
  'n',
  'min',
  'p50',
  'p90',
  'p99',
  'max',
  'mean',
  'p50/bound',
  'p99/bound',
];

function failoverRows(results: readonly FailoverResult[]): Row[] {
  return results.map((r) => {
    const s: Summary | undefined = summarize(r.samplesMs);
    const b = boundOf(r);
    const n = `${s?.n ?? 0}${r.failures ? ` (+${r.failures} failed)` : ''}`;
    const v = (f: (s: Summary) => number): string => (s ? formatMs(f(s)) : '–');
    return {
      cells: [
        r.system,
        r.config,
        r.scenario,
        String(r.nodes),
        b?.label ?? '–',
        n,
        v((x) => x.min),
        v((x) => x.p50),
        v((x) => x.p90),
        v((x) => x.p99),
        v((x) => x.max),
        v((x) => x.mean),
        s ? ratio(s.p50, b?.ms) : '–',
        s ? ratio(s.p99, b?.ms) : '–',
      ],
    };
  });
}

function textTable(headers: string[], rows: Row[], rightAlignFrom: number): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [fmt(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => fmt(r.cells))].join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function mdTable(headers: string[], rows: Row[], rightAlignFrom: number): string {
  const align = headers.map((_, i) => (i >= rightAlignFrom ? '---:' : '---'));
  return [
    `| ${headers.map(mdCell).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${r.cells.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

const OVERHEAD_HEADERS = ['System', 'Config', 'Nodes', 'CPU % / node', 'bytes/s / node', 'RSS MiB / node', 'Note'];
function overheadRows(rows: readonly OverheadRow[]): Row[] {
  return rows.map((r) => ({
    cells: [
      r.system,
      r.config ?? '',
      String(r.nodes),
      r.cpuPercent.toFixed(2),
      r.bytesPerSec === undefined ? '–' : Math.round(r.bytesPerSec).toString(),
      r.rssMiB.toFixed(1),
      r.note ?? '',
    ],
  }));
}

const PARTITION_HEADERS = [
  'System',
  'Config',
  'Partition',
  'n',
  'two leaders p50',
  'two leaders max',
  'no leader p50 (max)',
  'leading at the heal',
  'settled after heal p50 (max)',
  'after: leader / IP on',
  'assign calls p50 (max)',
  'notify calls p50 (max)',
];

/** How often each value occurs, most frequent first: `1+2 ×4, 2 ×1`. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) => `${v} ×${n}`)
    .join(', ');
}

function nodeName(id: number | null): string {
  return id === null ? 'none' : String(id);
}

function medianAndMax(values: readonly number[]): string {
  const s = summarize(values);
  return s ? `${s.p50} (${s.max})` : '–';
}

function msMedianAndMax(values: readonly number[]): string {
  const s = summarize(values);
  return s ? `${formatMs(s.p50)} (${formatMs(s.max)})` : '–';
}

function partitionRows(results: readonly PartitionResult[]): Row[] {
  return results.map((r) => {
    const s = summarize(r.trials.map((t) => t.twoLeadersMs));
    const notify = r.trials.flatMap((t) => (t.notifyCalls === undefined ? [] : [t.notifyCalls]));
    return {
      cells: [
        r.system,
        r.config,
        `${r.mode} ${r.partitionMs / 1000} s`,
        String(r.trials.length),
        s ? formatMs(s.p50) : '–',
        s ? formatMs(s.max) : '–',
        msMedianAndMax(r.trials.map((t) => t.noLeaderMs)),
        tally(r.trials.map((t) => (t.leadersAtHeal.length ? t.leadersAtHeal.join('+') : 'none'))),
        msMedianAndMax(r.trials.map((t) => t.settledAfterHealMs)),
        tally(r.trials.map((t) => `${nodeName(t.leaderAfter)} / ${nodeName(t.holderAfter)}`)),
        medianAndMax(r.trials.map((t) => t.assignCalls)),
        notify.length ? medianAndMax(notify) : '–',
      ],
    };
  });
}

function partitionNotes(results: readonly PartitionResult[]): string[] {
  return results.flatMap((r) =>
    r.trials.flatMap((t, i) => (t.note ? [`${r.system} ${r.config} ${r.mode} trial ${i + 1}: ${t.note}`] : [])),
  );
}

const MICRO_HEADERS = ['Measurement', 'Value', 'Unit', 'Note'];
function microRows(rows: readonly MicroRow[]): Row[] {
  return rows.map((r) => ({ cells: [r.name, String(+r.value.toPrecision(4)), r.unit, r.note ?? ''] }));
}

/** Plain-text tables for the terminal. */
export function renderConsole(section: BenchSection): string {
  const out: string[] = [];
  if (section.failover.length) {
    out.push('Failover latency, ms (nearest-rank percentiles; bound = lease, TTL or poll interval)');
    out.push(textTable(FAILOVER_HEADERS, failoverRows(section.failover), 3));
    const notes = section.failover
      .filter((r) => r.note)
      .map((r) => `  ${r.system} ${r.config} ${r.scenario}: ${r.note}`);
    if (notes.length) out.push(`Notes:\n${notes.join('\n')}`);
  }
  if (section.partition?.length) {
    out.push(
      '',
      "Partition of the leader (ms; nodes by ID, node 1 led before; IP = the fake cloud API's holder)",
      textTable(PARTITION_HEADERS, partitionRows(section.partition), 3),
    );
    const notes = partitionNotes(section.partition);
    if (notes.length) out.push(`Notes:\n${notes.map((n) => `  ${n}`).join('\n')}`);
  }
  if (section.overhead?.length) {
    out.push('', 'Idle overhead', textTable(OVERHEAD_HEADERS, overheadRows(section.overhead), 2));
  }
  if (section.micro?.length) out.push('', 'Micro-benchmarks', textTable(MICRO_HEADERS, microRows(section.micro), 1));
  if (section.skipped?.length) out.push('', 'Skipped:', ...section.skipped.map((s) => `  ${s}`));
  if (section.notes?.length) out.push('', 'Notes:', ...section.notes.map((s) => `  ${s}`));
  return out.join('\n');
}

/** The generated markdown section, markers included. */
export function renderMarkdownSection(input: ReportInput, svgFileName = path.basename(DEFAULT_SVG)): string {
  const { section } = input;
  const m = machineInfo();
  const date = (input.date ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const lines: string[] = [BEGIN_MARKER, '', '## Results', ''];
  lines.push(
    `- Date: ${date}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.os}`,
    `- Node: ${m.node}`,
  );
  if (input.durationMs !== undefined) lines.push(`- Bench run time: ${(input.durationMs / 60_000).toFixed(1)} min`);
  lines.push('');

  lines.push('### Failover latency', '');
  if (section.failover.length) {
    lines.push(
      'Time from the signal sent to the leader to the moment the next leader reports itself, on the monotonic clock ' +
        'shared by all processes (ms). Percentiles are nearest-rank (always an observed sample; with n ≤ 100, ' +
        'p99 = max). *Bound* is the interval the system is configured to wait out: the lease (leader-ip), the ' +
        'lease TTL (etcd) or the poll interval (PostgreSQL); the last two columns divide by it.',
      '',
      mdTable(FAILOVER_HEADERS, failoverRows(section.failover), 3),
      '',
      `![Failover latency distributions](${svgFileName})`,
      '',
    );
    const notes = section.failover.filter((r) => r.note);
    if (notes.length) {
      lines.push(...notes.map((r) => `- ${r.system}, ${r.config}, ${r.scenario}, ${r.nodes} nodes: ${r.note}`), '');
    }
  } else {
    lines.push('No failover measurement in this run.', '');
  }

  if (section.partition?.length) {
    lines.push(
      '### Partition of the leader',
      '',
      'Node 1 leads; its namespace then drops everything on its interface (symmetric), or only what it receives ' +
        '(inbound) or sends (outbound), except traffic with the fake cloud API, for the time given; then the rules ' +
        'go. *Two leaders*: time during which two or more nodes led at once (ms, from leadership events on the ' +
        'shared monotonic clock); *no leader*: time during which none did; *settled*: from the heal to the last ' +
        'change of leader or of whom a node follows. *After*: the leader the cluster settled on after the heal, and the node the fake ' +
        "API's floating IP was on then. Calls are per trial, from the partition to the end of the observation.",
      '',
      mdTable(PARTITION_HEADERS, partitionRows(section.partition), 3),
      '',
      ...partitionNotes(section.partition).map((n) => `- ${n}`),
      '',
    );
  }
  if (section.overhead?.length) {
    lines.push('### Idle overhead', '', mdTable(OVERHEAD_HEADERS, overheadRows(section.overhead), 2), '');
  }
  if (section.micro?.length) {
    lines.push('### Micro-benchmarks', '', mdTable(MICRO_HEADERS, microRows(section.micro), 1), '');
  }

  const settings = { ...(input.settings ?? {}), ...(section.settings ?? {}) };
  if (Object.keys(settings).length) {
    lines.push('### Settings', '', ...Object.entries(settings).map(([k, v]) => `- ${k}: ${v}`), '');
  }
  if (section.skipped?.length) lines.push('### Not measured', '', ...section.skipped.map((s) => `- ${s}`), '');
  if (section.notes?.length) lines.push('### Notes', '', ...section.notes.map((s) => `- ${s}`), '');
  lines.push(END_MARKER);
  return lines.join('\n');
}

const DEFAULT_PREAMBLE = `# Benchmarks

Produced by \`npm run bench\` (see \`bench/\`; baselines are described in
[benchmarks-baselines.md](benchmarks-baselines.md)). Text outside the generated section below is kept when the
results are regenerated.

`;

/** Put `generated` (markers included) into `existing`, replacing an earlier generated section if there is one. */
export function spliceGenerated(existing: string | undefined, generated: string): string {
  if (existing === undefined) return `${DEFAULT_PREAMBLE}${generated}\n`;
  const begin = existing.indexOf(BEGIN_MARKER);
  const end = existing.indexOf(END_MARKER, begin === -1 ? 0 : begin);
  if (begin !== -1 && end !== -1) {
    return existing.slice(0, begin) + generated + existing.slice(end + END_MARKER.length);
  }
  return `${existing.replace(/\s*$/, '\n\n')}${generated}\n`;
}

export interface WriteOptions {
  mdPath?: string;
  svgPath?: string;
}

/** Write docs/benchmarks.md (generated section only) and the SVG chart; returns the paths written. */
export function writeReport(input: ReportInput, opts: WriteOptions = {}): { mdPath: string; svgPath: string } {
  const mdPath = opts.mdPath ?? DEFAULT_MD;
  const svgPath = opts.svgPath ?? DEFAULT_SVG;
  mkdirSync(path.dirname(mdPath), { recursive: true });
  mkdirSync(path.dirname(svgPath), { recursive: true });
  const m = machineInfo();
  const date = (input.date ?? new Date()).toISOString().slice(0, 10);
  const svg = renderFailoverSvg(input.section.failover, {
    subtitle: `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${date}`,
  });
  writeFileSync(svgPath, svg);
  const svgRel = path.relative(path.dirname(mdPath), svgPath).split(path.sep).join('/');
  const existing = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : undefined;
  writeFileSync(mdPath, spliceGenerated(existing, renderMarkdownSection(input, svgRel)));
  return { mdPath, svgPath };
}
