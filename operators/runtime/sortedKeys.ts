// Sorted arrays of cache keys (plain string order, as `<` compares): the key order a cache's
// scan() follows. Insert and remove are a binary search and one splice — a memmove of at most
// the array's length, microseconds at 10,000 keys — so the order is kept on every watch event
// and a reader never sorts.

/** Index of the first element > key (or ≥ key when `inclusive`). */
export function lowerBound(keys: readonly string[], key: string, inclusive = false): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid] as string;
    if (k < key || (!inclusive && k === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `key` in order unless present. */
export function insertSorted(keys: string[], key: string): void {
  const at = lowerBound(keys, key, true);
  if (keys[at] !== key) keys.splice(at, 0, key);
}

/** Removes `key` if present. */
export function removeSorted(keys: string[], key: string): void {
  const at = lowerBound(keys, key, true);
  if (keys[at] === key) keys.splice(at, 1);
}
