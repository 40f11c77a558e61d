/**
 * Dependency-free SVG chart of failover latency distributions: one row per system × configuration × node count,
 * grouped by scenario, on a logarithmic millisecond axis (leader-ip, a polled lock and a 60 s etcd lease differ by
 * orders of magnitude). Each row shows every sample as a dot plus a box (p25–p75), the median (thick bar), a p90
 * tick and a min–max whisker.
 */
import { percentile, summarize } from './stats.ts';
import type { FailoverResult, Scenario } from './types.ts';

const SCENARIO_TITLES: Record<Scenario, string> = {
  crash: 'Crash: SIGKILL the leader → new leader active',
  graceful: 'Graceful: SIGTERM the leader (it releases leadership) → new leader active',
  'end-to-end': 'End to end: SIGKILL the leader → API reports the IP on the new leader',
};
const SCENARIO_ORDER: Scenario[] = ['crash', 'graceful', 'end-to-end'];

const SYSTEM_COLOURS: Record<string, string> = {
  'leader-ip': '#1f77b4',
  etcd: '#d62728',
  postgres: '#2ca02c',
};
const FALLBACK_COLOURS = ['#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

const WIDTH = 1220;
const LABEL_X = 12;
const PLOT_LEFT = 330;
const PLOT_RIGHT = 900;
const STATS_X = 912;
const ROW_H = 26;
const HEADER_H = 30;
const TOP = 56;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Label for an axis tick in ms. */
function tickLabel(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  return `${+ms.toPrecision(3)} ms`;
}

function statLabel(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** Deterministic jitter in [-1, 1] so the chart does not change between renders of the same data. */
function jitter(i: number): number {
  const x = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
}

export interface ChartOptions {
  title?: string;
  subtitle?: string;
}

export function renderFailoverSvg(results: readonly FailoverResult[], opts: ChartOptions = {}): string {
  const rows = results.filter((r) => r.samplesMs.length > 0);
  const title = opts.title ?? 'Failover latency (log scale)';
  if (rows.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="80" viewBox="0 0 ${WIDTH} 80" font-family="sans-serif"><text x="${LABEL_X}" y="30" font-size="16">${esc(title)}</text><text x="${LABEL_X}" y="58" font-size="12">No samples.</text></svg>\n`;
  }

  const all = rows.flatMap((r) => r.samplesMs);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...all) * 0.9)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, Math.max(...all) * 1.1)));
  const x = (ms: number): number => {
    const v = Math.min(hi, Math.max(lo, ms));
    return (
      PLOT_LEFT + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (PLOT_RIGHT - PLOT_LEFT)
    );
  };

  const colours = new Map<string, string>();
  const colourOf = (system: string): string => {
    let c = colours.get(system);
    if (!c) {
      c = SYSTEM_COLOURS[system] ?? FALLBACK_COLOURS[colours.size % FALLBACK_COLOURS.length]!;
      colours.set(system, c);
    }
    return c;
  };

  const backgrounds: string[] = [];
  const body: string[] = [];
  let y = TOP;
  let dotIndex = 0;
  for (const scenario of SCENARIO_ORDER) {
    const group = rows.filter((r) => r.scenario === scenario);
    if (group.length === 0) continue;
    body.push(
      `<text x="${LABEL_X}" y="${y + 20}" font-size="13" font-weight="bold">${esc(SCENARIO_TITLES[scenario])}</text>`,
    );
    y += HEADER_H;
    for (const [i, r] of group.entries()) {
      const cy = y + ROW_H / 2;
      const colour = colourOf(r.system);
      const sorted = [...r.samplesMs].sort((a, b) => a - b);
      const s = summarize(sorted)!;
      const p25 = percentile(sorted, 25);
      const p75 = percentile(sorted, 75);
      if (i % 2 === 0) {
        backgrounds.push(
          `<rect x="${LABEL_X - 4}" y="${y}" width="${WIDTH - 2 * (LABEL_X - 4)}" height="${ROW_H}" fill="#f4f4f4"/>`,
        );
      }
      const label = `${r.system} · ${r.config} · ${r.nodes} nodes`;
      body.push(`<text x="${LABEL_X}" y="${cy + 4}" font-size="12" fill="${colour}">${esc(label)}</text>`);
      body.push(
        `<line x1="${x(s.min).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="${colour}" stroke-width="1"/>`,
      );
      body.push(
        `<rect x="${x(p25).toFixed(1)}" y="${cy - 7}" width="${Math.max(1, x(p75) - x(p25)).toFixed(1)}" height="14" fill="${colour}" fill-opacity="0.15" stroke="${colour}"/>`,
      );
      for (const v of r.samplesMs) {
        body.push(
          `<circle cx="${x(v).toFixed(1)}" cy="${(cy + jitter(dotIndex++) * 8).toFixed(1)}" r="2.2" fill="${colour}" fill-opacity="0.45"/>`,
        );
      }
      body.push(
        `<line x1="${x(s.p50).toFixed(1)}" x2="${x(s.p50).toFixed(1)}" y1="${cy - 9}" y2="${cy + 9}" stroke="#000" stroke-width="2.5"/>`,
      );
      body.push(
        `<line x1="${x(s.p90).toFixed(1)}" x2="${x(s.p90).toFixed(1)}" y1="${cy - 6}" y2="${cy + 6}" stroke="#000" stroke-width="1"/>`,
      );
      body.push(
        `<text x="${STATS_X}" y="${cy + 4}" font-size="11" fill="#333">p50 ${statLabel(s.p50)} · p90 ${statLabel(s.p90)} · max ${statLabel(s.max)} · n=${s.n}</text>`,
      );
      y += ROW_H;
    }
    y += 6;
  }

  const plotTop = TOP - 4;
  const plotBottom = y;
  const axis: string[] = [];
  // Minor tick labels only where a decade is wide enough for them not to collide with the decade labels.
  const decadePx = (PLOT_RIGHT - PLOT_LEFT) / (Math.log10(hi) - Math.log10(lo));
  const labelMinor = decadePx >= 170;
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m;
      if (v > hi * 1.0001) break;
      const xv = x(v).toFixed(1);
      const major = m === 1;
      axis.push(
        `<line x1="${xv}" x2="${xv}" y1="${plotTop}" y2="${plotBottom}" stroke="${major ? '#bbb' : '#e2e2e2'}" stroke-width="1"/>`,
      );
      if (!major && !labelMinor) continue;
      axis.push(
        `<text x="${xv}" y="${plotBottom + 16}" font-size="${major ? 11 : 9}" fill="${major ? '#333' : '#888'}" text-anchor="middle">${esc(tickLabel(v))}</text>`,
      );
    }
  }
  const legendY = plotBottom + 40;
  const legend =
    `<text x="${LABEL_X}" y="${legendY}" font-size="11" fill="#333">` +
    'Dots: individual failovers (time from the signal to the new leader’s event, shared monotonic clock). ' +
    'Box: p25–p75. Thick bar: median. Thin tick: p90. Line: min–max. Log scale.</text>';
  const height = legendY + 16;
  const header =
    `<text x="${LABEL_X}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>` +
    (opts.subtitle ? `<text x="${LABEL_X}" y="42" font-size="11" fill="#555">${esc(opts.subtitle)}</text>` : '');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    header,
    ...backgrounds,
    ...axis,
    ...body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
