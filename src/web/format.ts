/** Human forms of instants and durations for tables (exact values go in title attributes). */

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let v = Math.abs(ms);
  let out: string;
  if (v < 1000) out = `${Math.round(v)} ms`;
  else if (v < 60_000) out = `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)} s`;
  else if (v < 3_600_000) out = `${Math.floor(v / 60_000)} min ${Math.round((v % 60_000) / 1000)} s`;
  else if (v < 86_400_000) out = `${Math.floor(v / 3_600_000)} h ${Math.round((v % 3_600_000) / 60_000)} min`;
  else {
    v = v / 86_400_000;
    out = `${v.toFixed(v < 10 ? 1 : 0)} d`;
  }
  return neg ? `-${out}` : out;
}

/** "3 min ago", "in 2 h". */
export function relative(d: Date | null | undefined, now = Date.now()): string {
  if (!d) return '—';
  const diff = d.getTime() - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`;
}

export function instant(d: Date | null | undefined): string {
  if (!d) return '—';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function between(a: Date | null | undefined, b: Date | null | undefined): number | null {
  return a && b ? b.getTime() - a.getTime() : null;
}

export function args(a: { args: unknown[]; kwargs: Record<string, unknown> }): string {
  const parts = [...a.args.map((x) => JSON.stringify(x)), ...Object.entries(a.kwargs).map(([k, v]) => `${k}=${JSON.stringify(v)}`)];
  return parts.join(', ');
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
