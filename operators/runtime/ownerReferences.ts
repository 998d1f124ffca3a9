// Owner references for objects a reconciler creates: the controller reference makes the
// garbage collector delete them with their owner and lets `owns` watches find the owner.
import type { KubernetesObject, V1OwnerReference } from "@kubernetes/client-node";

/** The controller reference to `owner`; it must have been read from the API (it needs a uid). */
export function controllerRef(owner: KubernetesObject): V1OwnerReference {
  const { name, uid } = owner.metadata ?? {};
  if (!owner.apiVersion || !owner.kind || !name || !uid) {
    throw new Error(`controllerRef needs an owner read from the API server (apiVersion, kind, metadata.name and metadata.uid); got ${owner.kind ?? "?"}/${name ?? "?"}`);
  }
  return { apiVersion: owner.apiVersion, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** The reference marked `controller: true`, if any. */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const ref = controllerOf(obj);
  return ref !== undefined && ref.uid === owner.metadata?.uid;
}

/** `refs` with the controller reference to `owner` set (replacing another controller's). */
export function withControllerRef(refs: readonly V1OwnerReference[] | undefined, owner: KubernetesObject): V1OwnerReference[] {
  const ref = controllerRef(owner);
  return [...(refs ?? []).filter((r) => r.controller !== true && r.uid !== ref.uid), ref];
}
