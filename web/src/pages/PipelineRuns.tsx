// PipelineRuns: the list (generic), and one run followed live — its steps laid out as a DAG by
// dependency level, each with its state and cluster; outputs, quote and cost.
import { useQuery } from "@tanstack/react-query";
import { api, item, type KubeObject, readyOf } from "../api.ts";
import { Dag } from "./Dag.tsx";
import { type PeerPartShape, peerPartText } from "../logic.ts";
import { href } from "../router.ts";
import { Conditions, Empty, Events, QueryState, ReadyBadge, Section } from "../ui.tsx";

import type { Step, StepStatus } from "./Dag.tsx";
type Money = { amount: string; currency: string };
/** A run's output: a File or Directory by its location (a Directory's ends in "/"), or a value as JSON. */
type RunOutput = { name: string; location?: string; value?: string; class?: "File" | "Directory" };

type PipelineRun = KubeObject<
  { description?: string; steps: Step[] },
  { phase?: string; progress?: string; steps?: StepStatus[]; outputs?: RunOutput[]; quote?: Money; cost?: Money; startedAt?: string; finishedAt?: string; peerRuns?: PeerPartShape[] }
>;

const terminal = new Set(["Succeeded", "Failed", "Error"]);

const moneyText = (m: Money | undefined, otherwise: string): string => (m ? `${m.amount} ${m.currency}` : otherwise);
const timeText = (t: string | undefined): string => (t ? new Date(t).toLocaleTimeString() : "");

function StepRow({ step, status, namespace }: { step: Step; status: StepStatus | undefined; namespace: string }): React.JSX.Element {
  const st: Partial<StepStatus> = status ?? {};
  return (
    <tr>
      <td>{step.name}</td>
      <td>
        <a href={href("resources", step.serviceRef.namespace ?? namespace, step.serviceRef.name)}>{step.serviceRef.name}</a>
      </td>
      <td>{st.phase ?? "Pending"}</td>
      <td>{st.cluster ?? ""}</td>
      <td>{timeText(st.startedAt)}</td>
      <td>{timeText(st.finishedAt)}</td>
      <td className="wrap">{st.message ?? ""}</td>
    </tr>
  );
}

function Steps({ run, namespace }: { run: PipelineRun; namespace: string }): React.JSX.Element {
  const statuses = run.status?.steps ?? [];
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Step</th>
          <th>Service</th>
          <th>Phase</th>
          <th>Cluster</th>
          <th>Started</th>
          <th>Finished</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {run.spec.steps.map((step) => (
          <StepRow key={step.name} step={step} status={statuses.find((x) => x.name === step.name)} namespace={namespace} />
        ))}
      </tbody>
    </table>
  );
}

function Outputs({ outputs }: { outputs: RunOutput[] }): React.JSX.Element {
  if (outputs.length === 0) return <Empty>No outputs yet.</Empty>;
  return (
    <dl className="facts">
      {outputs.map((o) => (
        <div className="pair" key={o.name}>
          <dt>{o.name}</dt>
          <dd>
            <code>{o.location ?? o.value}</code>
            {o.class === "Directory" ? " (a Directory: the objects under this prefix)" : ""}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Where the run's steps on peers are: each peer's hold and its run of them (all hold or none, one failing stops the others). */
function PeerParts({ parts }: { parts: PeerPartShape[] }): React.JSX.Element {
  if (parts.length === 0) return <Empty>No step of this run is placed on a peer: nothing is held there.</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Cluster</th>
          <th>Hold (Reservation there)</th>
          <th>Its run of the steps</th>
          <th>Quote</th>
        </tr>
      </thead>
      <tbody>
        {parts.map((p) => {
          const text = peerPartText(p);
          return (
            <tr key={p.peer}>
              <td>{text.where}</td>
              <td>{text.hold}</td>
              <td>{text.run}</td>
              <td>{text.quote}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function RunFacts({ run }: { run: PipelineRun }): React.JSX.Element {
  const s = run.status ?? {};
  return (
    <dl className="facts">
      <dt>Phase</dt>
      <dd>{s.phase ?? "not started"}</dd>
      <dt>Steps done</dt>
      <dd>{s.progress ?? `0/${run.spec.steps.length}`}</dd>
      <dt>Quote</dt>
      <dd>{moneyText(s.quote, "no quote (no Price applies, or the billing controller does not run here)")}</dd>
      <dt>Cost</dt>
      <dd>{moneyText(s.cost, "not metered yet")}</dd>
    </dl>
  );
}

export function PipelineRunDetailPage({ namespace, name }: { namespace: string; name: string }): React.JSX.Element {
  const run = useQuery({
    queryKey: ["pipelineruns", namespace, name],
    queryFn: () => api<PipelineRun>(item("pipelineruns", name, namespace)),
    // Followed every 2 s while it runs; not at all once it has finished.
    refetchInterval: (q) => (terminal.has(q.state.data?.status?.phase ?? "") ? false : 2_000),
  });
  if (!run.data) return <QueryState query={run} what={`PipelineRun ${name}`} />;
  const r = run.data;
  return (
    <>
      <h1>
        Run {name} <ReadyBadge condition={readyOf(r)} />
      </h1>
      {r.spec.description ? <p>{r.spec.description}</p> : null}
      <RunFacts run={r} />
      <Section title="Steps">
        <Dag steps={r.spec.steps} statuses={r.status?.steps ?? []} />
        <Steps run={r} namespace={namespace} />
      </Section>
      <Section title="Outputs">
        <Outputs outputs={r.status?.outputs ?? []} />
      </Section>
      <Section title="On peers">
        <PeerParts parts={r.status?.peerRuns ?? []} />
      </Section>
      <Section title="Conditions">
        <Conditions conditions={r.status?.conditions} />
      </Section>
      <Section title="Events">
        <Events namespace={namespace} kind="PipelineRun" name={name} />
      </Section>
    </>
  );
}
