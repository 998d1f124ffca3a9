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

// An object in another namespace than its owner cannot carry an owner reference (the garbage
// collector resolves it in the object's own namespace, finds nothing, and deletes the object).
// Such an object names its controller with these marks instead, and is deleted by the owner's
// cleanup or with its namespace. The marks are trusted only where the owner put the object: a
// reconciler reads it at the place it chose, never by searching for the marks.
export const ownerUidLabel = "archipel.io/owner-uid";
export const ownerNamespaceLabel = "archipel.io/owner-namespace";
export const ownerKindLabel = "archipel.io/owner-kind";
export const ownerNameAnnotation = "archipel.io/owner-name";

/** The controller reference when `namespace` is the owner's, else the marks that stand for it. */
export function controllerMarks(owner: KubernetesObject, namespace: string): Pick<NonNullable<KubernetesObject["metadata"]>, "ownerReferences" | "labels" | "annotations"> {
  const ref = controllerRef(owner);
  const home = owner.metadata?.namespace ?? "";
  if (namespace === home) return { ownerReferences: [ref] };
  return { labels: { [ownerUidLabel]: ref.uid, [ownerNamespaceLabel]: home, [ownerKindLabel]: ref.kind }, annotations: { [ownerNameAnnotation]: ref.name } };
}

/** isControlledBy, or for an object of another namespace, marked with the owner's uid and namespace (a uid names one object of any kind). */
export function isControlledAcross(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const { namespace, uid } = owner.metadata ?? {};
  if (obj.metadata?.namespace === namespace) return isControlledBy(obj, owner);
  const labels = obj.metadata?.labels ?? {};
  return Boolean(uid) && labels[ownerUidLabel] === uid && labels[ownerNamespaceLabel] === namespace;
}

/** For a watch: the owner of `kind` that an object of another namespace names with its marks (none without them). */
export function markedOwnerOf(kind: string): (obj: KubernetesObject) => { namespace: string; name: string }[] {
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    const name = obj.metadata?.annotations?.[ownerNameAnnotation];
    const namespace = labels[ownerNamespaceLabel];
    return labels[ownerKindLabel] === kind && name && namespace ? [{ namespace, name }] : [];
  };
}
