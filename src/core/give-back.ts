import type { TaskStatus } from './model.js';

/** The error of a run ended because its task was disabled while the run waited or was held (SPEC §2.3). */
export const TASK_DISABLED_ERROR = 'cancelled: task disabled';
/** The error of a run a reaper found expired while its task was paused: it is kept as a loss, not re-queued. */
export const PAUSED_GIVE_BACK_ERROR = 'given back while its task was paused (its worker vanished; its handler may have begun)';

/**
 * What becomes of a run its worker gives back without having run its handler (a graceful stop, a
 * release, or the reaper finding its claim expired):
 * - `queue`: back to the queue, for any worker to claim;
 * - `take-back`: its task was paused meanwhile and its worker gave it back (its handler never began):
 *   the run is deleted and the task waits with its next run, as a pause takes back a waiting run;
 * - `withdraw`: its task was paused meanwhile and a reaper found its claim expired (its handler may
 *   have begun just before its worker vanished): the run ends `lost` (PAUSED_GIVE_BACK_ERROR, its log
 *   and give-back count kept, no end-of-run formula) and the task waits with its next run;
 * - `cancel-disabled`: its task was disabled meanwhile: the run ends `lost` with TASK_DISABLED_ERROR,
 *   as disabling ends a waiting run;
 * - `cancel`: its cancellation was asked while its worker held it: it ends `lost` (`cancelled`), as
 *   cancelling a waiting run does.
 */
export type GiveBackFate = 'queue' | 'take-back' | 'withdraw' | 'cancel-disabled' | 'cancel';

/** `reaped`: given back by a reaper (its claim expired), not by its worker. */
export function giveBackFate(r: { cancelRequested: boolean; taskStatus: TaskStatus; taskPaused: boolean; reaped: boolean }): GiveBackFate {
  if (r.taskStatus === 'disabled') return 'cancel-disabled';
  if (r.cancelRequested) return 'cancel';
  if (r.taskPaused) return r.reaped ? 'withdraw' : 'take-back';
  return 'queue';
}

/** What a give-back did: how many runs went back to the queue, and the ends it made (for their events). */
export interface GiveBackOutcome<End, Run = End extends { run: infer R } ? R : never> {
  queued: number;
  /** Runs ended through the end of a run (`cancel`). */
  ended: End[];
  /** Runs kept as a loss by a reaper while their task was paused (`withdraw`): ended `lost`, no formula. */
  withdrawn: Run[];
  /** Runs ended `lost` because their task was disabled (`cancel-disabled`): no formula. */
  disabled: Run[];
}
