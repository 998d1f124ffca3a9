// Starting several servers at once for a suite: Promise.all rejects at the first failure, while the
// others go on starting, and a destructuring assignment from it assigns nothing, so the suite's
// after-hook stops none of them and they outlive the run. Each start here assigns its own
// variable as it succeeds (`start.then((x) => (s3 = x))`), and the failure is thrown only once
// every start has settled: the after-hook then stops all that started.
export async function allStarted(starts: readonly Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
}
