/**
 * Keeps the first `capacity` of many rows in a given order without holding them all: the status
 * lists at most MAX_STREAM_LIMIT of its streams, and a reading of 100,000 streams kept every row
 * (hundreds of MiB of RSS, docs/operations.md). Rows are sorted and cut each time twice the
 * capacity has gathered: O(rows × log capacity) in all.
 */
export function topRows<T>(capacity: number, compare: (a: T, b: T) => number) {
  let kept: T[] = [];
  const cut = () => {
    kept.sort(compare);
    if (kept.length > capacity) kept = kept.slice(0, capacity);
  };
  return {
    add(rows: readonly T[]): void {
      for (const row of rows) kept.push(row);
      if (kept.length >= 2 * capacity) cut();
    },
    /** The first `capacity` rows added, in order. */
    rows(): T[] {
      cut();
      return kept;
    },
  };
}
