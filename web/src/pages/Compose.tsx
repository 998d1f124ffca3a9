// Compose a pipeline from service Resources: steps (a service each) wired by their inputs
// (`<step>/<output>` or a pipeline input), a live DAG preview, literal inputs as a CWL job,
// then submit: the run's page shows its quote and follows it.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type CatalogItem, collection, item, type KubeObject } from "../api.ts";
import { parseWiring } from "../logic.ts";
import { navigate } from "../router.ts";
import { Empty, ErrorPanel, errorFor, Field, QueryState, Section } from "../ui.tsx";
import { Dag, type Step } from "./Dag.tsx";

interface StepDraft {
  name: string;
  service: string; // namespace/name
  wiring: string; // one `input=source` a line
}

type CwlPorts = Record<string, unknown> | unknown[] | undefined;
type ServiceResource = KubeObject<{ service?: { cwl?: { document?: { inputs?: CwlPorts; outputs?: CwlPorts } } } }>;

function portNames(ports: CwlPorts): string[] {
  if (Array.isArray(ports)) return ports.map((p) => String((p as { id?: string }).id ?? "").replace(/^#/, "")).filter(Boolean);
  return Object.keys(ports ?? {});
}

/** The chosen service's CWL inputs and outputs, so wiring can be written without guessing. */
function ServicePorts({ service }: { service: string }): React.JSX.Element | null {
  const [ns, name] = service.split("/");
  const resource = useQuery({ queryKey: ["resource", ns, name], queryFn: () => api<ServiceResource>(item("resources", name ?? "", ns)), enabled: !!ns && !!name, staleTime: 60_000 });
  const doc = resource.data?.spec.service?.cwl?.document;
  if (!doc) return null;
  return (
    <small className="hint">
      inputs: {portNames(doc.inputs).join(", ") || "none"} · outputs: {portNames(doc.outputs).join(", ") || "none"}
    </small>
  );
}

function toStep(d: StepDraft): Step {
  const [namespace, name] = d.service.split("/");
  const wiring = parseWiring(d.wiring);
  return { name: d.name, serviceRef: { name: name ?? "", ...(namespace ? { namespace } : {}) }, ...(Object.keys(wiring).length ? { in: wiring } : {}) };
}

interface StepEditorProps {
  index: number;
  draft: StepDraft;
  services: CatalogItem[];
  error: unknown;
  onChange: (d: StepDraft) => void;
  onRemove: () => void;
}

function StepEditor({ index, draft, services, error, onChange, onRemove }: StepEditorProps): React.JSX.Element {
  const id = `step-${index}`;
  return (
    <fieldset className="step">
      <legend>Step {index + 1}</legend>
      <Field id={`${id}-name`} label="Step name" error={errorFor(error, `spec.steps[${index}].name`)}>
        <input id={`${id}-name`} value={draft.name} onChange={(e) => onChange({ ...draft, name: e.target.value })} />
      </Field>
      <Field id={`${id}-service`} label="Service" error={errorFor(error, `spec.steps[${index}].serviceRef`)}>
        <select id={`${id}-service`} value={draft.service} onChange={(e) => onChange({ ...draft, service: e.target.value })}>
          <option value="">choose a service…</option>
          {services.map((s) => (
            <option key={`${s.namespace}/${s.name}`} value={`${s.namespace}/${s.name}`}>
              {s.title} ({s.namespace}/{s.name})
            </option>
          ))}
        </select>
        {draft.service ? <ServicePorts service={draft.service} /> : null}
      </Field>
      <Field id={`${id}-in`} label="Inputs (one input=source a line)" hint="source: a pipeline input, or <step>/<output>" error={errorFor(error, `spec.steps[${index}].in`)}>
        <textarea id={`${id}-in`} className="code" rows={2} value={draft.wiring} onChange={(e) => onChange({ ...draft, wiring: e.target.value })} spellCheck={false} />
      </Field>
      <button type="button" className="secondary" onClick={onRemove} aria-label={`Remove step ${index + 1}`}>
        Remove step
      </button>
    </fieldset>
  );
}

function parseJob(text: string): Record<string, unknown> | undefined {
  if (text.trim() === "") return undefined;
  return JSON.parse(text) as Record<string, unknown>;
}

export function ComposePage({ namespace }: { namespace: string }): React.JSX.Element {
  const services = useQuery({ queryKey: ["catalog", "services"], queryFn: () => api<{ items: CatalogItem[] }>("/api/v1/catalog?type=service&limit=500") });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [job, setJob] = useState("");
  const [steps, setSteps] = useState<StepDraft[]>([{ name: "", service: "", wiring: "" }]);
  const [jobError, setJobError] = useState<string>();
  const submit = useMutation({
    mutationFn: (spec: Record<string, unknown>) => api<KubeObject>(collection("pipelineruns", namespace), { method: "POST", body: { metadata: { name }, spec } }),
    onSuccess: (run) => navigate(`/admin/pipelineruns/${encodeURIComponent(namespace)}/${encodeURIComponent(run.metadata.name)}`),
  });
  const setStep = (i: number, d: StepDraft): void => setSteps(steps.map((s, j) => (j === i ? d : s)));
  const onSubmit = (): void => {
    let parsedJob: Record<string, unknown> | undefined;
    try {
      parsedJob = parseJob(job);
      setJobError(undefined);
    } catch (err) {
      setJobError(`not JSON: ${(err as Error).message}`);
      return;
    }
    submit.mutate({ ...(description ? { description } : {}), steps: steps.map(toStep), ...(parsedJob ? { job: parsedJob } : {}) });
  };
  if (!services.data) return <QueryState query={services} what="Service Resources" />;
  return (
    <>
      <h1>Compose a pipeline in {namespace}</h1>
      {services.data.items.length === 0 ? <Empty>No service Resource is visible to you: a pipeline's steps are services published in the catalog.</Empty> : null}
      <form
        className="form compose"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        <Field id="run-name" label="Run name" error={errorFor(submit.error, "metadata.name")}>
          <input id="run-name" value={name} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <Field id="run-description" label="Description" error={errorFor(submit.error, "spec.description")}>
          <input id="run-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        {steps.map((d, i) => (
          <StepEditor key={i} index={i} draft={d} services={services.data.items} error={submit.error} onChange={(x) => setStep(i, x)} onRemove={() => setSteps(steps.filter((_, j) => j !== i))} />
        ))}
        <button type="button" className="secondary" onClick={() => setSteps([...steps, { name: "", service: "", wiring: "" }])}>
          Add step
        </button>
        <Field id="run-job" label="Literal inputs (CWL job, JSON)" error={jobError ?? errorFor(submit.error, "spec.job")}>
          <textarea id="run-job" className="code" rows={3} value={job} onChange={(e) => setJob(e.target.value)} placeholder='{"message": "hello"}' spellCheck={false} />
        </Field>
        <Section title="Preview">
          <Dag steps={steps.map(toStep)} statuses={[]} />
        </Section>
        <button type="submit" disabled={submit.isPending}>
          Submit run
        </button>
        {submit.isError ? <ErrorPanel error={submit.error} title="The run was not created" /> : null}
      </form>
    </>
  );
}
