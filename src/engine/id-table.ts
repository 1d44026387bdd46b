/**
 * Values by string id (a run's backend id), for the tables a worker changes once per run: the runs it
 * holds, the start marks it owes. Not a Map: a Map whose entries come and go once per run rehashes
 * its table again and again, and V8 links each old table to its successor (for iterators still
 * walking it). Once one of those tables has been promoted to the old generation, it keeps the next
 * one alive through young-generation collections, and that one the next: every later table, and
 * every run in them, is promoted too. A drain in that state spent about 6 µs per run in garbage
 * collection instead of 1.7, and 20 MiB more (docs/architecture.md). An object with a null
 * prototype (a dictionary of its own) has no such link.
 */
export class IdTable<T> {
  private readonly entries: Record<string, T> = Object.create(null) as Record<string, T>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string): T | undefined {
    return this.entries[id];
  }

  has(id: string): boolean {
    return id in this.entries;
  }

  set(id: string, value: T): void {
    if (!(id in this.entries)) this.count += 1;
    this.entries[id] = value;
  }

  delete(id: string): boolean {
    if (!(id in this.entries)) return false;
    delete this.entries[id];
    this.count -= 1;
    return true;
  }

  keys(): string[] {
    return Object.keys(this.entries);
  }

  values(): T[] {
    return Object.values(this.entries);
  }
}
