/** Human forms of instants and durations for tables (exact values go in title attributes). */

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let v = Math.abs(ms);
  // Rounded to the unit shown before it is split, so that 59.6 s reads "1 min 0 s", never "60 s".
  const seconds = Math.round(v / 1000);
  const minutes = Math.round(v / 60_000);
  let out: string;
  if (v < 999.5) out = `${Math.round(v)} ms`;
  else if (v < 9_950) out = `${(v / 1000).toFixed(1)} s`;
  else if (seconds < 60) out = `${seconds} s`;
  else if (seconds < 3600) out = `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  else if (minutes < 1440) out = `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  else {
    v = v / 86_400_000;
    out = `${v.toFixed(v < 10 ? 1 : 0)} d`;
  }
  return neg ? `-${out}` : out;
}

/**
 * "3 min ago" for an instant before `now`, "in 2 h" for one after it, "now" within a second. `now`
 * defaults to the moment of the call: a component that re-renders on a timer must not pass the
 * timer's older instant, or a fresher instant read since would read as future ("in 2.0 s").
 */
export function relative(d: Date | null | undefined, now = Date.now()): string {
  if (!d) return '—';
  const diff = d.getTime() - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`;
}

/**
 * For an instant that has happened (a heartbeat, an end): "… ago". One a little ahead of this
 * browser's clock (the server's clock is ahead, or the reading is fresher than `now`) reads "just
 * now", never as future.
 */
export function ago(d: Date | null | undefined, now = Date.now()): string {
  if (!d) return '—';
  const diff = now - d.getTime();
  return diff < 1000 ? 'just now' : `${duration(diff)} ago`;
}

// --- the time zone of displayed instants -------------------------------------------------------
/** The user's choice, kept in this browser's local storage: UTC (default) or the browser's own zone. */
export type TimeZoneChoice = 'utc' | 'local';
const TZ_KEY = 'orrery.timeZone';
let zone: TimeZoneChoice = readZone();
const zoneListeners = new Set<() => void>();

function readZone(): TimeZoneChoice {
  try {
    return globalThis.localStorage?.getItem(TZ_KEY) === 'local' ? 'local' : 'utc';
  } catch {
    return 'utc';
  }
}

export function timeZone(): TimeZoneChoice {
  return zone;
}

/** The browser's own IANA zone name (`Europe/Paris`), for the picker's label. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

export function setTimeZone(z: TimeZoneChoice): void {
  zone = z;
  try {
    localStorage.setItem(TZ_KEY, z);
  } catch {
    // storage refused (private mode): the choice lasts until the page is reloaded
  }
  for (const l of zoneListeners) l();
}

export function onTimeZone(l: () => void): () => void {
  zoneListeners.add(l);
  return () => void zoneListeners.delete(l);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The fields of `d` in the chosen zone, and the zone's suffix (`Z`, or the offset such as `+01:00`). */
function parts(d: Date): { date: string; time: string; ms: string; suffix: string } {
  if (zone === 'utc') {
    const iso = d.toISOString();
    return { date: iso.slice(0, 10), time: iso.slice(11, 19), ms: iso.slice(20, 23), suffix: 'Z' };
  }
  const off = -d.getTimezoneOffset();
  const suffix = `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return {
    date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
    ms: pad(d.getMilliseconds(), 3),
    suffix: ` ${suffix}`,
  };
}

/** An instant in the chosen zone: `2026-01-02 03:04:05Z` (UTC) or `2026-01-02 04:04:05 +01:00`. */
export function instant(d: Date | null | undefined): string {
  if (!d) return '—';
  const p = parts(d);
  return `${p.date} ${p.time}${p.suffix}`;
}

/** The server's ISO instants (`2026-01-02T03:04:05.000Z`) in a text, as `instant` shows them in the chosen zone. */
export function withInstants(text: string): string {
  return text.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, (iso) => instant(new Date(iso)));
}

/** The time of day with milliseconds in the chosen zone (log records): `03:04:05.123`. */
export function clockTime(d: Date): string {
  const p = parts(d);
  return `${p.time}.${p.ms}`;
}

/** A chart axis label in the chosen zone: `03:04` within a day, `01-02 03:04` over longer spans. */
export function axisTime(d: Date, withDate: boolean): string {
  const p = parts(d);
  return withDate ? `${p.date.slice(5)} ${p.time.slice(0, 5)}` : p.time.slice(0, 5);
}

export function between(a: Date | null | undefined, b: Date | null | undefined): number | null {
  return a && b ? b.getTime() - a.getTime() : null;
}

/**
 * Bidirectional formatting characters (embeddings, overrides, isolates, marks): in data they would
 * draw the rest of a cell reversed, making arguments read as something else.
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A task's arguments as `"a", 1, key="v"`, bidirectional formatting characters shown as their JSON escapes (`\u202e`). */
export function args(a: { args: unknown[]; kwargs: Record<string, unknown> }): string {
  const parts = [...a.args.map((x) => JSON.stringify(x)), ...Object.entries(a.kwargs).map(([k, v]) => `${k}=${JSON.stringify(v)}`)];
  return parts.join(', ').replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A DAG trigger form's params (docs/dashboard.md): a JSON object; an empty field, or one of spaces and
 * line breaks only, is `{}`. Answers the object, or the problem to show (nothing is sent then).
 */
export function dagParams(text: string): { params: Record<string, unknown> } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.trim() || '{}');
  } catch (x) {
    return { problem: `Params are not JSON: ${(x as Error).message}` };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { problem: 'Params must be a JSON object, such as {"day": "2026-01-31"}.' };
  return { params: parsed as Record<string, unknown> };
}
