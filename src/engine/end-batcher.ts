import { isOrreryError } from '../core/errors.js';
import type { EndRunResult } from '../store/store.js';
import type { EndRunOptions, Jobboard } from './jobboard.js';

/** One run's end: its backend id with the end's options. */
export type EndItem = { backendId: string } & EndRunOptions;

interface Pending {
  item: EndItem;
  resolve: (r: EndRunResult) => void;
  reject: (e: unknown) => void;
}

/** Most ends written in one statement (or one SQLite transaction). */
const MAX_BATCH = 500;

/**
 * Group commit for run ends: ends requested within one turn of the event loop go together (written
 * once the turn's other work is done, so no lone leading end is written by itself), and ends
 * requested while a batch is being written wait and go together in the next one.
 */
export class EndBatcher {
  private queue: Pending[] = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly board: Jobboard,
    /** How long a remote board's answer is waited for (Jobboard.endRuns): the worker's claim bound. */
    private readonly answerWithinMs: () => number | undefined = () => undefined,
  ) {}

  end(item: EndItem): Promise<EndRunResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const within = this.answerWithinMs();
        const outcomes = await this.board.endRuns(batch.map((p) => p.item), within === undefined ? undefined : { answerWithinMs: within });
        outcomes.forEach((o, i) => (o instanceof Error || isOrreryError(o) ? batch[i]!.reject(o) : batch[i]!.resolve(o)));
      } catch (e) {
        for (const p of batch) p.reject(e); // the database failed the whole batch: each caller retries its own end
      }
    }
    this.writing = false;
  }
}
