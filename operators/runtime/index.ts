// The controller runtime: re-exports only. Reconcilers import from here.
export type { Cache, KindRef, ObjectKey } from "./cache.ts";
export { apiVersionOf, keyString, objectKey, parseKey, Store } from "./cache.ts";
export type { ControllerOptions, ReconcileContext, ReconcileResult, Reconciler } from "./controller.ts";
export { Controller, controllerOwnerKeys, outcomeOf } from "./controller.ts";
export type { ManagerOptions } from "./manager.ts";
export { Manager } from "./manager.ts";
export type { LeaderElectionOptions } from "./leaderElection.ts";
export { RuntimeMetrics } from "./metrics.ts";
export { Informer, apiListWatch, collectionPath } from "./informer.ts";
export { WorkQueue } from "./workqueue.ts";
