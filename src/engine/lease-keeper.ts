import { LeaseLostError, hasCode } from '../core/errors.js';

export interface LeaseKeeperOptions {
  leaseMs: number;
  /** Renews the lease; an answer `{ cancelRequested: true }` calls `onCancel`. */
  heartbeat: () => Promise<unknown>;
  /** Called once when a heartbeat's answer says the run's cancellation was asked for. */
  onCancel?: () => void;
  /** Called once when the store says the run is no longer ours (a LeaseLostError, or an error rebuilt with its code). */
  onLost: (e: Error) => void;
  onError?: (e: unknown) => void;
}

/** Renews one run's lease every third of the lease until stopped or lost. */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private inFlight: Promise<void> | null = null;
  private cancelled = false;

  constructor(private readonly opts: LeaseKeeperOptions) {}

  start(): void {
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 3));
    this.timer = setInterval(() => void this.beat(), every);
    this.timer.unref?.();
  }

  /** Renews now; resolves when the store answered. */
  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.opts
      .heartbeat()
      .then(
        (answer: unknown) => {
          if ((answer as { cancelRequested?: unknown } | null)?.cancelRequested === true && !this.cancelled) {
            this.cancelled = true;
            this.opts.onCancel?.();
          }
        },
        (e: unknown) => {
          if (hasCode(e, 'lease_lost') || hasCode(e, 'not_found')) {
            this.stop();
            this.opts.onLost(e instanceof Error ? e : new LeaseLostError(String((e as { message?: unknown }).message ?? 'lease lost')));
          } else this.opts.onError?.(e);
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
