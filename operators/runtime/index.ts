// The controller runtime: re-exports only. Reconcilers import from here.
//
// Interface notes (additive to the agreed interface, nothing removed or changed):
// - ManagerOptions also takes bindAddress, shutdownTimeoutMs (default 30 s) and informerBackoff.
// - Manager also has metricsUrl / healthUrl (the served addresses, useful with port 0),
//   metrics (its prom-client registry and metric objects) and cachesSynced().
// - Manager.start() resolves once informers, endpoints and the election run; it does not block
//   until stop(). Controllers start on the leader after every cache known at that time synced.
// - Cached objects are the API server's plain JSON (timestamps are strings, not Date objects).
export * from "./backoff.ts";
export * from "./cache.ts";
export * from "./conditions.ts";
export * from "./controller.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./finalizers.ts";
export * from "./health.ts";
export * from "./informer.ts";
export * from "./leaderElection.ts";
export * from "./logger.ts";
export * from "./manager.ts";
export * from "./metrics.ts";
export * from "./ownerReferences.ts";
export * from "./rateLimiter.ts";
export * from "./status.ts";
export * from "./tooManyRequests.ts";
export * from "./workqueue.ts";
