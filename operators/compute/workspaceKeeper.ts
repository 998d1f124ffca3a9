// The I/O of a peer's reservation's workspace (what it holds: reservationWorkspace.ts). Each pass
// reads the namespace and each object it should hold, creates what is missing, and refuses to go
// on past anything of those names not made for this reservation. Removal deletes the namespace
// only if it carries this reservation's uid, with a uid precondition against a namesake made in
// between. Every call is bounded by the API client's deadline.
import type { CoreV1Api, KubernetesObject, KubernetesObjectApi, V1LimitRange } from "@kubernetes/client-node";
import { withDeadline } from "../runtime/apiDeadline.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import type { Reservation } from "../schema/reservation.ts";
import { copiedLimitRange, executorBinding, executorRole, madeFor, workspaceBody, workspaceName, workspaceQuota } from "./reservationWorkspace.ts";

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
    for (const child of [quota, ...(await this.contents(reservation))]) {
      const problem = await this.ensure(reservation, child, "object");
      if (problem) return { ok: false, message: problem };
    }
    await this.defaultServiceAccount(namespace);
    return { ok: true, namespace, quota: quota.metadata?.name ?? "" };
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

  /** What the workspace holds besides the quota: the executor's Role and binding, the LimitRanges of the reservation's namespace. */
  private async contents(reservation: Reservation): Promise<KubernetesObject[]> {
    const limits = await this.core.listNamespacedLimitRange({ namespace: reservation.metadata.namespace ?? "" }, withDeadline(undefined, this.signal));
    return [executorRole(reservation), executorBinding(reservation), ...limits.items.map((l: V1LimitRange) => copiedLimitRange(reservation, l))];
  }

  /** Deletes the workspace (and so all in it) if it was made for the reservation. */
  async remove(reservation: Reservation): Promise<void> {
    const ns = await this.read(workspaceBody(reservation));
    if (!ns || ns.metadata?.deletionTimestamp || !madeFor(ns, reservation, "namespace")) return;
    const body = { preconditions: { uid: ns.metadata?.uid ?? "" } };
    try {
      await this.client.delete(workspaceBody(reservation), undefined, undefined, undefined, undefined, "Background", body);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
