import { formatDuration } from '../core/durations.js';
import type { SeriesRow, SimulationResult } from './summary.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const W = 860;
const H = 260;
const M = { left: 70, right: 250, top: 28, bottom: 44 };

interface Line {
  label: string;
  color: string;
  dashed: boolean;
  points: Array<[number, number]>;
}

interface Chart {
  file: string;
  title: string;
  unit: 'count' | 'ms' | 'ratio';
  value: (r: SeriesRow) => number;
  /** Sum the types (one line per scenario) instead of one line per type. */
  total?: boolean;
}

const CHARTS: Chart[] = [
  { file: 'queue-length', title: 'Queue length (mean per interval: due, queued and buffered runs)', unit: 'count', value: (r) => r.queueMean },
  { file: 'lag-p95', title: 'Lag p95 (handler start minus due instant)', unit: 'ms', value: (r) => r.lagP95Ms },
  { file: 'lag-p50', title: 'Lag p50', unit: 'ms', value: (r) => r.lagP50Ms },
  { file: 'runs-started', title: 'Runs started per interval', unit: 'count', value: (r) => r.started },
  { file: 'runs-failed', title: 'Runs ended failed or lost per interval', unit: 'count', value: (r) => r.failed + r.permfailed + r.lost },
  { file: 'utilization', title: 'Worker utilization (busy share of all slots)', unit: 'ratio', value: (r) => r.utilization, total: true },
];
/** With visits: the successful visits per interval (per visit type). */
const VISITS_CHART: Chart = { file: 'visits', title: 'Successful visits per interval', unit: 'count', value: (r) => r.visits?.successful ?? 0 };

/** The file of every chart a report may draw (charts/NAME): none may be a directory when it is written. */
export const CHART_FILES: readonly string[] = [...CHARTS, VISITS_CHART].map((c) => `${c.file}.svg`);

/** The charts of these runs: the visits chart only when a series has visit counts. */
function chartsOf(runs: ReadonlyArray<{ result: SimulationResult }>): Chart[] {
  return runs.some((r) => r.result.series.some((x) => x.visits !== undefined)) ? [...CHARTS, VISITS_CHART] : CHARTS;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step for an axis spanning `span` with about `n` ticks. */
function niceStep(span: number, n: number): number {
  const raw = span / n;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

/** Milliseconds shown in the unit that suits the axis maximum. */
function msUnit(max: number): { div: number; name: string } {
  if (max >= 2 * 86_400_000) return { div: 86_400_000, name: 'days' };
  if (max >= 2 * 3_600_000) return { div: 3_600_000, name: 'hours' };
  if (max >= 2 * 60_000) return { div: 60_000, name: 'minutes' };
  if (max >= 2_000) return { div: 1000, name: 'seconds' };
  return { div: 1, name: 'ms' };
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return String(Math.round(v * 1000) / 1000);
}

function svgChart(chart: Chart, lines: Line[], spanMs: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  let maxY = 0;
  for (const l of lines) for (const [, y] of l.points) maxY = Math.max(maxY, y);
  const yu = chart.unit === 'ms' ? msUnit(maxY) : chart.unit === 'ratio' ? { div: 0.01, name: '%' } : { div: 1, name: 'runs' };
  const top = maxY / yu.div;
  const yStep = niceStep(top > 0 ? top : 1, 5);
  const yMax = Math.max(yStep, Math.ceil(top / yStep) * yStep);
  const xu = msUnit(spanMs);
  const xMax = spanMs / xu.div;
  const xStep = niceStep(xMax, 8);
  const x = (ms: number) => M.left + (ms / spanMs) * pw;
  const y = (v: number) => M.top + ph - (v / yu.div / yMax) * ph;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(chart.title)}">`];
  out.push(`<text x="${M.left}" y="16" font-size="13" font-weight="bold">${esc(chart.title)}</text>`);
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const yy = M.top + ph - (v / yMax) * ph;
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${(yy + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    const xx = M.left + (v / xMax) * pw;
    out.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${M.top + ph}" y2="${M.top + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${xx.toFixed(1)}" y="${M.top + ph + 16}" font-size="11" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 6}" font-size="11" text-anchor="middle">simulated time (${xu.name} since start)</text>`);
  out.push(`<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" font-size="11" text-anchor="middle">${yu.name}</text>`);
  lines.forEach((l, i) => {
    const d = l.points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${x(px).toFixed(1)} ${y(py).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.6"${l.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    // One interval gives one point, which a path alone does not show.
    if (l.points.length === 1) out.push(`<circle cx="${x(l.points[0]![0]).toFixed(1)}" cy="${y(l.points[0]![1]).toFixed(1)}" r="3" ${l.dashed ? `fill="none" stroke="${l.color}"` : `fill="${l.color}"`}/>`);
    const ly = M.top + 10 + i * 16;
    out.push(`<line x1="${M.left + pw + 10}" x2="${M.left + pw + 30}" y1="${ly}" y2="${ly}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${M.left + pw + 34}" y="${ly + 4}" font-size="11">${esc(l.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function linesOf(chart: Chart, runs: Array<{ name: string; result: SimulationResult; dashed: boolean }>): Line[] {
  const lines: Line[] = [];
  const types = [...new Set(runs.flatMap((r) => r.result.series.map((s) => s.type)))].sort();
  for (const [ri, r] of runs.entries()) {
    const from = Date.parse(r.result.summary.simulated.from);
    const half = r.result.summary.intervalMs / 2;
    const groups = chart.total ? [['all types', r.result.series]] as const : types.map((t) => [t, r.result.series.filter((s) => s.type === t)] as const);
    groups.forEach(([label, rows], gi) => {
      const byStart = new Map<string, number>();
      for (const row of rows) byStart.set(row.start, (byStart.get(row.start) ?? 0) + chart.value(row));
      if (byStart.size === 0) return;
      lines.push({
        label: runs.length > 1 ? `${label} (${r.name})` : label,
        color: COLORS[(chart.total ? ri : gi) % COLORS.length]!,
        dashed: r.dashed,
        points: [...byStart].map(([start, v]) => [Date.parse(start) - from + half, v]),
      });
    });
  }
  return lines;
}

function summaryTable(runs: Array<{ name: string; result: SimulationResult }>): string {
  const rows: Array<[string, ...string[]]> = [];
  const add = (label: string, f: (r: SimulationResult) => string) => rows.push([label, ...runs.map((x) => f(x.result))]);
  const dur = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(Math.round(ms / 1000) * 1000));
  add('simulated', (r) => `${r.summary.simulated.from} → ${r.summary.simulated.to}`);
  add('seed', (r) => String(r.summary.seed));
  add('worker processes / slots', (r) => `${r.summary.workers.processes} / ${r.summary.workers.slots}`);
  add('utilization', (r) => `${(r.summary.workers.utilization * 100).toFixed(1)} %`);
  add('crashes', (r) => String(r.summary.workers.crashes));
  add('runs (eventful / uneventful / failed / permfailed / lost)', (r) => {
    const x = r.summary.runs;
    return `${x.total} (${x.eventful} / ${x.uneventful} / ${x.failed} / ${x.permfailed} / ${x.lost})`;
  });
  add('wall time, runs per wall second', (r) => `${dur(r.summary.wallMs)}, ${r.summary.runsPerWallSecond}`);
  const types = [...new Set(runs.flatMap((x) => Object.keys(x.result.summary.byType)))].sort();
  for (const t of types) {
    const of = (r: SimulationResult) => r.summary.byType[t];
    add(`${t}: runs`, (r) => String(of(r)?.runs ?? '–'));
    add(`${t}: lag mean / p50 / p95 / p99 / max`, (r) => {
      const l = of(r)?.lagMs;
      return l ? [l.mean, l.p50, l.p95, l.p99, l.max].map(dur).join(' / ') : '–';
    });
    add(`${t}: queue mean / max`, (r) => (of(r) ? `${of(r)!.queue.mean} / ${of(r)!.queue.max}` : '–'));
    add(`${t}: final interval min / p50 / max`, (r) => {
      const f = of(r)?.finalIntervalMs;
      return f ? [f.min, f.p50, f.max].map(dur).join(' / ') : '–';
    });
  }
  const dags = [...new Set(runs.flatMap((x) => Object.keys(x.result.summary.dags ?? {})))].sort();
  for (const d of dags) {
    add(`DAG ${d}: runs (success / failed / unfinished)`, (r) => {
      const x = r.summary.dags?.[d];
      return x ? `${x.runs} (${x.success} / ${x.failed} / ${x.unfinished})` : '–';
    });
    add(`DAG ${d}: duration mean / p95 / max`, (r) => {
      const x = r.summary.dags?.[d]?.durationMs;
      return x ? [x.mean, x.p95, x.max].map(dur).join(' / ') : '–';
    });
  }
  if (runs.some((x) => x.result.summary.visits)) {
    add('origins known / enabled / never visited / with pending changes', (r) => {
      const v = r.summary.visits;
      return v ? `${v.known} / ${v.enabled} / ${v.neverVisited} / ${v.withPendingChanges}` : '–';
    });
    add('mean staleness', (r) => (r.summary.visits ? dur(r.summary.visits.meanStalenessMs) : '–'));
    add('visits successful / failed / not found / eventful', (r) => {
      const v = r.summary.visits?.visits;
      return v ? `${v.successful} / ${v.failed} / ${v.notFound} / ${v.eventful}` : '–';
    });
  }
  const head = `<tr><th></th>${runs.map((x) => `<th>${esc(x.name)}</th>`).join('')}</tr>`;
  return `<table>${head}${rows.map(([l, ...v]) => `<tr><th>${esc(l)}</th>${v.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** The report's charts as standalone SVG documents, named after their titles (`queue-length.svg`...). */
export function reportCharts(result: SimulationResult, compare?: SimulationResult): Array<{ file: string; svg: string }> {
  const runs = [{ name: result.summary.scenario, result, dashed: false }];
  if (compare) runs.push({ name: compare.summary.scenario === result.summary.scenario ? `${compare.summary.scenario} (compared)` : compare.summary.scenario, result: compare, dashed: true });
  const spanMs = Math.max(...runs.map((r) => Date.parse(r.result.summary.simulated.to) - Date.parse(r.result.summary.simulated.from)));
  return chartsOf(runs).map((c) => ({ file: `${c.file}.svg`, svg: svgChart(c, linesOf(c, runs), spanMs) }));
}

/** report.html: the summary as a table and the series as SVG charts; `compare` is drawn dashed on the same charts. */
export function renderReport(result: SimulationResult, compare?: SimulationResult): string {
  const runs = [{ name: result.summary.scenario, result, dashed: false }];
  if (compare) runs.push({ name: compare.summary.scenario === result.summary.scenario ? `${compare.summary.scenario} (compared)` : compare.summary.scenario, result: compare, dashed: true });
  const spanMs = Math.max(...runs.map((r) => Date.parse(r.result.summary.simulated.to) - Date.parse(r.result.summary.simulated.from)));
  const title = compare ? `${runs[0]!.name} vs ${runs[1]!.name}` : runs[0]!.name;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orrery simulation: ${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-bottom:24px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}td{font-variant-numeric:tabular-nums}svg{display:block;margin:12px 0}</style>
</head><body>
<h1>Orrery simulation: ${esc(title)}</h1>
${compare ? '<p>Solid lines: the first scenario; dashed lines: the compared one.</p>' : ''}
${summaryTable(runs)}
${chartsOf(runs).map((c) => svgChart(c, linesOf(c, runs), spanMs)).join('\n')}
</body></html>
`;
}
