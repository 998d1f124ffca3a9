// The I/O of a peer's reservation's workspace (what it holds: reservationWorkspace.ts). Each pass
// reads the namespace and each object it should hold, creates what is missing, and refuses to go
// on past anything of those names not made for this reservation; the LimitRanges follow the
// reservation namespace's (created, replaced, removed). Removal deletes the namespace only if it
// carries this reservation's uid, with a uid precondition against a namesake made in between.
// Every call is bounded by the API client's deadline.
import type { CoreV1Api, KubernetesObject, KubernetesObjectApi, V1LimitRange, V1ResourceQuota } from "@kubernetes/client-node";
import { withDeadline } from "../runtime/apiDeadline.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import type { Reservation } from "../schema/reservation.ts";
import { sameHard } from "./reservationQuota.ts";
import { executorBinding, executorRole, isolationPolicy, limitRangeSync, madeFor, workspaceBody, workspaceName, workspaceQuota } from "./reservationWorkspace.ts";

export type WorkspaceOutcome = { ok: true; namespace: string; quota: string } | { ok: false; message: string };

export class WorkspaceKeeper {
  private readonly client: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly signal: AbortSignal | undefined;

  constructor(client: KubernetesObjectApi, core: CoreV1Api, signal?: AbortSignal) {
    this.client = client;
    this.core = core;
    this.signal = signal;
  }

  private async read(obj: KubernetesObject): Promise<KubernetesObject | undefined> {
    try {
      return await this.client.read(obj as KubernetesObject & { metadata: { name: string } });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates `body`; one made meanwhile (an earlier attempt's) is looked at on the next pass. */
  private async create(body: KubernetesObject): Promise<void> {
    try {
      await this.client.create(body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /** Creates `body` unless it exists (`found`, else read); one that exists must have been made for the reservation. */
  private async ensure(reservation: Reservation, body: KubernetesObject, where: "namespace" | "object", found?: KubernetesObject): Promise<string | undefined> {
    const existing = found ?? (await this.read(body));
    const at = `${body.kind} ${body.metadata?.namespace ? `${body.metadata.namespace}/` : ""}${body.metadata?.name ?? ""}`;
    if (existing) return madeFor(existing, reservation, where) ? undefined : `${at} exists and was not made for this Reservation; delete it so the reservation's workspace can be made`;
    await this.create(body);
    return undefined;
  }

  /** The workspace and everything in it, made if missing; or why it cannot be. */
  async prepare(reservation: Reservation): Promise<WorkspaceOutcome> {
    const namespace = workspaceName(reservation);
    const ns = await this.read(workspaceBody(reservation));
    if (ns?.metadata?.deletionTimestamp && madeFor(ns, reservation, "namespace")) return { ok: false, message: `the reservation's workspace ${namespace} is being deleted` };
    const taken = await this.ensure(reservation, workspaceBody(reservation), "namespace", ns);
    if (taken) return { ok: false, message: taken };
    const quota = workspaceQuota(reservation);
    const problem = await this.fill(reservation, quota);
    if (problem) return { ok: false, message: problem };
    return { ok: true, namespace, quota: quota.metadata?.name ?? "" };
  }

  /** What the workspace holds, in order; the first problem. */
  private async fill(reservation: Reservation, quota: V1ResourceQuota): Promise<string | undefined> {
    const problem = (await this.ensureQuota(reservation, quota)) ?? (await this.ensureEach(reservation, [executorRole(reservation), executorBinding(reservation), isolationPolicy(reservation)])) ?? (await this.syncLimitRanges(reservation, quota.metadata?.namespace ?? ""));
    if (!problem) await this.defaultServiceAccount(quota.metadata?.namespace ?? "");
    return problem;
  }

  /** The quota made if missing, and put back to the reservation's amounts if someone changed them (with the version read). */
  private async ensureQuota(reservation: Reservation, want: V1ResourceQuota): Promise<string | undefined> {
    const found = (await this.read(want)) as V1ResourceQuota | undefined;
    if (!found || !madeFor(found, reservation, "object") || sameHard(found.spec?.hard, want.spec?.hard ?? {})) return this.ensure(reservation, want, "object", found);
    await this.client.replace({ ...want, metadata: { ...want.metadata, resourceVersion: found.metadata?.resourceVersion ?? "" } });
    return undefined;
  }

  /** ensure of each object in the workspace, in order; the first problem. */
  private async ensureEach(reservation: Reservation, children: KubernetesObject[]): Promise<string | undefined> {
    for (const child of children) {
      const problem = await this.ensure(reservation, child, "object");
      if (problem) return problem;
    }
    return undefined;
  }

  /**
   * The pods run as the workspace's default ServiceAccount, which kube-controller-manager makes a
   * moment after the namespace: made here if it is not there yet, so that a run sent at once does
   * not find it missing. Whoever made it, it is only ever read, never changed or deleted.
   */
  private async defaultServiceAccount(namespace: string): Promise<void> {
    const account = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace } };
    if (!(await this.read(account))) await this.create(account);
  }

  /**
   * The workspace's LimitRanges made the copies of the reservation namespace's (its admin's
   * defaults); or why they cannot be. Both sides are listed live, not read from the informer cache
   * the watch fills: the cache holds the API's JSON (`default`), the typed client writes its own
   * model (`_default`), and a copy made from the one through the other would lose those limits.
   */
  private async syncLimitRanges(reservation: Reservation, workspace: string): Promise<string | undefined> {
    const list = async (namespace: string): Promise<V1LimitRange[]> => (await this.core.listNamespacedLimitRange({ namespace }, withDeadline(undefined, this.signal))).items;
    const sync = limitRangeSync(reservation, await list(reservation.metadata.namespace ?? ""), await list(workspace));
    if ("taken" in sync) return sync.taken;
    for (const copy of sync.create) await this.create(copy);
    for (const copy of sync.replace) await this.client.replace(copy);
    for (const stale of sync.remove) await this.deleteExactly(stale, "v1", "LimitRange");
    return undefined;
  }

  /** Deletes the object read as `found` only if it is still that one (its uid): a namesake made in between stays. */
  private async deleteExactly(found: KubernetesObject, apiVersion: string, kind: string): Promise<void> {
    const { name = "", namespace, uid = "" } = found.metadata ?? {};
    try {
      await this.client.delete({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } }, undefined, undefined, undefined, undefined, "Background", { preconditions: { uid } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Deletes the workspace (and so all in it) if it was made for the reservation. */
  async remove(reservation: Reservation): Promise<void> {
    const ns = await this.read(workspaceBody(reservation));
    if (!ns || ns.metadata?.deletionTimestamp || !madeFor(ns, reservation, "namespace")) return;
    await this.deleteExactly(ns, "v1", "Namespace");
  }
}
