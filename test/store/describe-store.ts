import { describe } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { archiveCases } from './archive.case.js';
import { dagCases } from './dags.case.js';
import { dashboardStatsCases } from './dashboard-stats.case.js';
import { directClaimCases } from './direct-claims.case.js';
import { claimAheadCases } from './claim-ahead.case.js';
import { jobboardCases } from './jobboard.case.js';
import { limitCases } from './limits.case.js';
import { flowLimitCases } from './flow-limits.case.js';
import { runnerCases } from './runner.case.js';
import { statsCases } from './stats.case.js';
import { taskBatchCases } from './task-batches.case.js';
import { taskImportCases } from './task-import.case.js';
import { taskCases } from './tasks.case.js';
import { taskTypeAdminCases } from './task-type-admin.case.js';
import { pauseCases } from './pause.case.js';
import { whyCases } from './why.case.js';
import { tracingCases } from './tracing.case.js';
import { runSearchCases } from './run-search.case.js';
import { taskSearchCases } from './task-search.case.js';
import { bulkActionCases } from './bulk-actions.case.js';
import { visitHistoryCases } from './visit-history.case.js';
import { visitCases } from './visits.case.js';
import { scheduleCases } from './schedules.case.js';
import { workerRegistryCases } from './workers.case.js';
import { badValueCases } from './bad-values.case.js';
import { inputKindCases } from './input-kinds.case.js';
import { alertCases } from './alerts.case.js';

export interface StoreUnderTest {
  name: string;
  /** Opens a fresh, empty, migrated store; `shared` opens a second store on the same database. */
  open(): Promise<{ store: Store; openAnother(): Promise<Store>; cleanup(): Promise<void> }>;
}

/** Runs every conformance case against one store implementation. */
export function describeStore(sut: StoreUnderTest): void {
  describe(`store conformance: ${sut.name}`, () => {
    taskCases(sut);
    taskBatchCases(sut);
    taskImportCases(sut);
    taskTypeAdminCases(sut);
    pauseCases(sut);
    whyCases(sut);
    runSearchCases(sut);
    taskSearchCases(sut);
    bulkActionCases(sut);
    runnerCases(sut);
    jobboardCases(sut);
    directClaimCases(sut);
    claimAheadCases(sut);
    limitCases(sut);
    flowLimitCases(sut);
    statsCases(sut);
    dashboardStatsCases(sut);
    dagCases(sut);
    archiveCases(sut);
    visitCases(sut);
    visitHistoryCases(sut);
    tracingCases(sut);
    scheduleCases(sut);
    alertCases(sut);
    workerRegistryCases(sut);
    badValueCases(sut);
    inputKindCases(sut);
  });
}
