// Finalizers, added and removed with a merge patch that carries the object's resourceVersion:
// a write based on a stale read fails with 409 instead of dropping someone else's finalizer.
import { type KubernetesObject, type KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

export function isBeingDeleted(obj: KubernetesObject): boolean {
  return obj.metadata?.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
}

async function patchFinalizers(client: KubernetesObjectApi, obj: KubernetesObject, finalizers: string[]): Promise<KubernetesObject> {
  const { name, namespace, resourceVersion } = obj.metadata ?? {};
  if (!name || !resourceVersion) throw new Error(`cannot patch finalizers of a ${obj.kind ?? "object"} without metadata.name and resourceVersion`);
  const patch: KubernetesObject = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion, finalizers },
  };
  return client.patch(patch, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
}

/** Adds `finalizer` unless present; returns the updated object, or undefined when nothing was written. */
export async function ensureFinalizer(client: KubernetesObjectApi, obj: KubernetesObject, finalizer: string): Promise<KubernetesObject | undefined> {
  if (hasFinalizer(obj, finalizer)) return undefined;
  return patchFinalizers(client, obj, [...(obj.metadata?.finalizers ?? []), finalizer]);
}

/** Removes `finalizer` if present; returns the updated object, or undefined when nothing was written. */
export async function removeFinalizer(client: KubernetesObjectApi, obj: KubernetesObject, finalizer: string): Promise<KubernetesObject | undefined> {
  if (!hasFinalizer(obj, finalizer)) return undefined;
  return patchFinalizers(client, obj, (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer));
}
