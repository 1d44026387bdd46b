import { EventEmitter } from 'node:events';
import type { Channel } from './store.js';

/**
 * In-process wake-ups. Stores opened on the same database in one process share a hub, so a task
 * created through one store wakes a runner using another at once. Other processes are reached by
 * the store's own means (wake files for SQLite, LISTEN/NOTIFY for PostgreSQL), or poll.
 */
const hubs = new Map<string, { emitter: EventEmitter; users: number; senders: Set<number> }>();

export class NotifyHub {
  private readonly emitter: EventEmitter;
  /**
   * This process's connections that send wake-ups through the database (PostgreSQL backend process
   * ids), shared by the hub's stores: everything they send is also delivered through the hub, so a
   * wake-up the database relays back from one of them is heard twice if not skipped.
   */
  readonly senders: Set<number>;
  private closed = false;
  constructor(private readonly key: string) {
    let hub = hubs.get(key);
    if (!hub) {
      hub = { emitter: new EventEmitter(), users: 0, senders: new Set() };
      hub.emitter.setMaxListeners(0);
      hubs.set(key, hub);
    }
    hub.users += 1;
    this.emitter = hub.emitter;
    this.senders = hub.senders;
  }

  notify(channel: Channel): void {
    this.emitter.emit(channel);
  }

  listen(channel: Channel, listener: () => void): () => void {
    this.emitter.on(channel, listener);
    return () => this.emitter.off(channel, listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const hub = hubs.get(this.key);
    if (hub && --hub.users === 0) hubs.delete(this.key);
  }
}
