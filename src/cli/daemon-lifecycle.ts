/**
 * The life of a daemon command (runner, worker, serve, visit-scheduler): signals watched from the
 * start, a database or server waited for while unreachable, and a stop bounded in time.
 */
import { writeSync } from 'node:fs';
import { formatDuration } from '../core/durations.js';
import { isStorageUnavailable } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import type { Timer } from '../engine/clock.js';
import type { Orrery } from '../engine/service.js';
import { open, type DbOpts } from './common.js';
import { takeHeldSignals } from './held-signals.js';

/**
 * Opens the database and starts the daemon's parts on it, patiently. A daemon started while its
 * database is unreachable (PostgreSQL restarting, network down) waits for it, as it would once
 * running, instead of exiting: supervisors restart a crashed process, but a fleet of them all failing
 * at once helps nobody. The server may also go away between the open and the start's own reads and
 * writes (task types, DAGs, `--types`, the handlers' setup): that start is undone (startServer stops
 * what it started), the store closed, and both tried again. Orrery's own verdicts (bad URL, schema too
 * new, a file that is not a database) are final.
 */
export async function startPatiently<R>(o: DbOpts, log: Logger, signals: SignalWatch, start: (orrery: Orrery) => Promise<R>): Promise<{ orrery: Orrery; running: R } | null> {
  let opened = false;
  return whileUnreachable(log, signals, () => (opened ? 'could not start' : 'cannot open the database'), async () => {
    let orrery: Orrery | null = null;
    opened = false;
    try {
      orrery = await open(o);
      opened = true;
      return { orrery, running: await start(orrery) };
    } catch (e) {
      await orrery?.close().catch(() => {});
      throw e;
    }
  });
}

/**
 * Tries `attempt` until it succeeds, waiting (250 ms, doubling up to 5 s) while it fails because its
 * database or server is unreachable (logged as `<what> (<why>); retrying in N ms`); any other error
 * is thrown. Null when a signal came meanwhile (it ends the wait, and the daemon, at once).
 */
export async function whileUnreachable<R>(log: Logger, signals: SignalWatch, what: () => string, attempt: () => Promise<R>): Promise<R | null> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (e) {
      if (!unreachable(e)) throw e;
      log.warn(`${what()} (${(e as Error).message}); retrying in ${delay} ms`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => (timer = setTimeout(r, delay))), signals.signalled]);
      clearTimeout(timer);
      if (signals.received) return null;
    }
  }
}

/** Why a start was abandoned: a signal came while it started. */
export class StartAborted extends Error {
  constructor() {
    super('a signal came while starting');
  }
}

/** A signal came before the daemon started anything: nothing to stop. */
export function stoppedBeforeStart(log: Logger): void {
  log.info('stopped before it started');
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

/** Errors that say the server is not there (yet): the store's translation of its driver's codes (StorageUnavailableError). */
function unreachable(e: unknown): boolean {
  return isStorageUnavailable(e);
}

/** How long a daemon's stop waits for the task alerts being sent (Daemon.stopAlerts). */
export const ALERTS_STOP_MS = 10_000;
/** A daemon without a worker: its runner's or reaper's last pass, given a default lease's time and a margin. */
export const LOOPS_STOP_MS = 35_000;

/**
 * Waits for a graceful stop for at most `boundMs` (the grace, then one lease for the abandons:
 * Worker.stopBoundMs). A database that stops answering without refusing (a query that never returns)
 * held the process for ever: past the bound it says so and exits 1; the runs it still holds end
 * `lost` when their leases run out, as after a crash (docs/operations.md).
 */
export async function stopWithin(stop: () => Promise<void>, boundMs: number, log: Logger, note: StopNote = WORKER_STOP): Promise<void> {
  // The system clock's timer: a bound past 24.8 days (a long lease) is armed again, not fired at once.
  const { systemClock } = await import('../engine/clock.js');
  let timer: Timer | undefined;
  const late = new Promise<'late'>((r) => (timer = systemClock.setTimer(boundMs, () => r('late'))));
  const outcome = await Promise.race([stop().then(() => 'stopped' as const), late]);
  timer?.cancel();
  if (outcome === 'stopped') return;
  log.error(`the stop did not end within ${formatDuration(boundMs)} (${note.bound}): the database or server does not answer; exiting now${note.after ? ` (${note.after})` : ''}`);
  process.exit(1);
}

/** What a stop's bound is made of, and what becomes of the work left, as its log line says. */
export interface StopNote {
  bound: string;
  after: string | null;
}
const WORKER_STOP: StopNote = { bound: 'the grace, then one lease for the abandons', after: 'the runs still held end lost when their leases run out' };

/**
 * What a daemon's stop bound is made of: a worker's grace and abandons (WORKER_STOP), or without a
 * worker its loops' last passes (no grace, no runs held); with the runner, its task alerts too.
 */
export function stopNote(worker: boolean, runner: boolean): StopNote {
  const alerts = runner ? ', and its task alerts' : '';
  return worker ? { ...WORKER_STOP, bound: `${WORKER_STOP.bound}${alerts}` } : { bound: `its passes in progress${alerts}`, after: null };
}

export interface SignalWatch {
  /** Resolves on the first SIGINT/SIGTERM. */
  readonly signalled: Promise<void>;
  /** The first signal, once received. */
  readonly received: NodeJS.Signals | null;
  /** Logs through this logger from now on (and a signal received before it existed). */
  useLog(log: Logger): void;
  /** The daemon runs: a signal from now on stops it gracefully (logged as such, not as received while starting). */
  markStarted(): void;
  /** Its start failed after the loops began (the handlers file's setup() threw): the exit that follows is Orrery's own, with its message. */
  markStartFailed(): void;
}

/**
 * Watches SIGINT/SIGTERM from the start of a daemon command, before its handlers load (which may take
 * seconds) and while it waits for its database: the first signal asks it to stop, a second exits at once.
 */
export function watchSignals(graceMs: number): SignalWatch {
  let log: Logger | null = null;
  let received: NodeJS.Signals | null = null;
  let started = false;
  let resolve!: () => void;
  const signalled = new Promise<void>((r) => (resolve = r));
  const onSignal = (sig: NodeJS.Signals) => {
    if (received) {
      log?.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    received = sig;
    log?.info(started ? `${sig} received${graceMs ? '; a second signal exits at once' : ''}` : `${sig} received while starting`);
    resolve();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A hang-up (the terminal or ssh session it was started from closed) stops it as SIGTERM does, not at once.
  process.on('SIGHUP', onSignal);
  // A started daemon ends only when asked (a signal): one that exits otherwise was ended by code of
  // its own process, such as an inline handler's process.exit(0). A supervisor must not take that for
  // a clean stop (systemd's Restart=on-failure would leave it down): status 1, and why.
  // Any status but 1 (Orrery's own failures, each with its message) is taken to 1: a handler's
  // process.exit(2) would otherwise read as invalid input, exit(3) as a status Orrery never gives.
  process.on('exit', (code) => {
    if (code === 1 || !started || received !== null) return;
    process.exitCode = 1;
    try {
      writeSync(2, `orrery: the daemon exited with status ${code} without being asked to stop (process.exit called by a handler or by the handlers file? --isolation thread or process contains it); exit status 1\n`);
    } catch {
      // stderr closed: the status says it
    }
  });
  // A signal bin/orrery.js held while the CLI loaded counts as received now.
  const held = takeHeldSignals();
  if (held !== null) onSignal(held);
  return {
    signalled,
    get received() {
      return received;
    },
    useLog(l) {
      if (received && !log) l.info(`${received} received while starting`);
      log = l;
    },
    markStarted() {
      started = true;
    },
    markStartFailed() {
      started = false;
    },
  };
}
