import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { SERIES_RANGE_NAMES, type RunSeries, type SeriesRange } from '../core/run-series.js';
import { ErrorNote, Loading } from './components.js';
import { axisTime, duration, instant, onTimeZone, timeZone } from './format.js';
import { useApi } from './hooks.js';

/** One line of a chart: its label, the CSS colour variable it is drawn in, a dash pattern (never colour alone), its values. */
interface Line {
  label: string;
  color: string;
  dash?: number[];
  values: Array<number | null>;
}

/** Whole steps for count axes (no "0.5 runs"). */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000];
const RANGE_LABEL: Record<SeriesRange, string> = { '1h': '1 h', '24h': '24 h', '7d': '7 d' };
const BUCKET_LABEL: Record<SeriesRange, string> = { '1h': 'minute', '24h': '15 min', '7d': 'hour' };

const cssColor = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
const sum = (xs: ReadonlyArray<number | null>) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);

/** The three charts of a series: throughput, failures, start latency. */
function chartsOf(s: RunSeries): Array<{ id: string; title: string; unit: 'runs' | 'ms'; lines: Line[] }> {
  const p = s.points;
  const ended = p.map((x) => x.ended.eventful + x.ended.uneventful + x.ended.failed + x.ended.permfailed + x.ended.lost);
  return [
    {
      id: 'throughput',
      title: `Throughput: runs ended per ${BUCKET_LABEL[s.range]}`,
      unit: 'runs',
      lines: [
        { label: 'ended', color: '--accent', values: ended },
        { label: 'succeeded', color: '--ok', dash: [6, 3], values: p.map((x) => x.ended.eventful + x.ended.uneventful) },
      ],
    },
    {
      id: 'failures',
      title: `Failures per ${BUCKET_LABEL[s.range]}`,
      unit: 'runs',
      lines: [
        { label: 'failed', color: '--bad', values: p.map((x) => x.ended.failed) },
        { label: 'permfailed', color: '--perm', dash: [2, 2], values: p.map((x) => x.ended.permfailed) },
        { label: 'lost', color: '--warn', dash: [6, 3], values: p.map((x) => x.ended.lost) },
      ],
    },
    {
      id: 'latency',
      title: 'Start latency (scheduled → started) of the runs that ended',
      unit: 'ms',
      lines: [
        { label: 'mean', color: '--run', values: p.map((x) => x.latencyMeanMs) },
        { label: 'p95', color: '--warn', dash: [6, 3], values: p.map((x) => x.latencyP95Ms) },
      ],
    },
  ];
}

/** The chart in words (for screen readers and the test): totals, or peaks for latencies. */
function describe(unit: 'runs' | 'ms', lines: Line[], range: SeriesRange): string {
  if (unit === 'runs') return `last ${RANGE_LABEL[range]}: ${lines.map((l) => `${sum(l.values)} ${l.label}`).join(', ')}`;
  const seen = lines.map((l) => ({ l, vals: l.values.filter((v): v is number => v !== null) }));
  if (seen.every((x) => x.vals.length === 0)) return `last ${RANGE_LABEL[range]}: no run started`;
  return `last ${RANGE_LABEL[range]}: ${seen.map(({ l, vals }) => `${l.label} up to ${duration(Math.max(...vals))}`).join(', ')}`;
}

/** One uPlot chart; rebuilt when its data, the time zone or its width change. */
function Chart({ id, title, unit, lines, xs, range }: { id: string; title: string; unit: 'runs' | 'ms'; lines: Line[]; xs: number[]; range: SeriesRange }) {
  const box = useRef<HTMLDivElement>(null);
  const [zone, setZone] = useState(timeZone());
  useEffect(() => onTimeZone(() => setZone(timeZone())), []);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const withDate = range !== '1h';
    const plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: 170,
        // Counts and latencies from 0; a chart of zeros still has a unit's height.
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(unit === 'ms' ? 10 : 1, max)] } },
        tzDate: (ts) => (zone === 'utc' ? uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : new Date(ts * 1000)),
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          { label: 'at', value: (_u, v) => (v === null ? '—' : instant(new Date(v * 1000))) },
          ...lines.map((l) => ({
            label: l.label,
            stroke: cssColor(l.color),
            width: 1.6,
            ...(l.dash ? { dash: l.dash } : {}),
            spanGaps: false,
            // Latency buckets without a started run are gaps: a lone bucket shows as a dot.
            points: unit === 'ms' ? { show: true, size: 5, fill: cssColor(l.color) } : { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : unit === 'ms' ? duration(v) : String(v)),
          })),
        ],
        axes: [
          { stroke: cssColor('--muted'), grid: { stroke: cssColor('--line'), width: 1 }, values: (_u, splits) => splits.map((s) => axisTime(new Date(s * 1000), withDate)) },
          {
            stroke: cssColor('--muted'),
            grid: { stroke: cssColor('--line'), width: 1 },
            size: 64,
            ...(unit === 'runs' ? { incrs: COUNT_STEPS } : {}),
            values: (_u, splits) => splits.map((v) => (unit === 'ms' ? duration(v) : String(v))),
          },
        ],
      },
      [xs, ...lines.map((l) => l.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height: 170 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [xs, lines, zone, unit, range]);
  const words = describe(unit, lines, range);
  return (
    <figure class="range-chart" data-chart={id}>
      <figcaption id={`${id}-title`}>
        <strong>{title}</strong>
      </figcaption>
      <div ref={box} class="uplot-box" role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-words`} />
      <p class="chart-words" id={`${id}-words`}>{words}</p>
    </figure>
  );
}

/**
 * Throughput, failures and start latency over a chosen range (1 h, 24 h, 7 d), of one task type or
 * all (GET /api/stats/series), drawn with uPlot.
 */
export function RangeCharts({ type }: { type?: string }) {
  const [range, setRange] = useState<SeriesRange>('1h');
  const { data, error, reload } = useApi((c) => c.stats.series({ range, ...(type ? { type } : {}) }), [range, type], {
    live: (e) => e.event === 'ended' && (!type || e.run.type === type),
    pollMs: 30_000,
  });
  return (
    <section aria-labelledby="charts-title" class="range-charts">
      <div class="charts-head">
        <h2 id="charts-title">Runs over time</h2>
        <div class="segmented" role="group" aria-label="Range">
          {SERIES_RANGE_NAMES.map((r) => (
            <button key={r} type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
              {RANGE_LABEL[r]}
            </button>
          ))}
        </div>
      </div>
      <ErrorNote error={error} onRetry={reload} />
      {!data ? (
        !error && <Loading what="the charts" />
      ) : (
        <ChartsOf series={data} />
      )}
    </section>
  );
}

function ChartsOf({ series }: { series: RunSeries }) {
  // Stable inputs per series, so a re-render without new data does not rebuild the charts.
  const memo = useRef<{ s: RunSeries; xs: number[]; charts: ReturnType<typeof chartsOf> } | null>(null);
  if (memo.current?.s !== series) memo.current = { s: series, xs: series.points.map((p) => p.at.getTime() / 1000), charts: chartsOf(series) };
  const { xs, charts } = memo.current;
  return (
    <div class="charts" data-range={series.range}>
      {charts.map((c) => (
        <Chart key={c.id} {...c} xs={xs} range={series.range} />
      ))}
    </div>
  );
}
