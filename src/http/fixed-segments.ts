import type { Route } from './routes.js';

/**
 * For each route, the values each of its path parameters must not take: the fixed segments other
 * routes have in that place (`batch`, `disable`, `import` ... beside `/tasks/:id`). A path some
 * route spells out is that route's, so with another method it is no route (404), not a parameter
 * of a third route refused as such (`GET /api/tasks/batch` is not task `batch`).
 */
export function reservedParamValues(routes: readonly Route[]): Map<Route, Map<string, ReadonlySet<string>>> {
  const split = routes.map((r) => r.path.split('/').filter((s) => s !== ''));
  const isParam = (s: string) => s.startsWith(':');
  const out = new Map<Route, Map<string, ReadonlySet<string>>>();
  routes.forEach((r, ri) => {
    const mine = split[ri]!;
    const byParam = new Map<string, ReadonlySet<string>>();
    mine.forEach((seg, i) => {
      if (!isParam(seg)) return;
      const fixed = new Set<string>();
      for (const other of split) {
        const at = other[i];
        if (other === mine || at === undefined || isParam(at)) continue;
        // The segments before this place lead to the same path (a parameter takes any segment).
        if (mine.slice(0, i).every((s, j) => s === other[j] || isParam(s) || isParam(other[j]!))) fixed.add(at);
      }
      if (fixed.size > 0) byParam.set(seg.slice(1), fixed);
    });
    if (byParam.size > 0) out.set(r, byParam);
  });
  return out;
}
