import { Gauge, type Registry } from 'prom-client';
import type { Orrery } from '../engine/service.js';
import type { VisitMetrics } from '../store/visit-store.js';

/**
 * Visit metrics per (lister, visit type) on /metrics, as stored by the last `origin update-metrics`
 * (read at scrape time: one small table, one row per lister and visit type).
 */
export function registerVisitMetrics(registry: Registry, orrery: Orrery): void {
  let pending: Promise<VisitMetrics[]> | null = null;
  const read = () => {
    pending ??= orrery.visits.getMetrics().finally(() => setTimeout(() => (pending = null), 0));
    return pending;
  };
  const gauge = (name: string, help: string, value: (m: VisitMetrics) => number) => {
    const g: Gauge<'lister' | 'visit_type'> = new Gauge({
      name,
      help,
      labelNames: ['lister', 'visit_type'] as const,
      registers: [registry],
      async collect() {
        const all = await read();
        g.reset();
        for (const m of all) g.set({ lister: m.listerId, visit_type: m.visitType }, value(m));
      },
    });
  };
  gauge('orrery_visit_origins_known', 'Listed origins, per lister and visit type (as of the last metrics update).', (m) => m.originsKnown);
  gauge('orrery_visit_origins_enabled', 'Enabled listed origins, per lister and visit type.', (m) => m.originsEnabled);
  gauge('orrery_visit_origins_never_visited', 'Enabled origins never visited successfully, per lister and visit type.', (m) => m.originsNeverVisited);
  gauge('orrery_visit_origins_pending_changes', 'Enabled origins updated after their last successful visit, per lister and visit type.', (m) => m.originsWithPendingChanges);
}
