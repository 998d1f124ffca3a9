// Checks that the schema does not express: references between workflow parts.
import type { Process, Step } from "./model.ts";
import { InvalidDocument } from "./normalize.ts";

/** Resolves a workflow source (`x`, `#x`, `step/out`, `#main/step/out`) to input or step output. */
export function parseSource(source: string, workflow: Process): { step?: string; name: string } | undefined {
  const parts = source.replace(/^.*#/, "").split("/");
  const name = parts[parts.length - 1] ?? "";
  const stepName = parts[parts.length - 2];
  if (stepName !== undefined) {
    const step = workflow.steps.find((s) => s.id === stepName);
    if (step !== undefined && step.out.includes(name)) return { step: step.id, name };
  }
  if (workflow.inputs.some((i) => i.id === name) && (parts.length === 1 || !workflow.steps.some((s) => s.id === stepName))) return { name };
  return undefined;
}

const resourceFields = ["coresMin", "coresMax", "ramMin", "ramMax", "tmpdirMin", "tmpdirMax", "outdirMin", "outdirMax"];

/** Features that a document may use only from the CWL version that introduced them. */
function validateVersion(process: Process): void {
  if (process.cwlVersion !== "v1.0" && process.cwlVersion !== "v1.1") return;
  for (const requirement of [...process.requirements, ...process.hints]) {
    if (requirement.class !== "ResourceRequirement") continue;
    for (const field of resourceFields) {
      const value = requirement[field];
      if (typeof value === "number" && !Number.isInteger(value)) {
        throw new InvalidDocument(`ResourceRequirement.${field}: ${value} is not an integer; fractional values need cwlVersion v1.2`);
      }
    }
  }
  for (const step of process.steps) {
    if (step.when !== undefined) throw new InvalidDocument(`step ${step.id}: when needs cwlVersion v1.2 (the document says ${process.cwlVersion})`);
  }
}

export function validateProcess(process: Process): void {
  validateVersion(process);
  if (process.class !== "Workflow") return;
  for (const step of process.steps) validateStep(step, process);
  for (const output of process.outputs) {
    for (const source of output.outputSource ?? []) {
      if (parseSource(source, process) === undefined) {
        throw new InvalidDocument(`workflow output ${output.id}: outputSource ${JSON.stringify(source)} names no workflow input or step output`);
      }
    }
  }
}

function validateStep(step: Step, workflow: Process): void {
  for (const input of step.in) {
    for (const source of input.source) {
      if (parseSource(source, workflow) === undefined) {
        throw new InvalidDocument(`step ${step.id} input ${input.id}: source ${JSON.stringify(source)} names no workflow input or step output`);
      }
    }
  }
  for (const name of step.scatter) {
    if (!step.in.some((i) => i.id === name)) throw new InvalidDocument(`step ${step.id}: scatter ${JSON.stringify(name)} is not one of its inputs`);
  }
  for (const out of step.out) {
    if (!step.run.outputs.some((o) => o.id === out)) throw new InvalidDocument(`step ${step.id}: out ${JSON.stringify(out)} is not an output of its run process`);
  }
  validateProcess(step.run);
}
