// A service Resource's CWL document before and after the CWL library reads it. Pure.
// The document comes from a user: it must be self-contained, because the library resolves
// $import, $include and run: paths on the operator's own filesystem.
import type { Process } from "../pipeline/cwl/model.ts";
import { shortName } from "../pipeline/cwl/normalize.ts";
import type { ResourceStatus } from "../schema/resource.ts";

export type ServiceSummary = NonNullable<ResourceStatus["service"]>;

/** The first reference to another file in `doc` (a path like "steps.0.run"), or undefined. */
export function externalReference(doc: unknown, at = ""): string | undefined {
  if (typeof doc !== "object" || doc === null) return undefined;
  const entries: [string, unknown][] = Array.isArray(doc) ? doc.map((v, i) => [`[${i}]`, v]) : Object.entries(doc);
  for (const [key, value] of entries) {
    const here = Array.isArray(doc) ? `${at}${key}` : at ? `${at}.${key}` : key;
    if (isExternal(key, value)) return here;
    const found = externalReference(value, here);
    if (found) return found;
  }
  return undefined;
}

function isExternal(key: string, value: unknown): boolean {
  if (key === "$import" || key === "$include" || key === "$schemas") return true;
  return key === "run" && typeof value === "string" && !value.startsWith("#");
}

const limitList = (names: string[]): string[] => names.slice(0, 256).map((n) => n.slice(0, 256));

/** What status.service shows of a loaded process. */
export function serviceSummary(process: Process, image: string): ServiceSummary {
  return {
    cwlVersion: process.cwlVersion.slice(0, 16),
    class: process.class,
    image,
    inputs: limitList(process.inputs.map((p) => shortName(p.id))),
    outputs: limitList(process.outputs.map((p) => shortName(p.id))),
  };
}
