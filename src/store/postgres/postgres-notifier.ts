import pg from 'pg';
import { CHANNEL_NAMES, type Channel } from '../../core/wake-ups.js';

/** The one LISTEN/NOTIFY channel; the payload names the wake-up channel. */
export const PG_CHANNEL = 'orrery';
const THROTTLE_MS = 2;
const CHANNELS = new Set<string>(CHANNEL_NAMES);

/**
 * LISTEN/NOTIFY between every process on one database. Notifications are coalesced per channel
 * over a couple of milliseconds; the LISTEN connection starts with the first listener and
 * reconnects after a server restart (polling covers the gap).
 */
export class PostgresNotifier {
  private listener: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly pending = new Set<Channel>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private flushedAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private inflight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly onWake: (channel: Channel) => void,
    /** Backend process ids whose wake-ups this process already delivered itself: skipped when heard. */
    private readonly ownSenders: ReadonlySet<number> = new Set(),
  ) {}

  notify(channel: Channel): void {
    if (this.closed) return;
    this.pending.add(channel);
    // Leading edge: a lone notification goes out at once (after the current burst of calls, without
    // a timer's millisecond); later ones wait until THROTTLE_MS has passed since the previous one.
    if (this.timer) return;
    const wait = this.flushedAt + THROTTLE_MS - Date.now();
    this.timer = wait > 0 ? setTimeout(() => this.flush(), wait) : setImmediate(() => this.flush());
  }

  /** Makes sure this process hears other processes' notifications. */
  listen(): void {
    if (this.closed || this.listener || this.connecting) return;
    this.connecting = this.connect().finally(() => (this.connecting = null));
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    const retry = () => {
      if (this.listener === client) this.listener = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (!this.closed) {
        this.retryTimer = setTimeout(() => this.listen(), 1_000);
        this.retryTimer.unref();
      }
    };
    client.on('error', retry);
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANNEL}`);
    } catch {
      retry();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    client.on('notification', (n) => {
      if (n.payload && CHANNELS.has(n.payload) && !this.ownSenders.has(n.processId)) this.onWake(n.payload as Channel);
    });
    this.listener = client;
  }

  private flush(): void {
    this.timer = null;
    this.flushedAt = Date.now();
    const channels = [...this.pending];
    this.pending.clear();
    // One round trip for all channels; a failure (server down) only costs a poll interval.
    this.inflight = this.pool.query(`SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c`, [PG_CHANNEL, channels]).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.flush();
    }
    this.closed = true;
    await this.inflight;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting;
    await this.listener?.end().catch(() => {});
    this.listener = null;
  }
}
