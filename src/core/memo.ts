/**
 * A cache of the values a pure function computed, by key, emptied whenever it reaches `limit`
 * entries (so it never holds more): for results that are costly to compute and asked for again
 * and again (a batch of tasks with one schedule).
 */
export function boundedMemo<V>(limit: number): (key: string, make: () => V) => V {
  const values = new Map<string, V>();
  return (key, make) => {
    if (values.has(key)) return values.get(key)!;
    const value = make();
    if (values.size >= limit) values.clear();
    values.set(key, value);
    return value;
  };
}
