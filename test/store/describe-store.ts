import { describe } from 'vitest';
import type { Store, StoreCapabilities } from '../../src/store/store.js';
import { jobboardCases } from './jobboard.case.js';
import { runnerCases } from './runner.case.js';
import { statsCases } from './stats.case.js';
import { taskCases } from './tasks.case.js';

export interface StoreUnderTest {
  name: string;
  /** Opens a fresh, empty, migrated store; `shared` opens a second store on the same database. */
  open(): Promise<{ store: Store; openAnother(): Promise<Store>; cleanup(): Promise<void> }>;
  caps: StoreCapabilities;
}

/** Runs every conformance case against one store implementation. */
export function describeStore(sut: StoreUnderTest): void {
  describe(`store conformance: ${sut.name}`, () => {
    taskCases(sut);
    runnerCases(sut);
    jobboardCases(sut);
    statsCases(sut);
  });
}
