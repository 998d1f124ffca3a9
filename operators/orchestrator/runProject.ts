// The Project a run is billed to (`spec.projectRef`), as the manager's cache has it: its budget
// and what it has spent, which the run's own budget checks and its peer's part both read.
import type { ReconcileContext } from "../runtime/index.ts";
import { kindRefOf } from "../schema/kind.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { type Project, projectKind } from "../schema/project.ts";

export const projectKindRef = kindRefOf(projectKind);

/** The run's Project, or undefined when it names none or the named one does not exist. */
export function runProject(ctx: ReconcileContext, run: PipelineRun): Project | undefined {
  const name = run.spec.projectRef?.name;
  return name ? ctx.cache<Project>(projectKindRef).get({ namespace: "", name }) : undefined;
}
