// What an informer cache keeps of an object: all of it but what only the API server's own
// machinery reads. metadata.managedFields (server-side apply's bookkeeping: one entry per field
// manager, often as large as the object) and kubectl's last-applied-configuration annotation (a
// second copy of the whole object) are dropped on the way in, from list results and watch
// events alike, as client-go's informers do with a TransformFunc. No controller of ours reads
// them from the cache, and none writes a cached object back (updates are patches or applies
// of what the controller owns; a replace reads the object from the API server first).
import type { KubernetesObject } from "@kubernetes/client-node";

/** Annotations dropped from cached objects whatever their size. */
export const droppedAnnotations: readonly string[] = ["kubectl.kubernetes.io/last-applied-configuration"];
/** Any other annotation whose value is longer than this is dropped too, unless it is ours (archipel.io/…). */
export const maxCachedAnnotationLength = 4_096;

function keep(name: string, value: string): boolean {
  if (droppedAnnotations.includes(name)) return false;
  return value.length <= maxCachedAnnotationLength || name.startsWith("archipel.io/");
}

/**
 * Slims `obj` for the cache, in place (it was just parsed from the API server's JSON and
 * nothing else holds it), and returns it.
 */
export function slimForCache<T extends KubernetesObject>(obj: T): T {
  const metadata = obj.metadata as (KubernetesObject["metadata"] & { managedFields?: unknown }) | undefined;
  if (!metadata) return obj;
  delete metadata.managedFields;
  const annotations = metadata.annotations;
  if (annotations) {
    for (const [name, value] of Object.entries(annotations)) if (!keep(name, value)) delete annotations[name];
    if (Object.keys(annotations).length === 0) delete metadata.annotations;
  }
  return obj;
}
