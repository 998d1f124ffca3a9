// The project-spend controller: writes Project.status.spent (and spentSummary, its printed form), the cost of the UsageRecords billed
// to the project, one amount per currency (statement.ts projectSpent, pure). It owns that one
// status field (its own field manager); it reads only caches. A record created, or deleted (with
// its PipelineRun), wakes the Project it names. No spending at all: the field is absent.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import type { Cache, ControllerOptions, ObjectKey, ReconcileContext, Reconciler } from "../runtime/index.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Project, projectKind } from "../schema/project.ts";
import { type UsageRecord, usageRecordKind } from "../schema/usageRecord.ts";
import { projectSpent } from "./statement.ts";

export const projectSpendControllerName = "project-spend";
export const projectSpendFieldManager = "archipel-project-spend-controller";
export const projectKindRef = kindRefOf(projectKind);
const usageRecordKindRef = kindRefOf(usageRecordKind);
const byProject = "archipel.io/usage-by-project";

const projectOf = (r: UsageRecord): string[] => (r.spec?.projectRef?.name ? [r.spec.projectRef.name] : []);

const indexed = new WeakSet<object>();

function indexedRecords(cache: Cache<UsageRecord>): Cache<UsageRecord> {
  if (indexed.has(cache)) return cache;
  cache.addIndex(byProject, projectOf);
  indexed.add(cache);
  return cache;
}

export function createProjectSpendReconciler(deps: { status: StatusWriter; logger?: Logger }): Reconciler {
  return async (key: ObjectKey, ctx: ReconcileContext): Promise<void> => {
    const project = ctx.cache<Project>(projectKindRef).get(key);
    if (!project) return;
    const name = project.metadata.name ?? "";
    const records = indexedRecords(ctx.cache<UsageRecord>(usageRecordKindRef)).byIndex(byProject, name);
    const spent = projectSpent(records, name);
    const some = spent.length > 0;
    const spentSummary = some ? spent.map((m) => `${m.amount} ${m.currency}`).join(", ") : undefined;
    const wrote = await deps.status.apply(projectKindRef, project, { spent: some ? spent : undefined, spentSummary });
    if (wrote) ctx.logger.info("project spending changed", { project: name, spent });
  };
}

/** The controller as the manager registers it. */
export function projectSpendController(kubeConfig: KubeConfig, opts: { logger?: Logger } = {}): ControllerOptions {
  return {
    name: projectSpendControllerName,
    for: projectKindRef,
    reconcile: createProjectSpendReconciler({ status: new StatusWriter(kubeConfig, projectSpendFieldManager), ...(opts.logger ? { logger: opts.logger } : {}) }),
    watches: [{ kind: usageRecordKindRef, map: (obj: KubernetesObject) => projectOf(obj as UsageRecord).map((name) => ({ name })) }],
  };
}
