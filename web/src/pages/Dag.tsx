// A pipeline's steps as a DAG: one column per dependency level, each step with its state and
// cluster. Used by a run's page (live) and by the composer (preview).
import { stepLevels, upstreamOf } from "../logic.ts";

export interface Step {
  name: string;
  serviceRef: { name: string; namespace?: string; peer?: string };
  in?: Record<string, string>;
}

export interface StepStatus {
  name: string;
  phase: string;
  cluster?: string;
  peer?: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

function serviceText(ref: Step["serviceRef"]): string {
  return ref.peer ? `${ref.name} on ${ref.peer}` : ref.name;
}

function DagNode({ step, status, ups }: { step: Step; status: StepStatus | undefined; ups: string[] }): React.JSX.Element {
  const phase = status?.phase ?? "Pending";
  return (
    <div role="listitem" className={`dag-node phase-${phase.toLowerCase()}`} data-step={step.name}>
      <strong>{step.name || "(unnamed)"}</strong>
      <span>{phase}</span>
      <small>service {serviceText(step.serviceRef)}</small>
      <small>cluster {status?.cluster ?? "—"}</small>
      {ups.length ? <small>after {ups.join(", ")}</small> : null}
    </div>
  );
}

export function Dag({ steps, statuses }: { steps: Step[]; statuses: StepStatus[] }): React.JSX.Element {
  const levels = stepLevels(steps);
  const names = new Set(levels.keys());
  const status = new Map(statuses.map((s) => [s.name, s]));
  const columns: Step[][] = [];
  for (const s of steps) (columns[levels.get(s.name) ?? 0] ??= []).push(s);
  return (
    <div className="dag" role="list" aria-label="Steps by dependency level">
      {columns.map((col, i) => (
        <div className="dag-col" key={i}>
          {col.map((s, j) => (
            <DagNode key={`${s.name}-${j}`} step={s} status={status.get(s.name)} ups={upstreamOf(s, names)} />
          ))}
        </div>
      ))}
    </div>
  );
}
