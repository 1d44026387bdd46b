import type { VisitMetricsSeries } from './types.js';
import { instant } from './format.js';

type Point = VisitMetricsSeries['points'][number];

/** The four counts, each with its own colour and dash pattern (never colour alone). */
const METRICS: ReadonlyArray<{ key: keyof Omit<Point, 'at'>; label: string; cls: string }> = [
  { key: 'originsKnown', label: 'known', cls: 'm-known' },
  { key: 'originsEnabled', label: 'enabled', cls: 'm-enabled' },
  { key: 'originsNeverVisited', label: 'never visited', cls: 'm-never' },
  { key: 'originsWithPendingChanges', label: 'pending changes', cls: 'm-pending' },
];

const W = 360;
const H = 140;
const PAD = { left: 40, right: 8, top: 8, bottom: 22 };

/** "known 3 → 5, enabled 3 → 4, ...": the chart in words, first and last point. */
export function describeSeries(points: readonly Point[]): string {
  if (points.length === 0) return 'no points yet';
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const span = points.length === 1 ? `1 point, at ${instant(first.at)}` : `${points.length} points from ${instant(first.at)} to ${instant(last.at)}`;
  const values = METRICS.map((m) => (points.length === 1 ? `${m.label} ${last[m.key]}` : `${m.label} ${first[m.key]} → ${last[m.key]}`));
  return `${span}: ${values.join(', ')}`;
}

/**
 * Known / enabled / never visited / pending origins of one (lister, visit type) over time: a hand-written
 * SVG line chart (time on x, counts on y from 0), described in words for screen readers, with the
 * numbers in a table under "Data".
 */
export function MetricsChart({ title, series }: { title: string; series: VisitMetricsSeries }) {
  const pts = series.points;
  const t0 = pts[0]?.at.getTime() ?? 0;
  const t1 = pts[pts.length - 1]?.at.getTime() ?? 0;
  const max = Math.max(1, ...pts.flatMap((p) => METRICS.map((m) => p[m.key])));
  const x = (t: number) => PAD.left + (t1 === t0 ? (W - PAD.left - PAD.right) / 2 : ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right));
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const id = `chart-${series.listerId}-${series.visitType}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const words = describeSeries(pts);
  return (
    <figure class="metrics-chart" data-series={`${series.listerId}/${series.visitType}`}>
      <figcaption id={`${id}-title`}>
        <strong>{title}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-words`} preserveAspectRatio="xMidYMid meet">
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} />
        <line class="axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={y(0)} />
        <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(max)} y2={y(max)} />
        <text class="tick" x={PAD.left - 4} y={y(max) + 4} text-anchor="end">{max}</text>
        <text class="tick" x={PAD.left - 4} y={y(0) + 4} text-anchor="end">0</text>
        {pts.length > 0 && <text class="tick" x={PAD.left} y={H - 6} text-anchor="start">{instant(pts[0]!.at).slice(5, 16)}</text>}
        {pts.length > 1 && <text class="tick" x={W - PAD.right} y={H - 6} text-anchor="end">{instant(pts[pts.length - 1]!.at).slice(5, 16)}</text>}
        {METRICS.map((m) => (
          <g key={m.key} class={`metric ${m.cls}`} data-metric={m.label}>
            <polyline fill="none" points={pts.map((p) => `${x(p.at.getTime()).toFixed(1)},${y(p[m.key]).toFixed(1)}`).join(' ')} />
            {pts.length > 0 && <circle r="2.5" cx={x(t1)} cy={y(pts[pts.length - 1]![m.key])} />}
          </g>
        ))}
      </svg>
      <p class="legend" aria-hidden="true">
        {METRICS.map((m) => (
          <span key={m.key} class={`swatch ${m.cls}`}>
            <svg width="18" height="8" viewBox="0 0 18 8"><line x1="0" x2="18" y1="4" y2="4" /></svg> {m.label}
          </span>
        ))}
      </p>
      <p class="chart-words" id={`${id}-words`}>{words}</p>
      <details>
        <summary>Data</summary>
        <div class="scroll">
          <table class="metrics-points">
            <thead>
              <tr>
                <th scope="col">At</th>
                {METRICS.map((m) => <th key={m.key} scope="col" class="num">{m.label}</th>)}
              </tr>
            </thead>
            <tbody>
              {[...pts].reverse().map((p) => (
                <tr key={p.at.getTime()}>
                  <th scope="row">{instant(p.at)}</th>
                  {METRICS.map((m) => <td key={m.key} class="num">{p[m.key]}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
