// Status writes: once per reconcile, only when something changed, through the /status
// subresource with server-side apply, so each controller (field manager) owns only its fields.
import { isDeepStrictEqual } from "node:util";
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { Condition } from "../schema/common.ts";

/** The parts of a kind a status write needs (a runtime KindRef has them). */
export interface StatusKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** The object whose status is written, as read from the cache. */
export interface StatusTarget {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  status?: object;
}

/**
 * The status fields one controller owns. `conditions` lists only this controller's condition
 * types; other keys are compared and applied as given (undefined = not owned, released).
 */
export interface OwnedStatus {
  conditions?: Condition[];
  [field: string]: unknown;
}

function normalised(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/**
 * True when applying `desired` would change `current`: a condition of an owned type differs,
 * or any other owned field does. Conditions of types `desired` does not list belong to others.
 */
export function statusDiffers(current: object | undefined, desired: OwnedStatus): boolean {
  const now = (current ?? {}) as Record<string, unknown>;
  const currentConditions = (now.conditions as Condition[] | undefined) ?? [];
  for (const [field, value] of Object.entries(desired)) {
    if (field === "conditions") {
      const changed = (value as Condition[] | undefined ?? []).some(
        (c) => !isDeepStrictEqual(normalised(currentConditions.find((x) => x.type === c.type)), normalised(c)),
      );
      if (changed) return true;
    } else if (!isDeepStrictEqual(normalised(now[field]), normalised(value))) {
      return true;
    }
  }
  return false;
}

/** Writes the status a controller owns; one writer per controller (its field manager). */
export class StatusWriter {
  readonly fieldManager: string;
  private readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig, fieldManager: string) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.fieldManager = fieldManager;
  }

  /**
   * Applies `desired` when it differs from `target.status`; returns whether it wrote. The
   * object's resourceVersion goes with the write, so a status computed from a stale read fails
   * with 409 (the caller lets it reach the work queue, which retries with a fresh read).
   */
  async apply(kind: StatusKind, target: StatusTarget, desired: OwnedStatus): Promise<boolean> {
    if (!statusDiffers(target.status, desired)) return false;
    const name = target.metadata?.name;
    if (!name) throw new Error(`cannot write status of a ${kind.kind} without metadata.name`);
    const namespace = target.metadata?.namespace;
    const body = {
      apiVersion: `${kind.group}/${kind.version}`,
      kind: kind.kind,
      metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion: target.metadata?.resourceVersion },
      status: normalised(desired),
    };
    // force: the controller is the authority over the fields it applies; without it, a field
    // someone else once set (kubectl edit --subresource=status) would fail every write forever.
    const common = { group: kind.group, version: kind.version, plural: kind.plural, name, body, fieldManager: this.fieldManager, force: true };
    const asApply = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
    if (kind.namespaced) {
      if (!namespace) throw new Error(`cannot write status of ${kind.kind} ${name}: metadata.namespace is empty`);
      await this.api.patchNamespacedCustomObjectStatus({ ...common, namespace }, asApply);
    } else {
      await this.api.patchClusterCustomObjectStatus(common, asApply);
    }
    return true;
  }
}
