import type { TaskStatus } from './model.js';

/** The error of a run ended because its task was disabled while the run waited or was held (SPEC §2.3). */
export const TASK_DISABLED_ERROR = 'cancelled: task disabled';

/**
 * What becomes of a run its worker gives back without having run its handler (a graceful stop, a
 * release, or the reaper finding its claim expired):
 * - `queue`: back to the queue, for any worker to claim;
 * - `take-back`: its task was paused meanwhile: the run is deleted (it never ran) and the task waits
 *   with its next run, as a pause takes back a waiting run;
 * - `cancel-disabled`: its task was disabled meanwhile: the run ends `lost` with TASK_DISABLED_ERROR,
 *   as disabling ends a waiting run;
 * - `cancel`: its cancellation was asked while its worker held it: it ends `lost` (`cancelled`), as
 *   cancelling a waiting run does.
 */
export type GiveBackFate = 'queue' | 'take-back' | 'cancel-disabled' | 'cancel';

export function giveBackFate(r: { cancelRequested: boolean; taskStatus: TaskStatus; taskPaused: boolean }): GiveBackFate {
  if (r.taskStatus === 'disabled') return 'cancel-disabled';
  if (r.cancelRequested) return 'cancel';
  if (r.taskPaused) return 'take-back';
  return 'queue';
}
