// Enforcement of an admitted Reservation: a ResourceQuota in the Reservation's namespace, owned
// by it (controller reference), while the Reservation is Confirmed or Active, and deleted
// otherwise. Kubernetes applies every quota of a namespace to all its Pods, so a quota holding
// only its own Reservation's amounts would cap a namespace shared by several (peers' runs share
// one) at the smallest of them: each quota holds the namespace's total of enforced Reservations
// (namespaceTotal), and they all agree. A same-named ResourceQuota the Reservation does not
// control is never changed or deleted: the caller reports Ready=False NameTaken. Why the
// Reservation's own namespace: docs/decisions/reservation-admission.md.
import { createHash } from "node:crypto";
import type { CoreV1Api, KubernetesObject, V1ResourceQuota } from "@kubernetes/client-node";
import { formatCpu, formatMemory, parseQuantity } from "../catalog/quantity.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { controllerRef, isControlledBy } from "../runtime/ownerReferences.ts";
import { withDeadline } from "../runtime/apiDeadline.ts";

export const quotaLabel = "archipel.io/reservation";

/** "reservation-<name>", hashed when the Reservation's name is too long for it. */
export function quotaName(reservation: string): string {
  const prefix = "reservation-";
  if (prefix.length + reservation.length <= 253) return `${prefix}${reservation}`;
  const hash = createHash("sha256").update(reservation).digest("hex").slice(0, 10);
  return `${prefix}${reservation.slice(0, 253 - prefix.length - 11).replace(/[.-]+$/, "")}-${hash}`;
}

export function quotaHard(cpu: string, memory: string): Record<string, string> {
  return { "requests.cpu": cpu, "requests.memory": memory };
}

/** What one Reservation of the namespace asks for, and whether it is enforced now. */
export interface NamespaceClaim {
  name: string;
  cpu: string;
  memory: string;
  enforced: boolean;
}

/**
 * The quota every enforced Reservation of a namespace writes: the sum of the enforced ones. `self`
 * is the Reservation being reconciled, with the state just decided (the cache may lag); `others`
 * come from the cache and converge as their own reconciles run (each writes the same total).
 */
export function namespaceTotal(self: NamespaceClaim, others: readonly NamespaceClaim[]): Record<string, string> {
  let cpu = 0n;
  let memory = 0n;
  for (const claim of [self, ...others.filter((o) => o.name !== self.name)]) {
    if (!claim.enforced) continue;
    cpu += parseQuantity(claim.cpu, "spec.cpu");
    memory += parseQuantity(claim.memory, "spec.memory");
  }
  return quotaHard(formatCpu(cpu), formatMemory(memory));
}

/** The label value names the Reservation when it can (label values hold at most 63 characters). */
export function labelValue(name: string): string {
  return name.length <= 63 ? name : createHash("sha256").update(name).digest("hex").slice(0, 63);
}

/** Where a Reservation's quota lives: its namespace, under quotaName. */
function locate(reservation: KubernetesObject): { namespace: string; name: string } {
  const { namespace = "", name = "" } = reservation.metadata ?? {};
  return { namespace, name: quotaName(name) };
}

export type QuotaOutcome = { ok: true; name: string } | { ok: false; name: string; message: string };

export class QuotaEnforcer {
  private readonly core: CoreV1Api;
  private readonly signal: AbortSignal | undefined;

  constructor(core: CoreV1Api, signal?: AbortSignal) {
    this.core = core;
    this.signal = signal;
  }

  private async get(namespace: string, name: string): Promise<V1ResourceQuota | undefined> {
    try {
      return await this.core.readNamespacedResourceQuota({ namespace, name }, withDeadline(undefined, this.signal));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates or corrects the Reservation's quota; refuses to touch a namesake it does not control. */
  async ensure(reservation: KubernetesObject, hard: Record<string, string>): Promise<QuotaOutcome> {
    const { namespace, name } = locate(reservation);
    const current = await this.get(namespace, name);
    if (current && !isControlledBy(current as KubernetesObject, reservation)) {
      return { ok: false, name, message: `ResourceQuota ${namespace}/${name} exists and is not controlled by this Reservation; rename or delete it so the reservation can be enforced` };
    }
    if (!current) await this.create(reservation, hard);
    else if (!sameHard(current.spec?.hard, hard)) await this.core.replaceNamespacedResourceQuota({ namespace, name, body: quotaBody(reservation, hard, current) }, withDeadline(undefined, this.signal));
    return { ok: true, name };
  }

  private async create(reservation: KubernetesObject, hard: Record<string, string>): Promise<void> {
    try {
      await this.core.createNamespacedResourceQuota({ namespace: locate(reservation).namespace, body: quotaBody(reservation, hard) }, withDeadline(undefined, this.signal));
    } catch (err) {
      // An earlier attempt's create: the next reconcile checks who controls it.
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /** Deletes the Reservation's quota if it controls it (a namesake stays untouched). */
  async remove(reservation: KubernetesObject): Promise<void> {
    const { namespace, name } = locate(reservation);
    const current = await this.get(namespace, name);
    if (!current || !isControlledBy(current as KubernetesObject, reservation)) return;
    // The uid precondition: never delete a namesake created after our read.
    const preconditions = { uid: current.metadata?.uid ?? "" };
    try {
      await this.core.deleteNamespacedResourceQuota({ namespace, name, body: { preconditions } }, withDeadline(undefined, this.signal));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

function quotaBody(reservation: KubernetesObject, hard: Record<string, string>, current?: V1ResourceQuota): V1ResourceQuota {
  const { namespace, name } = locate(reservation);
  const labels = { [quotaLabel]: labelValue(reservation.metadata?.name ?? "") };
  const version = current ? { resourceVersion: current.metadata?.resourceVersion } : {};
  return { apiVersion: "v1", kind: "ResourceQuota", metadata: { name, namespace, labels, ownerReferences: [controllerRef(reservation)], ...version }, spec: { hard } };
}

/** The API server canonicalises quantities ("1024Mi" → "1Gi"): compare what they mean, not how they read. */
/** Whether two quotas' hard amounts are the same quantities (the API server rewrites "0.5" as "500m"). */
export function sameHard(current: Record<string, string> | undefined, desired: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(current ?? {}), ...Object.keys(desired)]);
  return [...keys].every((k) => canonical(current?.[k]) === canonical(desired[k]));
}

function canonical(q: string | undefined): string | undefined {
  if (q === undefined) return undefined;
  try {
    return parseQuantity(q).toString();
  } catch {
    return q;
  }
}
