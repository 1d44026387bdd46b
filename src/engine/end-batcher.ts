import { isOrreryError } from '../core/errors.js';
import type { EndRunResult } from '../store/store.js';
import type { EndRunOptions, Jobboard } from './jobboard.js';

interface Pending {
  backendId: string;
  opts: EndRunOptions;
  resolve: (r: EndRunResult) => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 200;

/**
 * Group commit for run ends: ends requested while a batch is being written wait and go together in
 * the next one, so a busy worker pays one transaction for many runs and an idle one loses no
 * latency (a lone end is written at once).
 */
export class EndBatcher {
  private queue: Pending[] = [];
  private writing = false;

  constructor(private readonly board: Jobboard) {}

  end(backendId: string, opts: EndRunOptions): Promise<EndRunResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ backendId, opts, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const outcomes = await this.board.endRuns(batch.map((p) => ({ backendId: p.backendId, ...p.opts })));
        outcomes.forEach((o, i) => (o instanceof Error || isOrreryError(o) ? batch[i]!.reject(o) : batch[i]!.resolve(o)));
      } catch (e) {
        for (const p of batch) p.reject(e); // the database failed the whole batch: each caller retries its own end
      }
    }
    this.writing = false;
  }
}
