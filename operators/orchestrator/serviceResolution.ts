// Steps' services: which Resource each step names, whether it can run here, and its CWL process.
// The checks are pure (a chain of named checks returning {reason, message}); loading the document
// writes it to a scratch file because the CWL library reads files (as the Resource controller does).
import { randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { externalReference } from "../catalog/serviceDocument.ts";
import { onFirstUse } from "../runtime/lazyImport.ts";
import type { Condition } from "../schema/common.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Resource } from "../schema/resource.ts";
import type { StepSite } from "./placement.ts";
import type { ServiceProcess } from "./pipelineWorkflow.ts";
import { RunReason } from "./reasons.ts";

export interface Blocked {
  reason: RunReason;
  message: string;
}

/**
 * What this slice cannot do yet, found before anything is resolved (docs/orchestrator.md). Where
 * steps run is the placement plan's (placement.ts); this checks what the chosen site can run.
 */
export function unsupported(run: PipelineRun, site: StepSite): Blocked | undefined {
  const spec = run.spec;
  if (site.kind === "local") {
    const otherNamespace = spec.steps.findIndex((s) => s.serviceRef.namespace !== undefined && s.serviceRef.namespace !== run.metadata.namespace);
    if (otherNamespace >= 0) return { reason: RunReason.CrossNamespaceNotSupported, message: `spec.steps[${otherNamespace}].serviceRef.namespace: services of other namespaces are not supported yet` };
  }
  const data = dataElsewhere(spec, site);
  if (data) return data;
  return unsupportedReservation(run, site);
}

/** Data is read on its own cluster: an input bound to data of another cluster than the steps'. */
function dataElsewhere(spec: PipelineRun["spec"], site: StepSite): Blocked | undefined {
  const elsewhere = (spec.inputs ?? []).findIndex((i) => i.resourceRef.peer !== (site.kind === "peer" ? site.peer : undefined));
  if (elsewhere < 0) return undefined;
  const where = (spec.inputs ?? [])[elsewhere]?.resourceRef.peer;
  const data = where ? `peer ${where}` : "this cluster";
  const steps = site.kind === "peer" ? `on peer ${site.peer}` : "here";
  return { reason: RunReason.DataInputsNotSupported, message: `spec.inputs[${elsewhere}].resourceRef: the data is on ${data} and the steps run ${steps}; data is read on its own cluster: place the steps that read it there (ComputeToData)` };
}

/** A reservation named by the run is one of this namespace's, used when the steps run here. */
export function unsupportedReservation(run: PipelineRun, site: StepSite): Blocked | undefined {
  const placements = [{ at: "spec.placement", p: run.spec.placement }, ...run.spec.steps.map((s, i) => ({ at: `spec.steps[${i}].placement`, p: s.placement }))];
  const stepReservation = placements.slice(1).find(({ p }) => p?.reservationRef !== undefined);
  if (stepReservation) return { reason: RunReason.PlacementNotSupported, message: `${stepReservation.at}.reservationRef: a reservation is the run's (spec.placement.reservationRef), not a step's` };
  const ref = run.spec.placement?.reservationRef;
  if (ref && (ref.peer !== undefined || site.kind === "peer")) {
    return { reason: RunReason.PlacementNotSupported, message: "spec.placement.reservationRef: a reservation on a peer is made by the orchestrator itself; name only a Reservation of this namespace for steps that run here" };
  }
  return undefined;
}

const ready = (r: Resource): Condition | undefined => r.status?.conditions?.find((c) => c.type === "Ready");

/** The step's Resource must exist, be a service, be Ready for its current generation, and name its image. */
export function serviceVerdict(resource: Resource | undefined, name: string, at: string): Blocked | undefined {
  if (!resource) return { reason: RunReason.ServiceNotFound, message: `${at}: Resource "${name}" does not exist in this namespace` };
  if (resource.spec.type !== "service" || !resource.spec.service) return { reason: RunReason.NotAService, message: `${at}: Resource ${name} is not a service (its type is ${resource.spec.type})` };
  return readiness(resource, name, at);
}

/** Ready for the generation the run would use, with the image it runs. */
function readiness(resource: Resource, name: string, at: string): Blocked | undefined {
  const condition = ready(resource);
  const current = resource.status?.observedGeneration === resource.metadata.generation;
  if (condition?.status !== "True" || !current) {
    const why = condition && current ? `${condition.reason}: ${condition.message}` : "not checked yet";
    return { reason: RunReason.ServiceNotReady, message: `${at}: service Resource ${name} is not Ready (${why})` };
  }
  if (!resource.status?.service?.image) return { reason: RunReason.ServiceNotReady, message: `${at}: service Resource ${name} has no image in status.service yet` };
  return undefined;
}

/** The CWL library and a YAML parser (~30 MiB together), loaded with the first service resolved. */
const cwlLibrary = onFirstUse(() => import("../pipeline/cwl/load.ts"));
const yamlParser = onFirstUse(async () => (await import("yaml")).parse);

/** The service's CWL document: inline, or the ConfigMap key it names (read from the cache). */
async function documentOf(resource: Resource, configMap: (name: string) => Record<string, string> | undefined): Promise<unknown> {
  const cwl = resource.spec.service?.cwl;
  if (cwl?.document) return cwl.document;
  const ref = cwl?.configMapRef;
  if (!ref) throw new Error("spec.service.cwl names no document");
  const text = configMap(ref.name)?.[ref.key];
  if (text === undefined) throw new Error(`its CWL document (ConfigMap ${ref.name} key ${ref.key}) cannot be read`);
  return (await yamlParser())(text);
}

export interface LoadOptions {
  configMap: (name: string) => Record<string, string> | undefined;
  scratchDir?: string;
}

/** Loads a Ready service's process. Throws with a message naming what is wrong. */
export async function loadService(resource: Resource, options: LoadOptions): Promise<ServiceProcess> {
  const doc = await documentOf(resource, options.configMap);
  const { forgetDocument, loadProcess } = await cwlLibrary();
  const external = externalReference(doc);
  if (external) throw new Error(`its CWL document is not self-contained (${external})`);
  const dir = options.scratchDir ?? path.join(os.tmpdir(), "archipel-orchestrator");
  // One file per load: runs load the same service concurrently, and one cleanup must not remove another's file.
  const file = path.join(dir, `${randomUUID()}.cwl`);
  await mkdir(dir, { recursive: true });
  await writeFile(file, JSON.stringify(doc));
  try {
    return { process: await loadProcess(file), image: resource.status?.service?.image ?? "" };
  } catch (err) {
    throw new Error((err as Error).message.replaceAll(file, "document"), { cause: err });
  } finally {
    forgetDocument(file);
    await rm(file, { force: true });
  }
}
