import { constants } from 'node:fs';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { invalid } from '../core/errors.js';
import { CHART_FILES, renderReport, reportCharts } from './report.js';
import type { SeriesRow, SimulationResult, SimulationSummary } from './summary.js';

/** series.csv's columns, in order. */
export const SERIES_COLUMNS = [
  'interval_start',
  'type',
  'queue_mean',
  'queue_max',
  'running_mean',
  'started',
  'eventful',
  'uneventful',
  'failed',
  'permfailed',
  'lost',
  'lag_p50_ms',
  'lag_p95_ms',
  'lag_p99_ms',
  'utilization',
] as const;

/** The columns series.csv adds when the scenario has visits (the visits of a visit type's runs ended in the interval). */
export const VISIT_COLUMNS = ['visits_successful', 'visits_failed', 'visits_not_found', 'visits_eventful'] as const;

/** series.csv: a header, then one line per interval per type (types in name order). */
export function seriesCsv(rows: readonly SeriesRow[]): string {
  const visits = rows.some((r) => r.visits !== undefined);
  const lines = [[...SERIES_COLUMNS, ...(visits ? VISIT_COLUMNS : [])].join(',')];
  for (const r of rows) {
    const v = r.visits ?? { successful: 0, failed: 0, notFound: 0, eventful: 0 };
    lines.push(
      [r.start, r.type, r.queueMean, r.queueMax, r.runningMean, r.started, r.eventful, r.uneventful, r.failed, r.permfailed, r.lost, r.lagP50Ms, r.lagP95Ms, r.lagP99Ms, r.utilization, ...(visits ? [v.successful, v.failed, v.notFound, v.eventful] : [])]
        .map((v) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v)))
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** summary.json's text. */
export function summaryJson(summary: SimulationSummary): string {
  return `${JSON.stringify(summary, null, 2)}\n`;
}

/**
 * Creates `dir` and its missing parents, one level at a time: Node 20's `mkdir(dir, { recursive: true })`
 * never returns for some paths (`/proc/x`), where a plain mkdir fails at once (ENOENT).
 */
export async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (await stat(d).then(() => true, () => false)) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  // EEXIST for a path stat did not find: a dangling symbolic link (stat fails with ENOENT, as it should).
  if (!(await stat(resolve(dir))).isDirectory()) throw Object.assign(new Error(`${dir}: not a directory`), { code: 'ENOTDIR' });
}

/** The files writeSimulation writes at the top of its directory, and the directory of its charts. */
const OUTPUT_FILES = ['summary.json', 'series.csv', 'report.html'] as const;
const CHARTS_DIR = 'charts';

/**
 * What in `dir` (made already) would keep writeSimulation from writing, found before a simulation
 * runs: the directory not writable, a directory where one of its files goes, a file where its charts
 * go. Null when nothing is in the way.
 */
export async function outputsInTheWay(dir: string): Promise<string | null> {
  if (!(await access(dir, constants.W_OK).then(() => true, () => false))) return 'not writable';
  for (const name of OUTPUT_FILES) {
    const found = await stat(join(dir, name)).catch(() => null);
    if (found?.isDirectory()) return `${name} is a directory there (the simulation writes a file of that name)`;
  }
  const charts = await stat(join(dir, CHARTS_DIR)).catch(() => null);
  if (charts && !charts.isDirectory()) return `${CHARTS_DIR} is a file there (the simulation writes its charts into a directory of that name)`;
  // A directory where a chart goes failed the write after the simulation had run (a raw EISDIR, exit 1).
  if (charts) {
    for (const name of CHART_FILES) {
      if ((await stat(join(dir, CHARTS_DIR, name)).catch(() => null))?.isDirectory()) return `${CHARTS_DIR}/${name} is a directory there (the simulation writes a chart of that name)`;
    }
  }
  return null;
}

/** Writes summary.json, series.csv, report.html and the report's charts (charts/*.svg) into `dir` (created if needed); returns their paths. */
export async function writeSimulation(dir: string, result: SimulationResult, compare?: SimulationResult): Promise<string[]> {
  // Checked before the directory is made: null, a summary alone or {} was a TypeError, its directory left empty.
  if (typeof dir !== 'string' || dir.trim() === '') throw invalid('dir', 'must be a directory path');
  checkResult(result, 'result');
  if (compare !== undefined) checkResult(compare, 'compare');
  await makeDirectories(dir);
  const files: Array<[string, string]> = [
    [OUTPUT_FILES[0], summaryJson(result.summary)],
    [OUTPUT_FILES[1], seriesCsv(result.series)],
    [OUTPUT_FILES[2], renderReport(result, compare)],
  ];
  await makeDirectories(join(dir, CHARTS_DIR));
  for (const c of reportCharts(result, compare)) files.push([join(CHARTS_DIR, c.file), `${c.svg}\n`]);
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}

/** A result runSimulation answered: `{ summary, series }` with a summary's scenario and a series array. */
function checkResult(r: unknown, field: string): void {
  const o = r as { summary?: { scenario?: unknown; byType?: unknown }; series?: unknown } | null;
  const ok = o !== null && typeof o === 'object' && Array.isArray(o.series) && o.summary !== null && typeof o.summary === 'object' && typeof o.summary.scenario === 'string' && o.summary.byType !== null && typeof o.summary.byType === 'object';
  if (!ok) throw invalid(field, 'must be what runSimulation answered ({ summary, series })');
}
