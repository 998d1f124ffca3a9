// A peer's Reservation gets a namespace of its own on this cluster, its workspace, while it is
// Confirmed or Active: the peer's Workflow and pods run there, under a ResourceQuota holding this
// reservation's amounts alone (not the sum a shared namespace needs), with the namespace's
// LimitRanges copied from the reservation's (the admin's defaults for pods that name no
// requests), Argo's executor Role bound to its default ServiceAccount, and a NetworkPolicy that
// lets no outside pod connect to its pods. Deleting the namespace when the reservation ends stops
// whatever still runs there and frees what it held.
//
// Namespaces are cluster-scoped and a namespaced object cannot own one (nor an object of another
// namespace), so the link is the reservation's uid: on the namespace as an annotation, on each
// object the controller makes in it as a label. Only what carries that uid is the reservation's;
// a namesake is never changed or deleted. Pure: names, bodies and the ownership test.
// Why a workspace per reservation: docs/decisions/reservation-workspace.md.
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject, V1LimitRange, V1Namespace, V1NetworkPolicy, V1ResourceQuota, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import type { Reservation } from "../schema/reservation.ts";
import { labelValue, quotaHard, quotaName } from "./reservationQuota.ts";

/** On the workspace (annotation) and every object made in it (label): the reservation's uid. */
export const workspaceUidKey = "archipel.io/reservation-uid";
/** On the workspace: the namespace of the reservation it was made for. */
export const workspaceOfLabel = "archipel.io/workspace-of";
/** On the workspace: the reservation's name (hashed beyond 63 characters). */
export const workspaceReservationLabel = "archipel.io/reservation";
/** Argo's documented minimum for the emissary executor (docs/workflow-rbac.md). */
export const executorRoleName = "archipel-workflow-executor";

/** Whether the reservation is served in a workspace: a peer's is; one made here uses its own namespace. */
export function wantsWorkspace(reservation: Reservation): boolean {
  return reservation.spec.requester?.peer !== undefined;
}

/** `archipel-rsv-<16 hex>` from the uid: a namesake created later gets another workspace. */
export function workspaceName(reservation: Reservation): string {
  return `archipel-rsv-${createHash("sha256").update(reservation.metadata.uid ?? "").digest("hex").slice(0, 16)}`;
}

/** Whether `obj` was made for this reservation (its uid, on the namespace or on an object in it). */
export function madeFor(obj: KubernetesObject, reservation: Reservation, where: "namespace" | "object"): boolean {
  const uid = reservation.metadata.uid ?? "";
  const found = where === "namespace" ? obj.metadata?.annotations?.[workspaceUidKey] : obj.metadata?.labels?.[workspaceUidKey];
  return uid !== "" && found === uid;
}

export function workspaceBody(reservation: Reservation): V1Namespace {
  const { namespace = "", name = "", uid = "" } = reservation.metadata;
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: workspaceName(reservation),
      labels: { [workspaceOfLabel]: namespace, [workspaceReservationLabel]: labelValue(name) },
      annotations: { [workspaceUidKey]: uid, "archipel.io/reservation-ref": `${namespace}/${name}` },
    },
  };
}

const childMeta = (reservation: Reservation, name: string): { name: string; namespace: string; labels: Record<string, string> } => ({
  name,
  namespace: workspaceName(reservation),
  labels: { [workspaceUidKey]: reservation.metadata.uid ?? "" },
});

/** The reservation's own amounts: nothing else runs in its workspace. */
export function workspaceQuota(reservation: Reservation): V1ResourceQuota {
  return { apiVersion: "v1", kind: "ResourceQuota", metadata: childMeta(reservation, quotaName(reservation.metadata.name ?? "")), spec: { hard: quotaHard(reservation.spec.cpu, reservation.spec.memory) } };
}

export function executorRole(reservation: Reservation): V1Role {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: childMeta(reservation, executorRoleName),
    rules: [{ apiGroups: ["argoproj.io"], resources: ["workflowtaskresults"], verbs: ["create", "patch"] }],
  };
}

/** Bound to the workspace's default ServiceAccount, which a peer's run's pods run as. */
export function executorBinding(reservation: Reservation): V1RoleBinding {
  const meta = childMeta(reservation, executorRoleName);
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: executorRoleName },
    subjects: [{ kind: "ServiceAccount", name: "default", namespace: meta.namespace }],
  };
}

export const isolationPolicyName = "archipel-workspace-isolation";

/**
 * Nothing outside the workspace may connect to its pods (a peer's steps serve nothing; Argo's
 * executor reports through the API server): ingress only from pods of the same namespace. Egress
 * stays open, since the artifact repository and the data a step reads may be anywhere. Enforced
 * only where the cluster's network plugin enforces NetworkPolicies.
 */
export function isolationPolicy(reservation: Reservation): V1NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMeta(reservation, isolationPolicyName),
    spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ _from: [{ podSelector: {} }] }] },
  };
}

/** A LimitRange of the reservation's namespace, as the workspace holds it (its limits only). */
export function copiedLimitRange(reservation: Reservation, source: V1LimitRange): V1LimitRange {
  return { apiVersion: "v1", kind: "LimitRange", metadata: childMeta(reservation, source.metadata?.name ?? ""), spec: source.spec ?? { limits: [] } };
}

/** What makes the workspace's LimitRanges the copies of the reservation namespace's, or why it cannot. */
export type LimitRangeSync = { create: V1LimitRange[]; replace: V1LimitRange[]; remove: V1LimitRange[] } | { taken: string };

/**
 * Copies of the sources that are missing are created; a copy whose source changed is replaced
 * (with the resourceVersion read: a write in between is retried, not overwritten); a copy whose
 * source is gone is removed. A LimitRange of a source's name not made for the reservation stops it.
 */
export function limitRangeSync(reservation: Reservation, sources: readonly V1LimitRange[], inWorkspace: readonly V1LimitRange[]): LimitRangeSync {
  const found = new Map(inWorkspace.map((l) => [l.metadata?.name, l]));
  const sync = { create: [] as V1LimitRange[], replace: [] as V1LimitRange[], remove: [] as V1LimitRange[] };
  for (const want of sources.map((source) => copiedLimitRange(reservation, source))) {
    const existing = found.get(want.metadata?.name);
    if (!existing) sync.create.push(want);
    else if (!madeFor(existing, reservation, "object")) return { taken: `LimitRange ${namespacedName(want)} exists and was not made for this Reservation; delete it so the reservation's workspace can be made` };
    else if (!isDeepStrictEqual(existing.spec, want.spec)) sync.replace.push(replacing(want, existing));
  }
  const wanted = new Set(sources.map((s) => s.metadata?.name));
  sync.remove = inWorkspace.filter((l) => !wanted.has(l.metadata?.name) && madeFor(l, reservation, "object"));
  return sync;
}

const namespacedName = (obj: KubernetesObject): string => `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;

/** `want` as a replacement of `existing`: its resourceVersion, so that a write in between wins a retry. */
const replacing = (want: V1LimitRange, existing: V1LimitRange): V1LimitRange => ({ ...want, metadata: { ...want.metadata, resourceVersion: existing.metadata?.resourceVersion ?? "" } });
