// Some libraries cost a process tens of MiB of resident memory the moment they are imported (the
// AWS SDK, pg, the CWL library), whether or not any object ever needs them: a module that uses one
// on some paths only imports it there, on first use (docs/decisions/manager-memory.md).

/**
 * A loader that imports on its first call and answers the same module after. A failed import
 * is not remembered: the next call tries again.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}
