/** The throughput chart (docs/images/benchmarks.svg), written by hand: one group of bars per concurrency, one bar per system. */
import { key, type Results, type RunMeta } from './results.js';

const COLORS: Record<string, string> = {
  'orrery-sqlite': '#2b6cb0',
  'orrery-pg': '#1a365d',
  'graphile-worker': '#c05621',
  'pg-boss': '#718096',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (v: number) => Math.round(v).toLocaleString('en');

export function throughputChart(r: Results, meta: RunMeta): string {
  const bars: Array<{ id: string; label: string; k: string }> = meta.systems.map((s) => ({ id: s, label: meta.labels[s]!, k: '' }));
  // The bare-SQL limits are far above every system on SQLite: they are given as text, not bars.
  const stores = [...new Set(meta.systems.map((s) => (s === 'orrery-sqlite' ? 'sqlite' : 'postgres')))];
  const bareLines = stores.map(
    (st) => `${st === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${meta.concurrencies.map((c) => `concurrency ${c}: ${num(r.get(key.bare(st, c))?.median ?? 0)}/s`).join(', ')}`,
  );
  const value = (id: string, c: number) => {
    const k = key.rate(id as never, c);
    return { s: r.get(k), capped: r.capped.has(k) };
  };
  const top0 = Math.max(1, ...meta.concurrencies.flatMap((c) => bars.map((b) => value(b.id, c).s?.max ?? 0)));
  // Round gridlines: a step of 1, 2 or 5 times a power of ten, four or five of them.
  const unit = 10 ** Math.floor(Math.log10(top0 / 4));
  const step = [1, 2, 5, 10].map((m) => m * unit).find((st) => st * 5 >= top0 * 1.08)!;
  const ticks = Math.ceil((top0 * 1.08) / step);
  const max = step * ticks;
  const W = 760, left = 70, right = 20, top = 50, plotH = 300, legendH = 22 * Math.ceil(bars.length / 3), H = top + plotH + 112 + legendH;
  const groupW = (W - left - right) / meta.concurrencies.length;
  const barW = Math.min(60, (groupW - 40) / bars.length);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(`Processing throughput: ${num(meta.size)} no-op tasks, one worker process (tasks/s, median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'})`)}</text>`);
  out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(`${meta.date}, ${meta.machine}; whiskers: min..max over rounds`)}</text>`);
  for (let i = 0; i <= ticks; i++) {
    const v = step * i;
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${num(v)}</text>`);
  }
  meta.concurrencies.forEach((c, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * bars.length) / 2;
    bars.forEach((b, bi) => {
      const { s, capped } = value(b.id, c);
      if (!s) return;
      const x = x0 + bi * barW;
      out.push(`<rect x="${x + 2}" y="${y(s.median)}" width="${barW - 4}" height="${top + plotH - y(s.median)}" fill="${COLORS[b.id] ?? '#999'}"><title>${esc(`${b.label}, concurrency ${c}: ${num(s.median)}/s (${num(s.min)} .. ${num(s.max)})`)}</title></rect>`);
      out.push(`<line x1="${x + barW / 2}" x2="${x + barW / 2}" y1="${y(s.min)}" y2="${y(s.max)}" stroke="#000"/>`);
      out.push(`<text x="${x + barW / 2}" y="${y(s.max) - 5}" text-anchor="middle" font-size="10">${num(s.median)}${capped ? '*' : ''}</text>`);
    });
    out.push(`<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 20}" text-anchor="middle" font-weight="bold">concurrency ${c}</text>`);
  });
  out.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#000"/>`);
  bars.forEach((b, i) => {
    const lx = left + (i % 3) * 220, ly = top + plotH + 42 + Math.floor(i / 3) * 22;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[b.id] ?? '#999'}"/><text x="${lx + 18}" y="${ly}">${esc(b.label)}</text>`);
  });
  out.push(`<text x="${left}" y="${H - 24 - 16 * bareLines.length}" fill="#333">Bare-SQL limit of the same claim-and-complete cycle (no Orrery code, no worker process):</text>`);
  bareLines.forEach((l, i) => out.push(`<text x="${left + 12}" y="${H - 24 - 16 * (bareLines.length - 1 - i)}" fill="#333">${esc(l)}</text>`));
  if (r.capped.size > 0) out.push(`<text x="${W - right}" y="${H - 6}" text-anchor="end" fill="#555" font-size="10">* stopped at the time cap; rate of the tasks it completed</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
